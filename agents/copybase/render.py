"""An episode's messages as tokens, rendered exactly as SFT renders a trajectory."""

from __future__ import annotations

from typing import Any, Callable


def render_episode(renderer, messages: list[dict[str, Any]], stop: int,
                   before_turn: Callable[[Any, str, int], None] | None = None):
    """The episode's :class:`~agents.tokens.TokenConversation`, rendered as SFT renders a trajectory
    (``trainers.sft.tokenize_trajectory``): each assistant turn is ``encode(text) + [stop]``, each tool
    result follows it, and no generation prompt follows the last turn.  ``before_turn(conv, text, n)``
    sees the conversation just before assistant turn ``n`` (0-based; its generation prompt appended)."""
    from agents.tokens import TokenConversation

    conv = TokenConversation(renderer, messages[:2])
    rest = messages[2:]
    for i, msg in enumerate(rest):
        if msg["role"] != "assistant":
            continue
        if before_turn is not None:
            before_turn(conv, msg["content"], len(conv.turns))
        conv.add_completion(renderer.encode(msg["content"]) + [stop], None, "stop")
        obs = [m for m in rest[i + 1:i + 2] if m["role"] != "assistant"]
        conv.add_observation(obs, final=not obs)
    return conv


def encode_episode(renderer, messages: list[dict[str, Any]], stop: int) -> tuple[list[int], list[int]]:
    """Token ids and loss mask (1 on assistant tokens) of one episode, rendered as SFT renders it."""
    conv = render_episode(renderer, messages, stop)
    return conv.ids, conv.mask
