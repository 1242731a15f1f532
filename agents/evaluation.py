"""Evaluation: choose episodes for a split, roll them out, summarize.

Metrics: success rate, mean reward (final outcome), mean turns, mean tool calls, the
invalid-action rate (invalid actions / all actions), failed episodes, and pass@k with the
unbiased estimator ``1 - C(n - c, k) / C(n, k)`` averaged over tasks, when there are several
samples per task.

Failed episodes (an infrastructure fault: the policy was not sampled to the end) are never
dropped silently. By default they count as score 0 in the headline numbers (success rate, mean
reward, pass@k): a policy that gets its episodes failed cannot raise its score that way.
``exclude_failed=True`` leaves them out of those numbers instead; ``Summary.failed_counted_as``
says which was done and ``failed`` how many there were. Turns, tool calls and invalid actions
describe behaviour, so they are always over the episodes that did not fail.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from math import comb
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from agents.policy import SamplingParams
from agents.rollout import Episode, RolloutConfig, rollout
from agents.trajectory import Trajectory, write_jsonl
from envs.tasks import TaskSet


def choose_episodes(tasks: TaskSet, split: str, n: int | None, samples: int = 1, seed: int = 0) -> list[Episode]:
    """The first ``n`` tasks of ``split`` (all if None), ``samples`` episodes each."""
    if (n is not None and n < 0) or samples < 1:
        raise ValueError(f"need n >= 0 (or None) and samples >= 1, got n={n}, samples={samples}")
    ids = list(tasks.ids(split))
    ids = ids if n is None else ids[:n]
    return [Episode(task_id=t, seed=seed + i, sample=s) for i, t in enumerate(ids) for s in range(samples)]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


class Summary(BaseModel):
    episodes: int
    tasks: int
    failed: int
    failed_counted_as: Literal["zero", "excluded"] = "zero"  # how success_rate, mean_reward, pass@k treat them
    success_rate: float
    mean_reward: float
    mean_turns: float
    mean_tool_calls: float
    invalid_action_rate: float
    pass_at_k: dict[int, float] = {}
    env_metrics: dict[str, float] = {}  # the family's own (ToolEnv.episode_metrics), over episodes that did not fail


def env_metrics(env_id: str, trajs: Sequence[Trajectory]) -> dict[str, float]:
    """The env class's :meth:`envs.core.ToolEnv.episode_metrics` over the episodes that did not fail."""
    from envs.registry import entry, resolve

    metrics = getattr(resolve(entry(env_id).entry_point), "episode_metrics", None)
    infos = [[turn.info for turn in t.turns] for t in trajs if not t.failed]
    values = metrics(infos) if callable(metrics) and infos else {}
    return {k: float(v) for k, v in values.items() if v == v}  # NaN (undefined here, e.g. no junction reached): left out


def summarize(trajs: Sequence[Trajectory], exclude_failed: bool = False) -> Summary:
    ok = [t for t in trajs if not t.failed]
    scored = ok if exclude_failed else list(trajs)  # a failed episode scores 0 when kept
    actions = sum(len(t.turns) for t in ok)
    by_task: dict[str, list[bool]] = defaultdict(list)
    for t in scored:
        by_task[t.task_id].append(t.success and not t.failed)
    n_min = min((len(v) for v in by_task.values()), default=0)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 100) if k <= n_min] if n_min > 1 else []
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return Summary(
        episodes=len(trajs),
        tasks=len({t.task_id for t in trajs}),
        failed=len(trajs) - len(ok),
        failed_counted_as="excluded" if exclude_failed else "zero",
        success_rate=mean([0.0 if t.failed else float(t.success) for t in scored]),
        mean_reward=mean([0.0 if t.failed else t.outcome for t in scored]),
        mean_turns=mean([len(t.turns) for t in ok]),
        mean_tool_calls=mean([t.tool_calls for t in ok]),
        invalid_action_rate=(sum(t.invalid_actions for t in ok) / actions) if actions else 0.0,
        pass_at_k={k: mean([pass_at_k(len(v), sum(v), k) for v in by_task.values()]) for k in ks},
    )


# (make_env, episodes, sampling, on_done) -> trajectories in the order of episodes
Player = Callable[[Callable[[], Any], list[Episode], SamplingParams, Callable[[Trajectory], None] | None], list[Trajectory]]


def evaluate(policy: Any, env_id: str, split: str, n: int | None = None, *, samples: int = 1,
             sampling: SamplingParams | None = None, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
             concurrency: int = 32, exclude_failed: bool = False, out: str | Path | None = None,
             on_done: Callable[[Trajectory], None] | None = None, play: Player | None = None) -> dict[str, Any]:
    """Play the first ``n`` tasks of ``split`` (``samples`` each, greedy unless ``sampling`` says otherwise)
    and summarize them; the one implementation behind ``turngym eval`` and a training run's evaluations.

    Returns ``{"env", "split", "policy", **Summary}``; given ``out``, writes it as ``results.json``
    beside ``trajectories.jsonl``.  ``play`` replaces the async rollout (a trainer passes its
    reproducible lockstep rollout).  Raises ``ValueError`` when the split has no tasks and
    ``KeyError`` for an unknown env."""
    from envs import make
    from envs.registry import env_id as full_id
    from envs.registry import task_set

    env_id = full_id(env_id)
    kwargs = {**(env_kwargs or {}), "split": split}
    tasks = task_set(env_id, **kwargs)
    episodes = choose_episodes(tasks, split, n, samples=samples, seed=seed)
    if not episodes:
        raise ValueError(f"split {split!r} of {env_id} has no tasks")
    sampling = sampling or SamplingParams(temperature=0.0)

    def make_env():
        return make(env_id, tasks=tasks, **kwargs)

    if play is None:
        config = RolloutConfig(concurrency=concurrency, sampling=sampling)
        trajs = asyncio.run(rollout(make_env, policy, episodes, config, env_id=env_id, on_done=on_done))
    else:
        trajs = play(make_env, episodes, sampling, on_done)
    summary = summarize(trajs, exclude_failed=exclude_failed)
    summary.env_metrics = env_metrics(env_id, trajs)
    results = {"env": env_id, "split": split, "policy": policy.name, **summary.model_dump()}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "trajectories.jsonl", trajs)
        (out / "results.json").write_text(json.dumps(results, indent=2))
    return results
