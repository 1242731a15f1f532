"""Supervised warm start: cross-entropy on the assistant tokens of chosen trajectories.

A model that cannot yet make a valid tool call gets no RL signal, so a run starts here.  Data:

* ``"oracle"``, or ``"baseline:NAME"`` (or just ``"NAME"``): the env's registered oracle, or its
  registered baseline player NAME (e.g. Lookup-v0's ``hasty``; ``teacher_kwargs`` go to its
  constructor, e.g. ``{guess_rate: 0.65}``), played on the train split (text
  actions), then put through the *training model's* chat template by :func:`tokenize_trajectory`:
  each action is encoded and closed with the stop token, each observation appended as the template
  renders it (:class:`agents.tokens.TokenConversation`), exactly as a rollout of that model would
  lay it out;
* a trajectories JSONL (e.g. a model's own successful samples: rejection-sampling fine-tuning);
  text-only ones are tokenized the same way, token-level ones are used as sampled.

``successful_only`` (None: the source's default, :func:`keeps_failures`): a scripted teacher is
imitated as it plays, failures included (a weak teacher's failed episodes are part of its
behaviour: the hasty warm start must learn its guessing habit for RL to have something to
remove), while a JSONL of sampled trajectories keeps only successes (rejection sampling).

Two checks guard a run on a new env: :func:`check_turns_fit` refuses SFT data whose turns are longer
than ``sampling.max_tokens`` (rollouts would cut every such call, and RL would start from truncated
actions), and :func:`cannot_copy_warning` names the usual cause when SFT fits the teacher's tokens
but the model then solves no held-out task.

Loss: mean over all assistant tokens of the batch of -log p(token | prefix) (mask = the
trajectory's loss mask, so prompt and observation tokens never count).  Batches are drawn with
a seeded generator per step (:func:`agents.seeds.sft_seed`), so a run is
reproducible and resumable from its step number.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from agents.rollout import Episode, RolloutConfig, rollout
from agents.seeds import sft_seed
from agents.tokens import ChatRenderer, TokenConversation
from agents.trajectory import Trajectory, read_jsonl
from trainers.config import scripted_source


def keeps_failures(source: str) -> bool:
    """The default of ``successful_only`` is ``not keeps_failures(source)``: scripted teachers keep their failures."""
    return scripted_source(source) is not None


def scripted_trajectories(env_id: str, player: str = "oracle", split: str = "train", n: int | None = None, seed: int = 0,
                          env_kwargs: dict[str, Any] | None = None, player_kwargs: dict[str, Any] | None = None) -> list[Trajectory]:
    """The env's oracle (``player="oracle"``) or registered baseline ``player`` (built with ``player_kwargs``) on the
    first ``n`` tasks of ``split``."""
    from agents.scripted import OraclePolicy, ScriptedPolicy
    from envs import make
    from envs.registry import baseline, oracle_for, task_set

    env_kwargs = {"split": split, **(env_kwargs or {})}
    tasks = task_set(env_id, **env_kwargs)
    ids = list(tasks.ids(split))[:n] if n else list(tasks.ids(split))
    episodes = [Episode(task_id=t, seed=seed + i) for i, t in enumerate(ids)]
    policy = OraclePolicy(plan=oracle_for(env_id)) if player == "oracle" else ScriptedPolicy(baseline(env_id, player, **(player_kwargs or {})))
    return asyncio.run(rollout(lambda: make(env_id, tasks=tasks, **env_kwargs), policy, episodes,
                               RolloutConfig(concurrency=16), env_id=env_id))


def tokenize_trajectory(traj: Trajectory, renderer: ChatRenderer) -> Trajectory:
    """A copy of a text trajectory with the token fields a model with ``renderer`` would have produced."""
    stop = renderer.tokenizer.eos_token_id
    if stop is None:
        raise ValueError("the tokenizer has no eos token to close assistant turns with")
    conv = TokenConversation(renderer, traj.messages)
    turns = []
    for i, turn in enumerate(traj.turns):
        ids = renderer.encode(turn.action) + [int(stop)]
        conv.add_completion(ids, None, "stop")
        final = i == len(traj.turns) - 1 and (turn.terminated or turn.truncated)
        obs_ids = conv.add_observation(turn.observation, final=final)
        turns.append(turn.model_copy(update={"token_ids": ids, "logprobs": [0.0] * len(ids), "observation_ids": obs_ids,
                                             "finish_reason": "stop"}))
    return traj.model_copy(update={"prompt_ids": list(conv.prompt_ids), "turns": turns})


def oracle_trajectories(env_id: str, split: str = "train", n: int | None = None, seed: int = 0,
                        env_kwargs: dict[str, Any] | None = None) -> list[Trajectory]:
    """The env's registered oracle on the first ``n`` tasks of ``split`` (text actions)."""
    return scripted_trajectories(env_id, "oracle", split, n, seed, env_kwargs)


