"""Checks that a gold query makes a fair question: it runs, returns rows, and its answer is
unambiguous (no ties that would let an equally correct query return different rows or order)."""

from __future__ import annotations

import sqlite3

import sqlglot
from sqlglot import exp


class AmbiguousGold(ValueError):
    """The gold query is not a fair question (error, empty, or tie-dependent result)."""


def check_gold(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    """Run ``sql`` and return its rows; raise :class:`AmbiguousGold` if it is not a fair gold.

    Rules: the query must parse and run; it must return at least one row with no all-NULL row;
    a ``LIMIT`` needs an ``ORDER BY``; with ``ORDER BY``, rows that tie on the order keys must be
    identical within the returned prefix and at the ``LIMIT`` cut (else the order or the cut is
    arbitrary).
    """
    try:
        rows = conn.execute(sql).fetchall()
    except sqlite3.Error as e:
        raise AmbiguousGold(f"gold query fails: {e}: {sql}") from e
    if not rows:
        raise AmbiguousGold(f"gold query returns no rows: {sql}")
    if any(all(v is None for v in row) for row in rows):
        raise AmbiguousGold(f"gold query returns an all-NULL row: {sql}")

    tree = sqlglot.parse_one(sql, read="sqlite")
    if not isinstance(tree, exp.Select):
        return rows  # set operations: order ties are not checked
    order = tree.args.get("order")
    limit = tree.args.get("limit")
    if limit is not None and order is None:
        raise AmbiguousGold(f"LIMIT without ORDER BY is arbitrary: {sql}")
    if order is None:
        return rows

    keyed = tree.copy()
    keyed.set("limit", None)
    keyed.set("offset", None)
    n_cols = len(tree.expressions)
    keyed = keyed.select(*[o.this.copy() for o in order.expressions], append=True)
    full = conn.execute(keyed.sql(dialect="sqlite")).fetchall()
    cut = len(rows) + 1 if limit is not None else len(full)
    prefix = full[:cut]
    for a, b in zip(prefix, prefix[1:]):
        if a[n_cols:] == b[n_cols:] and a[:n_cols] != b[:n_cols]:
            raise AmbiguousGold(f"ORDER BY keys tie between different rows {a[:n_cols]} and {b[:n_cols]}: {sql}")
    return rows
