"""``oracle-ctg``: credit from the env's true cost-to-go, a diagnostic positive control (no model signal).

Needs an env that records ``info["cost_to_go"]`` on reset and on every step: the number of turns
the oracle still needs from the state reached (the Vault family does).  With c_0 from the reset
info and c_t from turn t's step info, for trajectory i with T turns:

    r_t = c_{t−1} − c_t          for turns t = 1 .. T−1   (progress the action made: +1 for a step
                                                          towards the vault, −1 into a dead end, 0
                                                          for a turn that changed nothing)
    r_T = R_i                    the outcome of the episode (info["outcome"]), as IGPO's last turn

Normalization as IGPO's turn rewards: z-score over *all* turn rewards of *all* samples of the group
together (population std; std := 1 when there is at most one value; eps 1e-6), never per turn
index.  Then A_t = r̂_t + γ A_{t+1}; γ = 0 by default, so each turn is credited with its own
progress (γ = 1 gives IGPO's sum over later turns).

It reads the answer key of the env, so no policy could compute it: it is an upper reference for
what turn-level credit can do here.  If even it cannot beat GRPO on an env, the model (or the
budget), not the credit method, is the limit.  A trajectory without ``cost_to_go`` in its reset or
step info is refused with a ValueError naming the env, and ``turngym compare`` refuses an env whose
class does not declare ``records_cost_to_go = True`` before any run (:meth:`OracleCTG.env_kwargs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from trainers.credit._stats import EPS, check_group, discounted_returns, zscore_pooled
from trainers.credit.base import Signals, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


def costs_to_go(traj: Trajectory) -> list[float]:
    """c_0 .. c_T of one trajectory; ValueError naming the env when one is missing."""
    infos: list[tuple[str, dict[str, Any]]] = [("reset info", traj.reset_info)]
    infos += [(f"turn {t + 1}'s step info", turn.info) for t, turn in enumerate(traj.turns)]
    out = []
    for where, info in infos:
        value = info.get("cost_to_go")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"oracle-ctg needs info['cost_to_go'] on every step, and {traj.env_id} gives none in {where} "
                             f"(task {traj.task_id}, sample {traj.sample}); only envs that know their true cost-to-go "
                             "(e.g. the Vault family) can use it")
        out.append(float(value))
    return out


def ctg_turn_rewards(costs: Sequence[float], outcome: float) -> list[float]:
    """Raw turn rewards r_1..r_T from c_0..c_T (before normalization)."""
    n_turns = len(costs) - 1
    return [costs[t - 1] - costs[t] for t in range(1, n_turns)] + [float(outcome)]


@register_credit
class OracleCTG:
    name: ClassVar[str] = "oracle-ctg"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, gamma: float = 0.0, eps: float = EPS):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma, self.eps = gamma, eps

    @classmethod
    def env_kwargs(cls, env: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` unchanged when ``env``'s class declares ``records_cost_to_go``; else a ValueError naming
        the env (``turngym compare`` asks before any run)."""
        from envs.registry import entry, resolve

        found = entry(env)
        try:
            target = resolve(found.entry_point)
        except Exception:  # an optional dependency missing: it cannot run here anyway
            target = None
        if not getattr(target, "records_cost_to_go", False):
            raise ValueError(f"{found.id} does not record info['cost_to_go'] (the env's true turns left), so oracle-ctg "
                             "has nothing to credit there; use it on an env that does (e.g. the Vault family)")
        return dict(kwargs)

    def turn_rewards(self, group: Sequence[Trajectory]) -> list[list[float]]:
        check_group(group)
        return [ctg_turn_rewards(costs_to_go(traj), traj.outcome) for traj in group]

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        normalized = zscore_pooled(self.turn_rewards(group), unbiased=False, eps=self.eps)
        return [discounted_returns(row, self.gamma) for row in normalized]
