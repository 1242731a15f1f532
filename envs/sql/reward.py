"""SQL rewards.

**Execution match** (Spider-style): the predicted and gold queries run on the same database and
their results are compared as a multiset of rows, or as a list when the gold query has a
top-level ``ORDER BY``.  Columns may come in any order: the prediction matches if some
permutation of its columns makes the results equal.  Floats compare after rounding to 6 decimals;
``1`` equals ``1.0`` (SQLite's own typing makes that distinction arbitrary).

Partial signals, reported separately (``info["reward_parts"]``): ``syntax_valid`` is 1.0 when
sqlglot parses the prediction as SQLite; ``schema_overlap`` is the Jaccard overlap of the
tables and columns the two queries mention.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import sqlglot
from sqlglot import exp

Row = tuple


def normalize_value(value: object) -> object:
    if isinstance(value, float):
        value = round(value, 6)
        return int(value) if value.is_integer() else value
    if isinstance(value, bytes):
        return value.hex()
    return value


def normalize_rows(rows: Sequence[Sequence[object]]) -> list[Row]:
    return [tuple(normalize_value(v) for v in row) for row in rows]


def results_match(pred: Sequence[Sequence[object]], gold: Sequence[Sequence[object]], ordered: bool) -> bool:
    """Execution match of two result sets (see module docstring)."""
    pred, gold = normalize_rows(pred), normalize_rows(gold)
    if len(pred) != len(gold):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    gold_cols = [Counter(sort_key(r[i]) for r in gold) for i in range(width)]
    pred_cols = [Counter(sort_key(r[i]) for r in pred) for i in range(width)]
    # Candidate positions for each gold column: pred columns with the same value multiset.
    options = [[j for j in range(width) if pred_cols[j] == gold_cols[i]] for i in range(width)]
    if any(not o for o in options):
        return False
    gold_cmp = gold if ordered else Counter(gold)
    for perm in itertools.product(*options):
        if len(set(perm)) != width:
            continue
        permuted = [tuple(r[j] for j in perm) for r in pred]
        if (permuted if ordered else Counter(permuted)) == gold_cmp:
            return True
    return False


def sort_key(value: object) -> tuple[int, object]:
    """A hashable, type-tagged key so that NULLs, numbers and text can share a Counter."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def is_ordered(sql: str) -> bool:
    """Whether the query's top-level SELECT has an ORDER BY (so row order is part of the answer)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return False
    return tree.args.get("order") is not None


def syntax_valid(sql: str) -> float:
    try:
        return float(sqlglot.parse_one(sql, read="sqlite") is not None)
    except sqlglot.errors.SqlglotError:
        return 0.0


def schema_items(sql: str) -> set[str]:
    """Lower-cased table names and column names a query mentions (``t:name`` / ``c:name``)."""
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return set()
    tables = {f"t:{t.name.lower()}" for t in tree.find_all(exp.Table)}
    columns = {f"c:{c.name.lower()}" for c in tree.find_all(exp.Column) if c.name != "*"}
    return tables | columns


def schema_overlap(pred_sql: str, gold_sql: str) -> float:
    pred, gold = schema_items(pred_sql), schema_items(gold_sql)
    if not pred and not gold:
        return 0.0
    return len(pred & gold) / len(pred | gold)
