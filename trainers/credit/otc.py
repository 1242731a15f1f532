"""OTC-GRPO: optimal tool-call shaping (arXiv 2504.14870), a comparison point.

m = the sample's tool calls (``info["tool_calls"]`` at the end, not counting the tools that only
deliver the answer, ``answer``/``submit`` by default); n = the fewest calls among the group's
correct samples (``info["success"]``).

    r_tool = 1                              if m = n = 0
    r_tool = cos(m·π / (2m + c))            if n = 0            (c = 1)
    r_tool = sin(f(m, n)·π / (2n)),  f = 2nm / (m + n)          otherwise
    r_tool = 1                              if no sample of the group is correct (no reference)

Shaped reward R'_i = α·r_tool·R_i (α = 1; R_i the outcome, so a wrong answer earns 0 whatever
its calls), then the GRPO advantage (R'_i − mean) / (unbiased std + 1e-6) on every turn.
Tool calls are per episode, so turns are not normalized at all: samples of any length compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from trainers.credit._stats import EPS, check_group, group_zscore
from trainers.credit.base import Signals, broadcast, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


def tool_reward(m: int, n: int | None, c: float = 1.0) -> float:
    if n is None or (m == 0 and n == 0):
        return 1.0
    if n == 0:
        return math.cos(m * math.pi / (2 * m + c))
    f = 2 * n * m / (m + n)
    return math.sin(f * math.pi / (2 * n))


@register_credit
class OTC:
    name: ClassVar[str] = "otc"
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, alpha: float = 1.0, c: float = 1.0, answer_tools: Sequence[str] = ("answer", "submit"), eps: float = EPS):
        self.alpha, self.c, self.answer_tools, self.eps = alpha, c, frozenset(answer_tools), eps

    def calls(self, traj: Trajectory) -> int:
        return sum(v for k, v in traj.final_info.get("tool_calls", {}).items() if k not in self.answer_tools)

    def shaped_rewards(self, group: Sequence[Trajectory]) -> list[float]:
        check_group(group)
        calls = [self.calls(t) for t in group]
        correct = [m for m, t in zip(calls, group) if t.success]
        n = min(correct) if correct else None
        return [self.alpha * tool_reward(m, n, self.c) * t.outcome for m, t in zip(calls, group)]

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        return broadcast(group_zscore(self.shaped_rewards(group), self.eps), group)
