"""The data model of a generated SQL domain: column and table specs, and question candidates.

Kept apart from :mod:`.framework` (which builds databases and draws questions) so the question
templates (:mod:`.templates`, :mod:`.templates_grouped`) can use these types while the framework
imports the templates: the imports point one way, schema <- templates <- framework.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Gen = Callable[[random.Random, dict, dict], Any]


def plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


@dataclass(frozen=True)
class Col:
    name: str
    type: str = "TEXT"
    gen: Gen | None = None
    role: str = "attr"  # title | cat | num | date | fk | attr
    label: str = ""  # words for the column in questions; defaults to the name
    labels: str = ""  # plural of label
    where: str = ""  # phrase for rows with value {v}, e.g. "from {v}", "priced {v}"
    have: str = ""  # fk only: what parents do {n} times, e.g. "placed {n} orders", "have|has {n} loans"
    ref: str = ""  # fk only: referenced table
    fmt: str = "{}"  # how a value is written in a question, e.g. "${:,.2f}"
    unique: bool = False
    cmp: tuple[str, str] = ("above", "below")  # words for > and <, e.g. ("after", "before") for years
    additive: bool = True  # num only: does a SUM make sense (not for years, ratings...)
    empty: float = 0.06  # fk only: share of parents that get no children
    differs: str = ""  # fk only: never equal to this other column of the row (origin != destination)

    @property
    def lab(self) -> str:
        name = self.name[:-3] if self.role == "fk" and self.name.endswith("_id") else self.name
        return self.label or name.replace("_", " ")

    @property
    def labs(self) -> str:
        return self.labels or plural(self.lab)

    def show(self, value: Any) -> str:
        return self.fmt.format(value)


@dataclass(frozen=True)
class Table:
    name: str
    noun: str  # singular, e.g. "order item"
    rows: int
    cols: tuple[Col, ...]
    plural: str = ""
    pk: str = ""  # defaults to <noun>_id
    quote: bool = False  # write titles in quotes ('the book "Night Train"')

    @property
    def pl(self) -> str:
        return self.plural or plural(self.noun)

    @property
    def key(self) -> str:
        return self.pk or self.noun.replace(" ", "_") + "_id"

    def of(self, role: str) -> list[Col]:
        return [c for c in self.cols if c.role == role]

    @property
    def title(self) -> Col | None:
        titles = self.of("title")
        return titles[0] if titles else None

    def ref(self, value: Any) -> str:
        """A row named in a question: 'the customer Alice Martin', 'the book "Night Train"'."""
        return f'the {self.noun} "{value}"' if self.quote else f"the {self.noun} {value}"

    def where(self, col: Col, v: str) -> str:
        if col.where:
            return col.where.format(v=v)
        if col.role == "fk":
            return f"linked to {v}"
        if col.role == "cat":
            return f"whose {col.lab} is {v}"
        return f"with {article(col.lab)} {v}"

    def have(self, col: Col, child: Table, n: str, singular: bool = False) -> str:
        """What a parent does with its children: 'placed more than 3 orders', 'have no loans'.

        The first word may be written 'plural|singular': ``have="appear|appears in {n} orders"``.
        """
        text = col.have.format(n=n) if col.have else f"have|has {n} {child.pl}"
        verb, rest = text.split(" ", 1)
        if "|" in verb:
            verb = verb.split("|")[1 if singular else 0]
        return f"{verb} {rest}"


@dataclass
class Cand:
    """A candidate question; kept if it passes :func:`check_gold` and its result fits."""

    question: str
    sql: str
    kind: str
    tables: tuple[str, ...]
    max_rows: int = 12
    min_rows: int = 1
    nonzero: bool = False  # a single value that must be non-zero / non-NULL
    alts: tuple[str, ...] = ()  # other readings of the question: must give the same rows


Template = Callable[[Any, random.Random], "Cand | None"]
