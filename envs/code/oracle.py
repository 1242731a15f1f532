"""The oracle for ``turngym/Code-v0``: check the reference solution, then submit it.

The reference solution is the reset info's ``answer`` (for HumanEval, the prompt plus the
canonical solution), so the oracle is privileged.  It runs the solution on the visible examples
with ``run_tests`` (or, for a task without examples, once with ``run_python``), then submits it.
"""

from __future__ import annotations

from typing import Any

from tools import call


def plan(turn: int, info: dict[str, Any]) -> str:
    """The action at assistant turn ``turn``; past the plan's end it repeats the submit."""
    code = info["answer"]
    check = call("run_tests", code=code) if info.get("visible_examples") else call("run_python", code=code)
    steps = [check, call("submit", code=code)]
    return steps[min(turn, len(steps) - 1)]
