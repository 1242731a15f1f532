"""Shared helpers of the outcome-only credit methods (not a method itself: not registered)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


def returns(group: Sequence[Trajectory]) -> list[float]:
    """R_i: the sum of trajectory i's step rewards (turngym envs pay the task score on the last step)."""
    return [float(t.total_reward) for t in group]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def unbiased_std(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0.0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