def sft_data(source: str, env_id: str, renderer: ChatRenderer, *, max_tasks: int | None = None,
             successful_only: bool | None = None, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
             teacher_kwargs: dict[str, Any] | None = None) -> list[Trajectory]:
    """Token-level SFT trajectories from a scripted player or a JSONL path (see the module docstring)."""
    player = scripted_source(source)
    if successful_only is None:
        successful_only = not keeps_failures(source)
    trajs = scripted_trajectories(env_id, player, "train", max_tasks, seed, env_kwargs, teacher_kwargs) if player else list(read_jsonl(source))
    keep = [t for t in trajs if not t.failed and t.turns and (t.success or not successful_only)]
    if not keep:
        raise ValueError(f"no usable SFT trajectories from {source!r} ({len(trajs)} read, none kept)")
    return [t if t.has_tokens else tokenize_trajectory(t, renderer) for t in keep]


def check_turns_fit(trajs: Sequence[Trajectory], max_tokens: int) -> int:
    """The longest assistant turn of ``trajs`` in tokens (closing stop token included); raises when it
    exceeds ``max_tokens`` (``sampling.max_tokens``), naming the field and the length that fits."""
    longest = max((len(t.token_ids or []) for traj in trajs for t in traj.turns), default=0)
    if longest > max_tokens:
        raise ValueError(f"sampling.max_tokens={max_tokens} is shorter than the SFT data's longest turn ({longest} "
                         f"tokens): rollouts would cut those calls; set sampling.max_tokens to at least {longest}")
    return longest


def cannot_copy_warning(token_accuracy: float, success_rate: float, tasks: int) -> str | None:
    """A warning when SFT fit the teacher (token accuracy >= 0.8) yet no held-out task is solved: what a
    model that cannot copy values from its context into calls does (#24)."""
    if token_accuracy < 0.8 or success_rate > 0 or tasks == 0:
        return None
    return (f"SFT fit the teacher's tokens (accuracy {token_accuracy:.2f}) but solved 0 of {tasks} held-out tasks: the "
            "model most likely cannot copy names and numbers from the prompt and tool results into its calls. "
            "Start from model=tiny-base (README: train your own env on a CPU) or a larger model.")


def sft(learner: Any, trajs: Sequence[Trajectory], *, steps: int, batch_size: int, micro_batch: int, seed: int = 0,
        start_step: int = 0, on_step: Callable[[int, dict[str, float]], None] | None = None) -> None:
    """``steps - start_step`` supervised steps of ``learner`` (its optimizer as configured by the caller)."""
    from trainers.batch import build_sft_batch

    if not trajs:
        raise ValueError("sft needs at least one trajectory")
    for step in range(start_step, steps):
        began = time.perf_counter()
        rng = random.Random(sft_seed(seed, step))
        batch = [trajs[rng.randrange(len(trajs))] for _ in range(batch_size)]
        metrics = learner.sft_step(build_sft_batch(batch, learner.pad_id, getattr(learner, "vision", None)), micro_batch)
        metrics["seconds"] = time.perf_counter() - began
        if on_step:
            on_step(step, metrics)


def run_sft(trainer: Any, console: Any = None) -> dict[str, float]:
    """The loop's warm start: data per ``config.sft``, a fresh optimizer, rows in ``RUN/sft.jsonl``;
    returns the last 10 steps' mean loss and token accuracy."""
    from agents.tokens import load_renderer
    from trainers.metrics import MetricsLog

    cfg, scfg = trainer.config, trainer.config.sft
    renderer = load_renderer(trainer.learner.model_dir)
    data = sft_data(scfg.data, cfg.env, renderer, max_tasks=scfg.max_tasks, successful_only=scfg.successful_only,
                    seed=cfg.seed, env_kwargs=trainer.env_kwargs, teacher_kwargs=scfg.teacher_kwargs)
    check_turns_fit(data, cfg.sampling.max_tokens)
    # the run's optimizer (betas, eps, weight decay, grad clip) with SFT's own lr and schedule: stated once
    optim = cfg.optim.model_copy(update={"lr": scfg.lr, "warmup_steps": scfg.warmup_steps, "schedule": scfg.schedule})
    trainer.learner.reset_optimizer(optim, total_steps=scfg.steps, updates_per_step=1)
    log = MetricsLog(trainer.run_dir, tensorboard=False, name="sft.jsonl")
    log.truncate(-1)
    if console:
        console.print(f"SFT: {len(data)} trajectories, {scfg.steps} steps")
    from trainers.step_progress import StepProgress

    recent: list[dict[str, float]] = []
    with StepProgress("SFT steps", scfg.steps, console) as bar:  # plain lines off a terminal; silent without a console

        def on_step(step: int, metrics: dict[str, float]) -> None:
            log.log(step + 1, {k: v for k, v in metrics.items() if isinstance(v, (int, float))})
            recent[:] = [*recent[-9:], metrics]
            bar.advance(info=f"loss {metrics.get('loss', 0.0):.3f}")

        try:
            sft(trainer.learner, data, steps=scfg.steps, batch_size=scfg.batch_size, micro_batch=scfg.micro_batch,
                seed=cfg.seed, on_step=on_step)
        finally:
            log.close()
    return {k: sum(m.get(k, 0.0) for m in recent) / max(1, len(recent)) for k in ("loss", "token_accuracy")}
