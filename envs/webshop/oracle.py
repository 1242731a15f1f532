"""Scripted players for ``turngym/WebShop-v0``: the oracle and two baselines.

* :func:`plan` (the oracle; privileged, it reads the reset info): search the goal-derived query
  recorded with the task, page forward to the target's results page, open the target, click the
  page's values for the goal's options, buy.  Those values are the task's ``oracle_options`` where
  it records them (real WebShop goals: the values the reward's fuzzy rule counts, which may be
  written otherwise than the goal's), else the goal's own option values (generated goals name page
  values).  Scores 1.0 on every generated task (tested on the whole test split) and on every real
  goal whose product offers its options.
* :class:`FirstResult` (``first-result``): search the instruction, open the first result, buy it
  with the options the page pre-selects.  What lexical search alone achieves.
* :class:`RandomAction` (``random-action``): a uniformly random action among those the page
  lists (a search uses random words of the instruction).  The floor.

The baselines are not privileged: they see only the conversation (the page text and its actions).
"""

from __future__ import annotations

import random
import re
from typing import Any

from tools import call

_ACTION = re.compile(r"\b(search|click)\[([^\[\]]*)\]")
_ASIN = re.compile(r"^[A-Z0-9]{10}$")


def plan(turn: int, info: dict[str, Any]) -> str:
    """search -> Next > (as needed) -> the target -> each option value -> Buy Now."""
    steps = [call("search", query=info["oracle_query"])]
    steps += [call("click", target="Next >")] * (int(info["oracle_page"] or 1) - 1)
    steps.append(call("click", target=info["target_asin"]))
    choices = info.get("oracle_options")
    steps += [call("click", target=value) for value in (info["goal_options"] if choices is None else choices).values()]
    steps.append(call("click", target="Buy Now"))
    return steps[min(turn, len(steps) - 1)]


def instruction_of(messages: list[dict[str, Any]]) -> str:
    """The instruction, from the env's first user message (``Instruction: ...``)."""
    for message in messages:
        content = str(message.get("content", ""))
        if message.get("role") == "user" and content.startswith("Instruction: "):
            return content.removeprefix("Instruction: ").split("\n", 1)[0].strip()
    return ""


def available_actions(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(verb, argument)`` pairs listed by the latest page (a tool message, or the first prompt)."""
    for message in reversed(messages):
        content = str(message.get("content", ""))
        if message.get("role") in ("tool", "user") and "Available actions:" in content:
            return _ACTION.findall(content.rsplit("Available actions:", 1)[1])
    return []


class FirstResult:
    """Search the instruction, open the first result, buy with the pre-selected options."""

    name = "first-result"

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        actions = available_actions(messages)
        clicks = [arg for verb, arg in actions if verb == "click"]
        if "Buy Now" in clicks:
            return call("click", target="Buy Now")
        products = [arg for arg in clicks if _ASIN.match(arg)]
        if products:
            return call("click", target=products[0])
        if ("search", "<your query>") in actions:
            return call("search", query=instruction_of(messages))
        return call("click", target="Back to Search")


class RandomAction:
    """A random action among those the page lists."""

    name = "random-action"

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        actions = available_actions(messages)
        if not actions:
            return call("click", target="Back to Search")
        verb, arg = self.rng.choice(actions)
        if verb == "search":
            words = instruction_of(messages).split() or ["product"]
            return call("search", query=" ".join(self.rng.sample(words, min(len(words), self.rng.randint(1, 4)))))
        return call("click", target=arg)
