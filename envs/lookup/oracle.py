"""The Lookup-v0 oracle: look up each key of the task's chain, then answer.

``plan(turn, info) -> action text`` with ``info`` the env's reset info (it holds ``chain`` and
``answer``); the same plan signature as the other families' oracles.
"""

from __future__ import annotations

from typing import Any

from tools import call as _call


def plan(turn: int, info: dict[str, Any]) -> str:
    steps = [_call("lookup", key=k) for k in info["chain"]] + [_call("answer", value=info["answer"])]
    return steps[min(turn, len(steps) - 1)]
