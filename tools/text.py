"""A policy's text on its way out (to a server, a browser, a database) and the env's text on its way back.

A sampled token sequence can decode to a lone surrogate (half of a UTF-16 pair, ``"\\udbca"``):
Python holds it, but no UTF-8 wire (HTTP, a browser driver's JSON, SQLite) can carry it, and the
encoder's exception, raised deep in a client, looks like the server's failure.  Text the policy
wrote is the policy's: a tool that forwards it calls :func:`sendable` first, so the problem comes
back as a :class:`~tools.calls.ToolError` (a turn spent, an explanation read), never as a
:class:`~tools.calls.ToolInfrastructureError` (an episode left out of training).

:func:`printable` is the other direction: what an env says back may quote that text, and a message
that cannot be encoded would fail later, in a tokenizer or a trajectory file; it escapes it visibly.
"""

from __future__ import annotations

from tools.calls import ToolError


def text_problem(text: str, *, nul: bool = False) -> str | None:
    """What in ``text`` cannot be sent as UTF-8 (a lone surrogate; a NUL character unless ``nul``), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        n = sum(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return (f"it holds {_count(n, 'lone surrogate')} (the first, {text[e.start]!r}, at character {e.start}): "
                "half of a UTF-16 pair, which is not a character and cannot be encoded")
    if not nul and "\x00" in text:
        return f"it holds {_count(text.count(chr(0)), 'NUL character')} (the first at character {text.index(chr(0))})"
    return None


def sendable(text: str, what: str, *, nul: bool = False) -> str:
    """``text`` when it can be sent; else a :class:`ToolError` naming ``what`` ("the query") and the problem.

    ``nul=True`` lets NUL characters through, for a receiver that takes them or explains them itself.
    """
    problem = text_problem(text, nul=nul)
    if problem:
        raise ToolError(f"{what} cannot be sent: {problem}. Write it again as plain text.")
    return text


def printable(text: str) -> str:
    """``text`` itself when it encodes as UTF-8; else with each lone surrogate written as its escape (``\\udbca``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _count(n: int, noun: str) -> str:
    return f"a {noun}" if n == 1 else f"{n:,} {noun}s"
