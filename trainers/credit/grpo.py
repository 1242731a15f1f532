"""GRPO outcome credit: A_i = (R_i - mean_G R) / (std_G R + eps), the same on every turn of i.

std is the unbiased sample std (n - 1, as verl's ``torch.std``); eps = 1e-6.  A group of one or
a group whose rewards are all equal gets A = 0 everywhere (std 0 and R_i - mean 0).
R_i is the trajectory's total reward (the task score, paid on the last step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trainers.credit._stats import group_zscore, returns
from trainers.credit.base import Signals, broadcast, register_credit


@register_credit
class GRPO:
    name: ClassVar[str] = "grpo"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, eps: float = 1e-6):
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def assign(self, group: Sequence, signals: Signals | None = None) -> list[list[float]]:
        return broadcast(group_zscore(returns(group), self.eps), group)
