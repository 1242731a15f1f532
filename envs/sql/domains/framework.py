"""A small declarative framework for generated SQL domains.

A domain is a list of :class:`Table` specs.  Each column has a generator ``gen(rng, row, db)``
(``row``: the columns generated so far for this row, ``db``: every table built so far, as lists
of row dicts) and a *role* that tells the generic question templates (:mod:`.templates`) how to
use it: ``title`` (a unique name that identifies a row), ``cat`` (a low-cardinality category to
filter and group on), ``num`` (a measure), ``date`` (ISO ``YYYY-MM-DD`` text), ``fk`` (a foreign
key; the framework fills it with a skewed choice of parent ids, leaving some parents childless)
or ``attr`` (stored, never asked about).  The ``where``/``have`` phrases make the questions read
naturally: ``where="from {v}"`` gives "customers from Lyon", an FK's ``have="placed {n} orders"``
gives "customers who placed more than 3 orders".

Everything derives from the ``random.Random`` passed in, in a fixed order, so the same seed gives
byte-identical databases and identical questions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from envs.sql.domains import words
from envs.sql.domains.base import KINDS, GeneratedQuestion
from envs.sql.domains.schema import Cand, Col, Gen, Table, Template
from envs.sql.domains.templates import Ctx
from envs.sql.domains.templates_grouped import GENERIC
from envs.sql.verify import AmbiguousGold, check_gold


# ----- column helpers ------------------------------------------------------------------------
def title(name: str, gen: Gen, label: str = "", **kw: Any) -> Col:
    return Col(name, "TEXT", gen, "title", label or name.replace("_", " "), unique=True, **kw)


def cat(name: str, values: Sequence[Any], weights: Sequence[float] | None = None, type: str = "TEXT", **kw: Any) -> Col:
    values = tuple(values)
    cum = list(itertools.accumulate(weights)) if weights else None
    return Col(name, type, lambda r, row, db: r.choices(values, cum_weights=cum)[0], "cat", **kw)


def num(name: str, lo: float, hi: float, digits: int = 0, skew: float = 1.0, **kw: Any) -> Col:
    """Uniform in [lo, hi] (``skew > 1`` favours low values); ``digits=0`` makes INTEGERs."""

    def gen(r: random.Random, row: dict, db: dict) -> Any:
        x = lo + (hi - lo) * r.random() ** skew
        return round(x) if digits == 0 else round(x, digits)

    return Col(name, "INTEGER" if digits == 0 else "REAL", gen, "num", **kw)


def year(name: str, lo: int, hi: int, **kw: Any) -> Col:
    """A year: compared with after/before, never summed."""
    return num(name, lo, hi, cmp=("after", "before"), additive=False, **kw)


def money(name: str, lo: float, hi: float, skew: float = 2.0, digits: int = 2, **kw: Any) -> Col:
    """An amount in dollars, with cents (``digits=2``) or whole (``digits=0``)."""
    return num(name, lo, hi, digits, skew, fmt=kw.pop("fmt", "${:,.2f}" if digits else "${:,}"), **kw)


def date(name: str, start: str, end: str, **kw: Any) -> Col:
    a, b = dt.date.fromisoformat(start).toordinal(), dt.date.fromisoformat(end).toordinal()
    return Col(name, "TEXT", lambda r, row, db: dt.date.fromordinal(r.randint(a, b)).isoformat(), "date", **kw)


def date_after(name: str, base: str, lo: int, hi: int, role: str = "date", **kw: Any) -> Col:
    """A date ``lo``..``hi`` days after column ``base`` of the same row."""

    def gen(r: random.Random, row: dict, db: dict) -> str:
        return (dt.date.fromisoformat(row[base]) + dt.timedelta(days=r.randint(lo, hi))).isoformat()

    return Col(name, "TEXT", gen, role, **kw)


def fk(name: str, ref: str, **kw: Any) -> Col:
    return Col(name, "INTEGER", None, "fk", ref=ref, **kw)


def attr(name: str, gen: Gen, type: str = "TEXT", role: str = "attr", **kw: Any) -> Col:
    """A column computed by ``gen``; ``role`` makes it usable in questions."""
    return Col(name, type, gen, role, **kw)


def lookup(name: str, via: str, table: str, col: str, scale: tuple[float, float] = (1.0, 1.0), **kw: Any) -> Col:
    """Copies ``table.col`` of the parent row ``via`` points at, times a random factor."""

    def gen(r: random.Random, row: dict, db: dict) -> Any:
        x = db[table][row[via] - 1][col]
        return round(x * r.uniform(*scale), 2) if scale != (1.0, 1.0) else x

    return Col(name, "REAL", gen, kw.pop("role", "num"), **kw)


def person(r: random.Random, row: dict, db: dict) -> str:
    return f"{r.choice(words.FIRST_NAMES)} {r.choice(words.LAST_NAMES)}"


def address(r: random.Random, row: dict, db: dict) -> str:
    return f"{r.randint(1, 240)} {r.choice(words.STREETS)} {r.choice(words.STREET_KINDS)}"


# ----- the domain ----------------------------------------------------------------------------
@dataclass
class SpecDomain:
    name: str
    tables: list[Table]
    extra: list[Template] = field(default_factory=list)  # domain-specific question templates
    per_kind: int = 20
    tries: int = 6  # draws per template

    def create(self, conn: sqlite3.Connection, rng: random.Random) -> None:
        db: dict[str, list[dict]] = {}
        for t in self.tables:
            conn.execute(self._ddl(t))
            db[t.name] = rows = []
            weights = {c.name: self._fk_weights(c, db, rng) for c in t.of("fk")}
            seen: dict[str, set] = {c.name: set() for c in t.cols if c.unique}
            for i in range(1, t.rows + 1):
                row: dict[str, Any] = {t.key: i}
                for c in t.cols:
                    row[c.name] = self._value(c, row, db, rng, weights, seen)
                rows.append(row)
            names = [t.key] + [c.name for c in t.cols]
            marks = ", ".join("?" * len(names))
            insert = f"INSERT INTO {t.name} ({', '.join(names)}) VALUES ({marks})"
            conn.executemany(insert, [tuple(r[n] for n in names) for r in rows])
        conn.commit()

    def _ddl(self, t: Table) -> str:
        keys = {x.name: x.key for x in self.tables}
        lines = [f"  {t.key} INTEGER PRIMARY KEY"]
        lines += [f"  {c.name} {c.type} NOT NULL{' UNIQUE' if c.unique else ''}" for c in t.cols]
        lines += [f"  FOREIGN KEY ({c.name}) REFERENCES {c.ref} ({keys[c.ref]})" for c in t.of("fk")]
        return f"CREATE TABLE {t.name} (\n" + ",\n".join(lines) + "\n)"

    @staticmethod
    def _fk_weights(c: Col, db: dict, rng: random.Random) -> list[float]:
        n = len(db[c.ref])
        w = [0.0 if rng.random() < c.empty else rng.lognormvariate(0.0, 0.7) for _ in range(n)]
        return list(itertools.accumulate(w))

    @staticmethod
    def _value(c: Col, row: dict, db: dict, rng: random.Random, weights: dict, seen: dict) -> Any:
        if c.role == "fk":
            cum = weights[c.name]
            while True:
                v = rng.choices(range(1, len(cum) + 1), cum_weights=cum)[0]
                if not c.differs or v != row[c.differs]:
                    return v
        for _ in range(1000):
            v = c.gen(rng, row, db)
            if not c.unique or v not in seen[c.name]:
                break
        else:
            raise ValueError(f"cannot draw a unique {c.name}")
        if c.unique:
            seen[c.name].add(v)
        return v

    def questions(self, conn: sqlite3.Connection, rng: random.Random) -> list[GeneratedQuestion]:
        """Draw candidates from every template, keep the fair ones (deduplicated), then take up
        to ``per_kind`` of each kind, round-robin over templates.  Kinds still short after a
        round get more draws from the templates that produced them."""
        cx = Ctx(conn, self.tables)
        templates = [*GENERIC, *self.extra]
        kept: list[list[GeneratedQuestion]] = [[] for _ in templates]
        seen: set[str] = set()
        for round_ in range(3):
            counts = {k: sum(len(g) for g in kept if g and g[0].kind == k) for k in KINDS}
            for i, tmpl in enumerate(templates):
                if round_ and (not kept[i] or counts[kept[i][0].kind] >= self.per_kind):
                    continue
                for _ in range(self.tries):
                    c = tmpl(cx, rng)
                    if c is None or c.sql in seen or c.question in seen or not _fair(conn, c):
                        continue
                    seen.update((c.sql, c.question))
                    kept[i].append(GeneratedQuestion(c.question, c.sql, c.kind, c.tables))
        out: list[GeneratedQuestion] = []
        for kind in KINDS:
            pools = [g for g in kept if g and g[0].kind == kind]
            picked = [q for group in itertools.zip_longest(*pools) for q in group if q is not None]
            out += picked[: self.per_kind]
        return out


def _fair(conn: sqlite3.Connection, c: Cand) -> bool:
    try:
        rows = conn.execute(c.sql).fetchall()
    except sqlite3.Error:
        return False
    if not c.min_rows <= len(rows) <= c.max_rows:
        return False
    if c.nonzero and (len(rows) != 1 or not rows[0][0]):
        return False
    for alt in c.alts:
        if sorted(map(repr, conn.execute(alt).fetchall())) != sorted(map(repr, rows)):
            return False
    try:
        check_gold(conn, c.sql)
    except AmbiguousGold:
        return False
    return True
