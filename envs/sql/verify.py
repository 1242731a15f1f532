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
    identical within the returned window and across both of its cuts (``OFFSET`` and ``LIMIT``),
    else the order or the cut is arbitrary.
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

    offset = _offset(tree, sql)
    keyed = tree.copy()
    keyed.set("limit", None)
    keyed.set("offset", None)
    n_cols = len(tree.expressions)
    keys = [_order_key(tree, o.this) for o in order.expressions]
    keyed = keyed.select(*keys, append=True)
    try:
        full = conn.execute(keyed.sql(dialect="sqlite")).fetchall()
    except sqlite3.Error as e:
        raise AmbiguousGold(f"cannot check ORDER BY ties ({e}): {sql}") from e
    # The returned window plus the row on each side of it: a tie across a cut makes the cut arbitrary.
    window = full[max(offset - 1, 0) : offset + len(rows) + 1]
    for a, b in zip(window, window[1:]):
        if a[n_cols:] == b[n_cols:] and a[:n_cols] != b[:n_cols]:
            raise AmbiguousGold(f"ORDER BY keys tie between different rows {a[:n_cols]} and {b[:n_cols]}: {sql}")
    return rows


def _order_key(select: exp.Select, key: exp.Expression) -> exp.Expression:
    """The expression an ORDER BY key sorts by: ``ORDER BY 2`` and ``ORDER BY alias`` name a
    select-list item, which must be re-selected by its expression (a bare ``2`` is a constant)."""
    items = select.expressions
    if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.name) <= len(items):
        return items[int(key.name) - 1].unalias().copy()
    if isinstance(key, exp.Column) and not key.table:
        for item in items:
            if isinstance(item, exp.Alias) and item.alias.lower() == key.name.lower():
                return item.this.copy()
    return key.copy()


def _offset(select: exp.Select, sql: str) -> int:
    node = select.args.get("offset")
    if node is None:
        return 0
    value = node.expression if isinstance(node, exp.Offset) else node
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.name)
    raise AmbiguousGold(f"OFFSET must be an integer literal in a gold query: {sql}")
