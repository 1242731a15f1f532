"""How well a model copies values into tool calls: per-argument accuracy on given transcripts.

For every assistant turn of every episode, the model sees the episode so far exactly as a rollout
renders it (the gold earlier turns, teacher-forced) and decodes greedily until ``<|im_end|>``; its
call is parsed with :func:`tools.parse_action` and compared with the transcript's call.  An
argument counts as copied when its value equals the gold value exactly (as strings, trimmed).

Arguments are scored by where the value comes from (``request``: the first call's arguments, copied
from the user message; ``result``: later calls, copied from a tool's result; ``answer``: the final
call) and by the value's shape (person name, number, id, word, phrase).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from tools import parse_action

_SHAPES = [
    ("name", re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+$")),
    ("number", re.compile(r"^\d+$")),
    ("word", re.compile(r"^[a-z]+$")),
    ("phrase", re.compile(r"^[a-z]+ [a-z]+$")),
]


def shape(value: str) -> str:
    return next((name for name, pattern in _SHAPES if pattern.match(value)), "id")


def _rate(hits: list[int]) -> float:
    return round(sum(hits) / len(hits), 4) if hits else float("nan")


def copy_accuracy(model, renderer, episodes: list[list[dict[str, Any]]], max_new_tokens: int = 96) -> dict[str, Any]:
    """Greedy, teacher-forced call accuracy on ``episodes`` (see the module docstring)."""
    import torch

    from agents.copybase.render import render_episode

    stop = next(iter(renderer.stop_ids))
    was_training = model.training
    model.eval()
    calls, names = [], []
    by_source: dict[str, list[int]] = defaultdict(list)
    by_shape: dict[str, list[int]] = defaultdict(list)

    def score_turn(conv, gold_text: str, source: str) -> None:
        gold = parse_action(gold_text).calls[0]
        with torch.no_grad():
            out = model.generate(torch.tensor([conv.ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=stop, pad_token_id=stop)
        parsed = parse_action(renderer.completion_text(out[0, len(conv.ids):].tolist(), "stop"))
        got = parsed.calls[0] if parsed.calls and not parsed.error else None
        names.append(int(got is not None and got.name == gold.name))
        calls.append(int(got is not None and got.name == gold.name and got.arguments == gold.arguments))
        for key, value in gold.arguments.items():
            hit = int(got is not None and str(got.arguments.get(key, "")).strip() == str(value).strip())
            by_source[source].append(hit)
            by_shape[shape(str(value))].append(hit)

    try:
        for messages in episodes:
            last = sum(m["role"] == "assistant" for m in messages) - 1
            render_episode(renderer, messages, stop, lambda conv, text, n, last=last: score_turn(
                conv, text, "answer" if n == last else "request" if n == 0 else "result"))
    finally:
        model.train(was_training)
    every = [h for hits in by_source.values() for h in hits]
    return {
        "episodes": len(episodes), "turns": len(calls), "arguments": len(every),
        "call_exact": _rate(calls), "tool_name": _rate(names), "argument": _rate(every),
        "by_source": {k: _rate(v) for k, v in sorted(by_source.items())},
        "by_shape": {k: _rate(v) for k, v in sorted(by_shape.items())},
    }
