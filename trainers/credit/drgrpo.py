"""Dr.GRPO outcome credit: A_i = R_i - mean_G R (no std division), the same on every turn of i.

The other half of Dr.GRPO is the loss: sum over tokens divided by a fixed constant
(``loss.agg: seq-mean-token-sum`` with ``loss.agg_constant``), no length normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from trainers.credit._stats import mean, returns
from trainers.credit.base import Signals, broadcast, register_credit


@register_credit
class DrGRPO:
    name: ClassVar[str] = "drgrpo"
    needs: ClassVar[frozenset[str]] = frozenset()

    def assign(self, group: Sequence, signals: Signals | None = None) -> list[list[float]]:
        rewards = returns(group)
        m = mean(rewards)
        return broadcast([r - m for r in rewards], group)
