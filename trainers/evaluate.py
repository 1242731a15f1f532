"""Evaluation inside a training run: :func:`agents.evaluation.evaluate` (what ``turngym eval`` runs)
played through the trainer's reproducible lockstep rollout (:func:`trainers.lockstep.lockstep_rollout`),
so an evaluation of the same weights gives the same trajectories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.evaluation import evaluate as evaluate_policy
from agents.policy import SamplingParams
from trainers.lockstep import lockstep_rollout


def evaluate(policy: Any, env_id: str, split: str, n: int | None = None, *, sampling: SamplingParams | None = None,
             seed: int = 0, env_kwargs: dict[str, Any] | None = None, out: str | Path | None = None) -> dict[str, Any]:
    def play(make_env, episodes, sampling_, on_done):
        return lockstep_rollout(make_env, policy, episodes, sampling_, env_id=env_id, on_done=on_done)

    return evaluate_policy(policy, env_id, split, n, sampling=sampling, seed=seed, env_kwargs=env_kwargs, out=out, play=play)
