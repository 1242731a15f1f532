"""TextWorld-v0's scripted players: the oracle (the game's own walkthrough) and two baselines.

``plan(turn, info) -> action text`` plays ``info["walkthrough"]`` (reset info, privileged) one command a turn.

:class:`RandomAdmissible` (baseline ``random-admissible``) sends a random command of those the last
observation lists as admissible (with ``admissible=False`` it draws from a few generic commands),
seeded by the conversation so its episodes are reproducible.

:class:`Detours` (baseline ``detours``, the weak teacher for SFT warm starts) plays the walkthrough,
but before a fixed share ``detour_rate`` of its commands (default 0.3; which ones is fixed by a
hash of the opening text and the step) it first goes through another exit the game lists, then
straight back: the same state again, two turns later, so every detour is recovered and leaves an
anchor state for GiGPO.  Like a model it sees only the conversation: it finds the walkthrough by
the game's opening text in the data home (:func:`envs.textworld.games.walkthrough_for`, recorded
when the game was built or first played), and falls back to :class:`RandomAdmissible` for a game
it does not know.  Detours need the admissible list (``admissible=True``); without it it plays the
plain walkthrough.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from envs.textworld.env import ADMISSIBLE_PREFIX
from envs.textworld.games import walkthrough_for
from tools import call as _call

GENERIC_COMMANDS = ["look", "inventory", "go north", "go south", "go east", "go west"]
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east", "up": "down", "down": "up",
            "northeast": "southwest", "southwest": "northeast", "northwest": "southeast", "southeast": "northwest"}


def plan(turn: int, info: dict[str, Any]) -> str:
    walkthrough = info.get("walkthrough") or ["look"]
    return _call("command", text=walkthrough[min(turn, len(walkthrough) - 1)])


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def split_listing(text: str) -> tuple[str, list[str]]:
    """An observation's game text and the admissible commands listed after it (none when not listed)."""
    head, sep, listing = text.rpartition("\n\n" + ADMISSIBLE_PREFIX)
    if not sep:
        return text, []
    return head, [c.strip() for c in listing.split(" | ") if c.strip()]


def _observations(messages: list[dict[str, Any]]) -> list[str]:
    return [_text(m) for m in messages if m.get("role") in ("user", "tool")]


def _draw(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


class RandomAdmissible:
    """A random command among those the game lists as admissible now."""

    name = "random-admissible"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        seen = _observations(messages)
        commands = split_listing(seen[-1])[1] if seen else []
        rng = random.Random(f"{self.seed}:{len(seen)}:{'|'.join(seen)}")
        return _call("command", text=rng.choice(commands or GENERIC_COMMANDS))


class Detours:
    """The walkthrough, with a recovered detour (another exit, then back) before a share of its commands."""

    name = "detours"

    def __init__(self, detour_rate: float = 0.3):
        if not 0.0 <= detour_rate <= 1.0:
            raise ValueError(f"detour_rate must lie in [0, 1], got {detour_rate}")
        self.detour_rate = detour_rate

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        seen = _observations(messages)
        if not seen:
            return _call("command", text="look")
        intro = split_listing(seen[0])[0]
        walkthrough = walkthrough_for(intro)
        if not walkthrough:
            return RandomAdmissible().act(messages, tools)
        turns = sum(m.get("role") == "assistant" for m in messages)
        return _call("command", text=self._replay(intro, walkthrough, seen, turns))

    def _replay(self, intro: str, walkthrough: list[str], seen: list[str], turns: int) -> str:
        """The command for turn ``turns``: the plan is replayed from the start, so it depends only on the conversation."""
        step, back, action, detoured_at = 0, None, "look", -1
        for turn in range(turns + 1):
            observation = seen[min(turn, len(seen) - 1)]
            if back is not None:
                action, back = back, None
                continue
            if step >= len(walkthrough):
                action = walkthrough[-1]
                continue
            exits = [c for c in split_listing(observation)[1]
                     if c.startswith("go ") and c != walkthrough[step] and c[3:] in OPPOSITE]
            if exits and step != detoured_at and _draw(f"detour:{intro}:{step}") < self.detour_rate:
                detour = exits[int(_draw(f"exit:{intro}:{step}") * len(exits))]
                action, back, detoured_at = detour, "go " + OPPOSITE[detour[3:]], step  # one detour per command at most
                continue
            action, step = walkthrough[step], step + 1
        return action
