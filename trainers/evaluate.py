"""Evaluation inside a training run, written exactly like ``turngym eval``.

:func:`evaluate` plays the first ``n`` tasks of a split (``agents.evaluation.choose_episodes``,
one sample each, greedy unless told otherwise) with the training policy, summarizes them with
``agents.evaluation.summarize`` and, given ``out``, writes ``results.json`` (``{"env", "split",
"policy", **summary}``, the same keys as ``turngym eval``) and ``trajectories.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.evaluation import choose_episodes, summarize
from agents.policy import SamplingParams
from agents.trajectory import write_jsonl
from trainers.lockstep import lockstep_rollout


def evaluate(policy: Any, env_id: str, split: str, n: int | None = None, *, sampling: SamplingParams | None = None,
             seed: int = 0, env_kwargs: dict[str, Any] | None = None, out: str | Path | None = None) -> dict[str, Any]:
    from envs import make

    kwargs = {**(env_kwargs or {}), "split": split}
    probe = make(env_id, **kwargs)
    tasks = probe.tasks
    probe.close()
    episodes = choose_episodes(tasks, split, n, samples=1, seed=seed)
    if not episodes:
        raise ValueError(f"split {split!r} of {env_id} has no tasks")
    sampling = sampling or SamplingParams(temperature=0.0)
    trajs = lockstep_rollout(lambda: make(env_id, tasks=tasks, **kwargs), policy, episodes, sampling, env_id=env_id)
    results = {"env": env_id, "split": split, "policy": policy.name, **summarize(trajs).model_dump()}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "trajectories.jsonl", trajs)
        (out / "results.json").write_text(json.dumps(results, indent=2))
    return results
