"""Lookup-v0's scripted players: the oracle, and the ``hasty`` baseline (a weak teacher).

``plan(turn, info) -> action text`` with ``info`` the env's reset info (it holds ``chain`` and
``answer``); the same plan signature as the other families' oracles.

:class:`Hasty` (registered as baseline ``hasty``) sees only the conversation, like a model.  On a
fixed share ``guess_rate`` of tasks it answers at once with a made-up 3-digit code, never calling
``lookup`` (a guess: it scores 0 unless the code happens to be right, 1 in 900; never on a missing
key, whose answer is ``none``); on the others it plays the oracle's plan from what the tool says:
look the key up, follow a ``see "OTHER"`` redirect, answer the code (or ``none``).  Which tasks it
guesses on, and what it guesses, are fixed per task by :func:`guesses_on` and :func:`guessed_code`
(sha256 of the asked key; each task asks a distinct key), so its trajectories are reproducible.
It is the warm start of the learning demo: imitating it teaches the call format and copying, plus
a habit of guessing that RL's reward can then remove.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tools import call as _call

_ASKED = re.compile(r'Code of "([^"]+)"\?')
_REDIRECT = re.compile(r'^see "([^"]+)"$')


def plan(turn: int, info: dict[str, Any]) -> str:
    steps = [_call("lookup", key=k) for k in info["chain"]] + [_call("answer", value=info["answer"])]
    return steps[min(turn, len(steps) - 1)]


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"hasty:{key}".encode()).digest()[:8], "big")


def guesses_on(key: str, guess_rate: float = 0.5) -> bool:
    """Whether :class:`Hasty` guesses on the task asking ``key``: the key's hash, as a fraction of 2**64, is below the rate."""
    return _digest(key) < guess_rate * 2**64


def guessed_code(key: str) -> str:
    """The made-up code :class:`Hasty` answers for ``key``: 100-999."""
    return str(100 + _digest(key) % 900)


class Hasty:
    """Guesses a code without looking on a fixed share of tasks, else looks up like the oracle."""

    name = "hasty"

    def __init__(self, guess_rate: float = 0.5):
        if not 0.0 <= guess_rate <= 1.0:
            raise ValueError(f"guess_rate must lie in [0, 1], got {guess_rate}")
        self.guess_rate = guess_rate

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        prompt = next((m["content"] for m in messages if m["role"] == "user"), "")
        found = _ASKED.search(prompt if isinstance(prompt, str) else "")
        if found is None:  # not a Lookup prompt: nothing sensible to look up
            return _call("answer", value="none")
        key = found.group(1)
        results = [m["content"] for m in messages if m["role"] == "tool"]
        if not results:
            return _call("answer", value=guessed_code(key)) if guesses_on(key, self.guess_rate) else _call("lookup", key=key)
        redirect = _REDIRECT.match(str(results[-1]).strip())
        return _call("lookup", key=redirect.group(1)) if redirect else _call("answer", value=str(results[-1]).strip())
