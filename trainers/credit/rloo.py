"""RLOO outcome credit: A_i = R_i - mean_{j != i} R_j (leave-one-out baseline), on every turn of i.

Equivalently G/(G-1) · (R_i - mean_G R).  A group of one has no baseline: A = 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trainers.credit._stats import returns
from trainers.credit.base import Signals, broadcast, register_credit


@register_credit
class RLOO:
    name: ClassVar[str] = "rloo"
    needs: ClassVar[frozenset[str]] = frozenset()

    def assign(self, group: Sequence, signals: Signals | None = None) -> list[list[float]]:
        rewards = returns(group)
        n, total = len(rewards), sum(rewards)
        if n < 2:
            return broadcast([0.0] * n, group)
        return broadcast([r - (total - r) / (n - 1) for r in rewards], group)
