"""Small numeric helpers the credit methods share (private: not a registered method).

All statistics here pool values over *every turn of every sample* of a group, never per turn
index: samples of one task end after different numbers of turns, and normalizing turn ``t``
only against other samples' turn ``t`` would compare a first search with a final answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.trajectory import Trajectory

EPS = 1e-6


def returns(group: Sequence[Trajectory]) -> list[float]:
    """R_i, the sum of the episode's step rewards (turngym envs pay the task score on the last step, so
    R_i is the outcome plus any shaping an env adds, as in verl-agent's episode reward).

    The one return every episode-level statistic uses: GRPO/Dr.GRPO/RLOO advantages, the episode
    z-score of GiGPO and EMPG, and the loop's dynamic-sampling filter and reward metric.  (IGPO's
    last turn and OTC's correctness factor are the task score itself, as their papers define them.)"""
    return [float(t.total_reward) for t in group]


def check_group(group: Sequence[Trajectory]) -> None:
    """Refuse infrastructure failures and empty episodes: the caller must drop them first."""
    for i, traj in enumerate(group):
        if traj.failed:
            raise ValueError(f"group[{i}] ({traj.task_id}, sample {traj.sample}) failed; drop failed episodes before credit "
                             "(trainers.signals.drop_failed)")
        if not traj.turns:
            raise ValueError(f"group[{i}] ({traj.task_id}, sample {traj.sample}) has no turns")


def mean_std(values: Sequence[float], unbiased: bool) -> tuple[float, float]:
    """Mean and standard deviation; std is 1.0 when there are too few values to have one."""
    n = len(values)
    if n == 0:
        return 0.0, 1.0
    mean = sum(values) / n
    if n - int(unbiased) <= 0:
        return mean, 1.0
    var = sum((v - mean) ** 2 for v in values) / (n - int(unbiased))
    return mean, math.sqrt(var)


def zscore_pooled(rows: Sequence[Sequence[float]], unbiased: bool = False, eps: float = EPS) -> list[list[float]]:
    """(x − mean) / (std + eps) with mean and std over all values of all rows together."""
    flat = [v for row in rows for v in row]
    mean, std = mean_std(flat, unbiased)
    if len(flat) <= 1:
        std = 1.0
    return [[(v - mean) / (std + eps) for v in row] for row in rows]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def group_zscore(values: Sequence[float], eps: float = EPS) -> list[float]:
    """GRPO's episode advantage: (R_i − mean) / (unbiased std + eps); 0 for a group of one."""
    if len(values) <= 1:
        return [0.0] * len(values)
    mean, std = mean_std(values, unbiased=True)
    return [(v - mean) / (std + eps) for v in values]


def discounted_returns(rewards: Sequence[float], gamma: float) -> list[float]:
    """G_t = r_t + γ G_{t+1}, G_T = r_T."""
    out = [0.0] * len(rewards)
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out
