"""Gymnasium spaces for chat: an action is free text, an observation is a list of new messages.

A message's content is a string or a list of OpenAI content parts (``text`` and ``image_url``
with a data URL or a ``file://`` reference; see :mod:`tools.content`).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Space

from tools.content import content_problem

ROLES = ("system", "user", "assistant", "tool")
_SAMPLE_CHARS = string.ascii_letters + string.digits + string.punctuation + " \n"


class TextSpace(Space[str]):
    """Any string up to ``max_length`` characters (the assistant's raw reply)."""

    def __init__(self, max_length: int = 100_000, seed: int | np.random.Generator | None = None):
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """Random printable junk: sampling exists to fuzz the env with malformed actions."""
        length = int(self.np_random.integers(0, 64))
        return "".join(self.np_random.choice(list(_SAMPLE_CHARS), size=length))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"TextSpace(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, TextSpace) and other.max_length == self.max_length


class MessagesSpace(Space[list]):
    """A list of OpenAI-style chat messages: dicts with a known ``role`` and a string or content-part ``content``."""

    def __init__(self, seed: int | np.random.Generator | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> list[dict[str, str]]:
        role = str(self.np_random.choice(ROLES))
        return [{"role": role, "content": f"message {int(self.np_random.integers(1_000_000))}"}]

    def contains(self, x: Any) -> bool:
        return isinstance(x, list) and all(message_problem(m) is None for m in x)

    def __repr__(self) -> str:
        return "MessagesSpace()"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MessagesSpace)


def message_problem(message: Any) -> str | None:
    """What is wrong with one chat message, or None."""
    if not isinstance(message, dict):
        return f"a message must be a dict, got {type(message).__name__}"
    if message.get("role") not in ROLES:
        return f"unknown role {message.get('role')!r}; known: {', '.join(ROLES)}"
    return content_problem(message.get("content"))
