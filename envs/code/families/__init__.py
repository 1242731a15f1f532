"""The project's own function-writing tasks: problem families with parameterized variants.

A :class:`Family` is one kind of problem (e.g. "rotate a list by k") written as templates: a
signature, a description and a reference solution, with ``$name`` placeholders filled from each
variant (``$fn``, the function name, and the variant's constants). ``gen`` draws the test inputs
of a variant from a seeded RNG; ``checks`` are hand-computed ``(args, expected)`` pairs for the
first variant that the build verifies the reference against. Expected values of generated inputs
come from running the reference solution through the sandbox harness at build time.

Categories: ``strings``, ``lists``, ``math``, ``parsing``, ``structures``. None of these problems
or function names is taken from HumanEval (``tests/test_code_tasks.py`` checks the names).
"""

from __future__ import annotations

import random
import string
import textwrap
from dataclasses import dataclass, field
from string import Template
from typing import Any, Callable

CATEGORIES = ("strings", "lists", "math", "parsing", "structures")


@dataclass(frozen=True)
class Family:
    name: str
    category: str
    sig: str
    doc: str
    code: str
    gen: Callable[[random.Random, dict], list[tuple]]
    variants: tuple[dict, ...]
    checks: tuple[tuple[tuple, Any], ...] = field(default=())

    def render(self, variant: dict) -> dict[str, str]:
        """The variant's signature, description and reference solution, placeholders filled."""
        fill = lambda t: Template(textwrap.dedent(t).strip("\n")).substitute(variant)  # noqa: E731
        return {"sig": fill(self.sig), "doc": fill(self.doc), "code": fill(self.code) + "\n"}


# ----- input helpers shared by the family modules ---------------------------------------------
def word(rng: random.Random, lo: int = 1, hi: int = 8, letters: str = string.ascii_lowercase) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(lo, hi)))


def words(rng: random.Random, n_lo: int = 0, n_hi: int = 7, **kw) -> list[str]:
    return [word(rng, **kw) for _ in range(rng.randint(n_lo, n_hi))]


def ints(rng: random.Random, lo: int = 0, hi: int = 10, vmin: int = -20, vmax: int = 20) -> list[int]:
    return [rng.randint(vmin, vmax) for _ in range(rng.randint(lo, hi))]


def text(rng: random.Random, lo: int = 0, hi: int = 30, alphabet: str = string.ascii_letters + " ,.!?0123456789") -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def repeat(rng: random.Random, n: int, make: Callable[[random.Random], tuple]) -> list[tuple]:
    return [make(rng) for _ in range(n)]


def all_families() -> list[Family]:
    from envs.code.families import lists, mathx, parsing, strings, structures

    found = [*strings.FAMILIES, *lists.FAMILIES, *mathx.FAMILIES, *parsing.FAMILIES, *structures.FAMILIES]
    names = [f.name for f in found]
    if len(set(names)) != len(names):
        raise ValueError("family names must be unique")
    return found
