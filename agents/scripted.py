"""Scripted policies: an oracle that solves tasks through the tools, and a random baseline.

The oracle reads the env's reset info (the ground-truth ``answer``) and plays a fixed plan per
env family; plans are registered with :func:`register_oracle`.  A plan is a function
``(turn_index, info) -> action text`` where ``turn_index`` counts the assistant turns so far.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import sqlglot
from sqlglot import exp

from agents.policy import Completion, Request, SamplingParams

OraclePlan = Callable[[int, dict[str, Any]], str]
_ORACLES: dict[str, OraclePlan] = {}


def call(name: str, **arguments: Any) -> str:
    """A Hermes-style tool call, as a model would write it."""
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def register_oracle(family: str, plan: OraclePlan) -> None:
    _ORACLES[family] = plan


def oracle_action(turn: int, info: dict[str, Any]) -> str:
    """The oracle's action at assistant turn ``turn`` of the episode whose reset info is ``info``."""
    family = info.get("family")
    if family not in _ORACLES:
        raise KeyError(f"no oracle plan for env family {family!r}; known: {sorted(_ORACLES)}")
    return _ORACLES[family](turn, info)


def _assistant_turns(messages: list[dict[str, Any]]) -> int:
    return sum(m.get("role") == "assistant" for m in messages)


class OraclePolicy:
    """Solves tasks with the ground truth, through the same tools a model would use."""

    name = "oracle"

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return [Completion(text=oracle_action(_assistant_turns(r.messages), r.info)) for r in requests]


class RandomPolicy:
    """Calls a random tool with random arguments of the right types, or writes junk.

    A floor for evaluation and a fuzzer for envs: it exercises bad arguments and bad syntax.
    """

    name = "random"

    def __init__(self, seed: int = 0, junk_rate: float = 0.2):
        self.rng = random.Random(seed)
        self.junk_rate = junk_rate

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return [Completion(text=self._action(req)) for req in requests]

    def _action(self, req: Request) -> str:
        if not req.tools or self.rng.random() < self.junk_rate:
            return self.rng.choice(["I am not sure.", "<tool_call>{oops", '{"name": 3}', "SELECT 1"])
        spec = self.rng.choice(req.tools)["function"]
        args = {name: self._value(schema) for name, schema in spec["parameters"].get("properties", {}).items()}
        return call(spec["name"], **args)

    def _value(self, schema: dict[str, Any]) -> Any:
        kind = schema.get("type")
        if kind == "integer":
            return self.rng.randint(-2, 20)
        if kind == "number":
            return self.rng.uniform(-1, 10)
        if kind == "boolean":
            return self.rng.random() < 0.5
        words = ["SELECT 1", "SELECT * FROM x", "name", "id", "answer", "42", ""]
        return self.rng.choice(words)


# ----- oracle plans ---------------------------------------------------------------------------
def sql_plan(turn: int, info: dict[str, Any]) -> str:
    """list_tables, describe each table the gold query reads, run it, submit it."""
    gold = info["answer"]
    tables = sorted({t.name for t in sqlglot.parse_one(gold, read="sqlite").find_all(exp.Table)})
    steps = [call("list_tables")] + [call("describe_table", table=t) for t in tables]
    steps += [call("execute_sql", query=gold), call("submit_sql", query=gold)]
    return steps[min(turn, len(steps) - 1)]


register_oracle("sql", sql_plan)

import agents.oracle_search  # noqa: E402,F401
import agents.oracle_code  # noqa: E402,F401
