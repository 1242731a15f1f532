"""The oracle for ``turngym/SQL-v0`` (and any env of the ``sql`` family).

It reads the gold query from the reset info's ``answer`` and plays it through the tools a model
has: ``list_tables``, ``describe_table`` for each table the gold query reads (sqlglot's parse), then
``execute_sql`` and ``submit_sql`` with the gold query.  It is privileged (it reads the answer).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from tools import call


def plan(turn: int, info: dict[str, Any]) -> str:
    """The action at assistant turn ``turn``; past the plan's end it repeats the submit."""
    gold = info["answer"]
    tables = sorted({t.name for t in sqlglot.parse_one(gold, read="sqlite").find_all(exp.Table)})
    steps = [call("list_tables")] + [call("describe_table", table=t) for t in tables]
    steps += [call("execute_sql", query=gold), call("submit_sql", query=gold)]
    return steps[min(turn, len(steps) - 1)]
