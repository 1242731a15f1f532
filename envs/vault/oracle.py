"""Vault's scripted players: the oracle, and the ``decoy`` baseline (the weak teacher).

``plan(turn, info) -> action text`` with ``info`` the env's reset info (``route``, ``key``,
``answer``): go(side), back() when the key variant needs it, then the right door of every room,
then answer(code).  It takes exactly ``cost_to_go`` (reset info) turns.

:class:`Decoy` (registered as baseline ``decoy``) sees only the conversation, like a model.  In a
room it has not been in before it takes the door the sign does *not* name on a fixed share
``decoy_rate`` of junctions (default 0.3), else the sign's door; in the dead end it calls
``back()``, and back in the room (its text already seen in the conversation) it takes the sign's
door: every mistake is recovered, at a cost of two turns.  Which junctions it errs at is fixed by
:func:`takes_decoy` (sha256 of the episode's first room text and the current room text), so its
trajectories are reproducible and its decoy share over many junctions is ``decoy_rate``.  The key
variant: it fetches the key first (``go(side)``, ``back()``), and at the vault it answers the code
the vault shows.  With the default budget (one detour per junction) it always succeeds; with a
budget of K + 1 it succeeds on the chains where it never errs, a share (1 − p)^K.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tools import call as _call

ROOM = re.compile(r"Room \d+/\d+\. Code \S+\. Doors: ([a-z ]+)\. Sign: ([a-z]+)\.(?: Key: (yes|no)\.)?")
VAULT = re.compile(r"Vault\. Code (\d+)\.")


def plan(turn: int, info: dict[str, Any]) -> str:
    steps = [_call("go", door="side"), _call("back")] if info.get("key") else []
    steps += [_call("go", door=door) for door in info["route"]] + [_call("answer", code=info["answer"])]
    return steps[min(turn, len(steps) - 1)]


def takes_decoy(first: str, room: str, decoy_rate: float = 0.3) -> bool:
    """Whether :class:`Decoy` errs at the first visit of ``room`` in the episode that began with ``first``."""
    digest = int.from_bytes(hashlib.sha256(f"decoy:{first}\n{room}".encode()).digest()[:8], "big")
    return digest < decoy_rate * 2**64


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


class Decoy:
    """The oracle from what it sees, but through the wrong door at a fixed share of junctions (then back)."""

    name = "decoy"

    def __init__(self, decoy_rate: float = 0.3):
        if not 0.0 <= decoy_rate <= 1.0:
            raise ValueError(f"decoy_rate must lie in [0, 1], got {decoy_rate}")
        self.decoy_rate = decoy_rate

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        seen = [_text(m) for m in messages if m.get("role") in ("user", "tool")]
        if not seen:
            return _call("answer", code="0")
        last = seen[-1]
        if vault := VAULT.search(last):
            return _call("answer", code=vault.group(1))
        room = ROOM.search(last)
        if room is None:
            if "Dead end." in last or "Side room." in last:
                return _call("back")
            return _call("answer", code="0")  # not a Vault conversation
        doors, sign, key = room.group(1).split(), room.group(2), room.group(3)
        if key == "no":
            return _call("go", door="side")
        revisit = any(room.group(0) in text for text in seen[:-1])
        if not revisit and takes_decoy(seen[0], room.group(0), self.decoy_rate):
            return _call("go", door=next(d for d in doors if d not in (sign, "side")))
        return _call("go", door=sign)
