"""GiGPO: episode groups plus anchor-state step groups (arXiv 2505.10978; verl-agent core_gigpo).

Episode level (GRPO): A^E_i = (R_i − mean_G R) / (std_G R + eps), unbiased std, eps 1e-6,
R_i the outcome.

Step level: the step reward is the env reward minus a penalty for an action the env rejected,
r_k = reward_k − 0.1·[not info["valid_action"]]; the discounted return
G_t = Σ_{k≥t} γ^(k−t) r_k with γ = 0.95.  The *anchor state* of turn t is the env state the
action was taken from: ``reset_info["state_key"]`` for the first turn, the previous turn's
``info["state_key"]`` after that.  Within the group (one task), all turns whose anchor states
are equal (whatever their turn index and sample) form an anchor group, and
A^S = (G_t − mean_anchor G) / (std_anchor G + eps) (unbiased std); a singleton anchor group gets
A^S = 0 (verl-agent gives it G_t itself, which mixes unnormalized returns into the advantage).

A_t = A^E_i + ω·A^S_t with ω = 1.  A truncated episode is grouped the same way; its returns hold
only the rewards it earned before the cut.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from trainers.credit._stats import EPS, check_group, returns, discounted_returns, group_zscore, mean_std
from trainers.credit.base import Signals, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory

INVALID_PENALTY = 0.1


def _hashable(key: Any) -> Hashable:
    try:
        hash(key)
        return key
    except TypeError:
        return json.dumps(key, sort_keys=True, default=repr)


def anchor_keys(traj: Trajectory) -> list[Hashable]:
    """The env state each turn's action was taken from (the state after the previous turn)."""
    start = traj.reset_info.get("state_key", ("start", traj.task_id))
    before = [start] + [turn.info.get("state_key", ("turn", traj.sample, t)) for t, turn in enumerate(traj.turns[:-1])]
    return [_hashable(k) for k in before]


def step_rewards(traj: Trajectory, invalid_penalty: float = INVALID_PENALTY) -> list[float]:
    return [turn.reward - (invalid_penalty if not turn.info.get("valid_action", True) else 0.0) for turn in traj.turns]


@register_credit
class GiGPO:
    name: ClassVar[str] = "gigpo"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, gamma: float = 0.95, omega: float = 1.0, invalid_penalty: float = INVALID_PENALTY, eps: float = EPS):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma, self.omega, self.invalid_penalty, self.eps = gamma, omega, invalid_penalty, eps

    def step_advantages(self, group: Sequence[Trajectory]) -> list[list[float]]:
        """A^S for every turn of every sample."""
        returns = [discounted_returns(step_rewards(t, self.invalid_penalty), self.gamma) for t in group]
        anchors: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
        for i, traj in enumerate(group):
            for t, key in enumerate(anchor_keys(traj)):
                anchors[key].append((i, t))
        out = [[0.0] * len(traj.turns) for traj in group]
        for members in anchors.values():
            if len(members) < 2:
                continue
            mean, std = mean_std([returns[i][t] for i, t in members], unbiased=True)
            for i, t in members:
                out[i][t] = (returns[i][t] - mean) / (std + self.eps)
        return out

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        check_group(group)
        episode = group_zscore(returns(group), self.eps)
        step = self.step_advantages(group)
        return [[a_e + self.omega * a_s for a_s in row] for a_e, row in zip(episode, step)]
