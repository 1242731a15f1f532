"""Writing tool calls as a model would: the text form :func:`tools.parse_action` reads back.

Scripted players (an env family's oracle and baselines, the random policy) and tests use
:func:`call`.  Its first parameter is positional-only, so a tool whose own parameters are called
``name``, ``arguments``, ``id`` or ``type`` is written as ``call("directory", name="docs")``.
"""

from __future__ import annotations

import json
from typing import Any


def call(tool_name: str, /, **arguments: Any) -> str:
    """A Hermes-style tool call: ``<tool_call>{"name": tool_name, "arguments": {...}}</tool_call>``."""
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"
