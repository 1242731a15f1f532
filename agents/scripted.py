"""Scripted policies: the oracle, the random baseline, and an env's registered baselines.

Nothing here knows an env family.  A family registers its oracle plan and its baseline players
with its env (``envs.register(..., oracle=..., baselines=...)``, see :mod:`envs.registry`):

* :class:`OraclePolicy` plays the oracle plan of the env being evaluated.  It is *privileged*
  (``privileged = True``): the rollout hands it the episode's reset info, ground truth included,
  which it hands no other policy.  A plan is ``(assistant turns so far, reset info) -> action``.
* :class:`ScriptedPolicy` plays a registered :class:`envs.registry.Player` (a baseline), which
  sees only what a model sees: the conversation and the tool specs.
* :class:`RandomPolicy` calls random tools with random arguments, or writes junk.
"""

from __future__ import annotations

import random
from typing import Any

from agents.policy import Completion, Request, SamplingParams
from envs.registry import OraclePlan, Player, family_oracle, removed
from tools import call

__all__ = ["OraclePolicy", "RandomPolicy", "ScriptedPolicy", "call", "oracle_action"]


def __getattr__(name: str) -> Any:  # a removed name (register_oracle) fails naming its replacement
    return removed(__name__, name)


def oracle_action(turn: int, info: dict[str, Any]) -> str:
    """The oracle's action at assistant turn ``turn`` for the env family in ``info``: the oracle that
    a registered env of that family names (``register(..., oracle=)``)."""
    return family_oracle(info.get("family"))(turn, info)


def _assistant_turns(messages: list[dict[str, Any]]) -> int:
    return sum(m.get("role") == "assistant" for m in messages)


class OraclePolicy:
    """Solves tasks with the ground truth, through the same tools a model would use.

    ``plan`` is the env's registered oracle (``envs.registry.oracle_for``); without one the plan
    is found per episode from the env family named in the reset info.
    """

    name = "oracle"
    privileged = True  # reads Request.info, the reset info with the answer
    plan: OraclePlan | None = None

    def __init__(self, plan: OraclePlan | None = None):
        self.plan = plan

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return [Completion(text=self.action(r)) for r in requests]

    def action(self, request: Request) -> str:
        turn = _assistant_turns(request.messages)
        return self.plan(turn, request.info) if self.plan else oracle_action(turn, request.info)


class ScriptedPolicy:
    """A baseline player registered with an env (e.g. Search-v0's ``answer-only``), as a policy."""

    privileged = False

    def __init__(self, player: Player):
        self.player = player
        self.name = player.name

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return [Completion(text=self.player.act(r.messages, r.tools)) for r in requests]


class RandomPolicy:
    """Calls a random tool with random arguments of the right types, or writes junk.

    A floor for evaluation and a fuzzer for envs: it exercises bad arguments and bad syntax.
    """

    name = "random"
    privileged = False

    def __init__(self, seed: int = 0, junk_rate: float = 0.2):
        self.rng = random.Random(seed)
        self.junk_rate = junk_rate

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return [Completion(text=self._action(req)) for req in requests]

    def _action(self, req: Request) -> str:
        if not req.tools or self.rng.random() < self.junk_rate:
            return self.rng.choice(["I am not sure.", "<tool_call>{oops", '{"name": 3}', "SELECT 1"])
        spec = self.rng.choice(req.tools)["function"]
        args = {param: self._value(schema) for param, schema in spec["parameters"].get("properties", {}).items()}
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
