"""Host side of the harness's value encoding: decode, compare, show.

Comparison follows Python's ``==`` with two changes: floats match within a relative/absolute
tolerance of 1e-6, and a bool never equals a number (``True`` is not an answer for ``1``).
Containers must have the same kind (a list is not a tuple, as in Python).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from envs.code.harness import BIG, decode, encode

__all__ = ["BIG", "decode", "digest", "encode", "matches", "same", "show"]


def digest(enc: Any) -> str:
    return hashlib.sha256(json.dumps(enc, sort_keys=True).encode()).hexdigest()


def same(expected: Any, got: Any) -> bool:
    """Are two decoded values equal under the rules above?"""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, float) or isinstance(got, float):
            if math.isnan(expected) or math.isnan(got):
                return math.isnan(expected) and math.isnan(got)
            return math.isclose(expected, got, rel_tol=1e-6, abs_tol=1e-6)
        return expected == got
    if type(expected) is not type(got):
        return False
    if isinstance(expected, (list, tuple)):
        return len(expected) == len(got) and all(same(a, b) for a, b in zip(expected, got))
    if isinstance(expected, dict):
        mine, theirs = {_key(k): v for k, v in expected.items()}, {_key(k): v for k, v in got.items()}
        return len(mine) == len(expected) and mine.keys() == theirs.keys() and all(same(v, theirs[k]) for k, v in mine.items())
    if isinstance(expected, (set, frozenset)):
        return {_key(v) for v in expected} == {_key(v) for v in got}
    return expected == got


def _key(value: Any) -> Any:
    """A hashable stand-in for a set element or dict key that keeps bools apart from numbers
    (``1 == 1.0`` still holds, as with Python's ``==``)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, tuple):
        return ("t", tuple(_key(v) for v in value))
    if isinstance(value, frozenset):
        return ("fs", frozenset(_key(v) for v in value))
    return (type(value).__name__, value)


def matches(expected_enc: Any, result: dict[str, Any]) -> bool:
    """Does a harness result for a call case match the encoded expected value?"""
    if result.get("status") != "ok":
        return False
    if "digest" in result:
        return len(json.dumps(expected_enc, sort_keys=True)) > BIG and result["digest"] == digest(expected_enc)
    if "value" not in result:
        return False
    try:
        return same(decode(expected_enc), decode(result["value"]))
    except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError, RecursionError):
        return False


def show(enc: Any, limit: int = 300) -> str:
    """``repr`` of an encoded value, cut at ``limit`` characters."""
    try:
        text = repr(decode(enc))
    except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError, RecursionError):
        return "(unprintable value)"
    return text if len(text) <= limit else text[:limit] + "..."
