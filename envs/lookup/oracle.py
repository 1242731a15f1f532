"""The Lookup-v0 oracle: look up each key of the task's chain, then answer.

``plan(turn, info) -> action text`` with ``info`` the env's reset info (it holds ``chain`` and
``answer``); the same plan signature as the other families' oracles.
"""

from __future__ import annotations

import json
from typing import Any


def _call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def plan(turn: int, info: dict[str, Any]) -> str:
    steps = [_call("lookup", key=k) for k in info["chain"]] + [_call("answer", value=info["answer"])]
    return steps[min(turn, len(steps) - 1)]
