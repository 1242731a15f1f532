"""SPA: stepwise progress attribution (SPA-RL, arXiv 2505.20732; code WangHanLinHenry/SPA-RL-Agent).

``signals.progress[i][t]`` is the progress estimator's c_t for turn t of trajectory i
(:mod:`trainers.progress`: the policy backbone plus a linear head on the hidden state at the
last token of the turn, fitted so that Σ_t c_t ≈ R_final on collected rollouts).

Grounding: g_t = 0.5 if the env accepted action t (``info["valid_action"]``), else 0, for
t < T; the final turn gets g_T = 0.5.  Step reward r_t = c_t + g_t, plus, optionally,
``outcome_weight · R`` on the final turn (0 by default, as in the paper).

The paper trains with PPO and GAE; in this group-relative trainer the step rewards are
normalized like IGPO's turn rewards: z-score over all turns of all samples of the group
(population std, std := 1 for at most one value, eps 1e-6), never per turn index, then the
discounted sum A_t = r̂_t + γ A_{t+1} (γ = 1 by default).

Not copied from the official code: its WebShop data preparation overwrote c_t with a
leave-one-out baseline, and its reward weighting gave step k the weight (n − k − 1), so the last
step got none; here every step's c_t counts with weight 1 (see also the estimator's loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from trainers.credit._stats import EPS, check_group, discounted_returns, zscore_pooled
from trainers.credit.base import Signals, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory

GROUNDING = 0.5


def grounding(traj: Trajectory, bonus: float = GROUNDING) -> list[float]:
    """g_t: ``bonus`` for a valid action, 0 for one the env rejected; the final turn always ``bonus``."""
    n = len(traj.turns)
    return [bonus if (t == n - 1 or turn.info.get("valid_action", True)) else 0.0 for t, turn in enumerate(traj.turns)]


@register_credit
class SPA:
    name: ClassVar[str] = "spa"
    needs: ClassVar[frozenset[str]] = frozenset({"progress"})

    def __init__(self, gamma: float = 1.0, grounding_bonus: float = GROUNDING, outcome_weight: float = 0.0, eps: float = EPS):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma, self.grounding_bonus, self.outcome_weight, self.eps = gamma, grounding_bonus, outcome_weight, eps

    def turn_rewards(self, group: Sequence[Trajectory], signals: Signals) -> list[list[float]]:
        check_group(group)
        progress = signals.require("progress", len(group))
        rows = []
        for c, traj in zip(progress, group):
            if len(c) != len(traj.turns):
                raise ValueError(f"progress has {len(c)} values for a trajectory of {len(traj.turns)} turns")
            r = [float(ct) + gt for ct, gt in zip(c, grounding(traj, self.grounding_bonus))]
            r[-1] += self.outcome_weight * traj.outcome
            rows.append(r)
        return rows

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        rewards = self.turn_rewards(group, signals or Signals())
        return [discounted_returns(row, self.gamma) for row in zscore_pooled(rewards, unbiased=False, eps=self.eps)]
