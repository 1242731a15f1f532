"""EMPG: entropy-modulated policy gradients (arXiv 2509.09265), a comparison point.

``signals.entropy[i][t]`` = H_t, the policy's mean token entropy over turn t's sampled tokens.

1. H is min-max normalized over all turns of the group (the paper says the batch; ``assign``
   sees one group, so the group is the batch here): Ĥ = (H − min) / (max − min), 0 when all equal.
2. Self-calibrating gradient scaling: g(Ĥ_t) = e^{−k Ĥ_t} / mean(e^{−k Ĥ}) over the same turns,
   so confident turns get larger updates and uncertain ones smaller, with mean scale 1.
3. Future clarity bonus: ζ·e^{−k_f Ĥ_{t+1}} for a turn followed by a confident one
   (0 after the last turn).
4. A'_t = g(Ĥ_t)·A_i + ζ·e^{−k_f Ĥ_{t+1}}, with A_i the GRPO episode advantage
   (R_i − mean) / (unbiased std + 1e-6).  k = k_f = 1, ζ = 0.1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from trainers.credit._stats import EPS, check_group, returns, group_zscore
from trainers.credit.base import Signals, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


@register_credit
class EMPG:
    name: ClassVar[str] = "empg"
    needs: ClassVar[frozenset[str]] = frozenset({"entropy"})

    def __init__(self, k: float = 1.0, k_future: float = 1.0, zeta: float = 0.1, eps: float = EPS):
        self.k, self.k_future, self.zeta, self.eps = k, k_future, zeta, eps

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        check_group(group)
        entropy = (signals or Signals()).require("entropy", len(group))
        for h, traj in zip(entropy, group):
            if len(h) != len(traj.turns):
                raise ValueError(f"entropy has {len(h)} values for a trajectory of {len(traj.turns)} turns")
        flat = [float(v) for row in entropy for v in row]
        lo, hi = min(flat), max(flat)
        span = hi - lo
        norm = [[(float(v) - lo) / span if span > 0 else 0.0 for v in row] for row in entropy]
        weights = [math.exp(-self.k * v) for row in norm for v in row]
        mean_w = sum(weights) / len(weights)
        episode = group_zscore(returns(group), self.eps)
        out = []
        for a_i, row in zip(episode, norm):
            adv = []
            for t, h in enumerate(row):
                scale = math.exp(-self.k * h) / mean_w
                bonus = self.zeta * math.exp(-self.k_future * row[t + 1]) if t + 1 < len(row) else 0.0
                adv.append(scale * a_i + bonus)
            out.append(adv)
        return out
