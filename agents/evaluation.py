"""Evaluation: choose episodes for a split, roll them out, summarize.

Metrics: success rate, mean reward (final outcome), mean turns, mean tool calls, the
invalid-action rate (invalid actions / all actions), failed episodes, and pass@k with the
unbiased estimator ``1 - C(n - c, k) / C(n, k)`` averaged over tasks, when there are several
samples per task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from math import comb

from pydantic import BaseModel

from agents.rollout import Episode
from agents.trajectory import Trajectory
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
    success_rate: float
    mean_reward: float
    mean_turns: float
    mean_tool_calls: float
    invalid_action_rate: float
    pass_at_k: dict[int, float] = {}


def summarize(trajs: Sequence[Trajectory]) -> Summary:
    ok = [t for t in trajs if not t.failed]
    actions = sum(len(t.turns) for t in ok)
    by_task: dict[str, list[bool]] = defaultdict(list)
    for t in ok:
        by_task[t.task_id].append(t.success)
    n_min = min((len(v) for v in by_task.values()), default=0)
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 100) if k <= n_min] if n_min > 1 else []
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return Summary(
        episodes=len(trajs),
        tasks=len({t.task_id for t in trajs}),
        failed=len(trajs) - len(ok),
        success_rate=mean([float(t.success) for t in ok]),
        mean_reward=mean([t.outcome for t in ok]),
        mean_turns=mean([len(t.turns) for t in ok]),
        mean_tool_calls=mean([t.tool_calls for t in ok]),
        invalid_action_rate=(sum(t.invalid_actions for t in ok) / actions) if actions else 0.0,
        pass_at_k={k: mean([pass_at_k(len(v), sum(v), k) for v in by_task.values()]) for k in ks},
    )
