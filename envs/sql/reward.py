"""SQL rewards.

**Execution match** (Spider-style): the predicted and gold queries run on the same database and
their results are compared as a multiset of rows, or as a list when the gold query has a
top-level ``ORDER BY``.  Columns may come in any order: the prediction matches if some
permutation of its columns makes the results equal.  Floats compare after rounding to 6 decimals;
``1`` equals ``1.0`` (SQLite's own typing makes that distinction arbitrary).

Partial signals, reported separately (``info["reward_parts"]``): ``syntax_valid`` is 1.0 when
sqlglot parses the prediction as a SQLite query; ``schema_overlap`` is the Jaccard overlap of the
tables and columns the two queries mention.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

import sqlglot
from sqlglot import exp

Row = tuple


def normalize_value(value: object) -> object:
    if isinstance(value, float):
        value = round(value, 6)
        return int(value) if value.is_integer() else value
    return value  # bytes stay bytes: a BLOB never equals the text of its hex digits


def normalize_rows(rows: Sequence[Sequence[object]]) -> list[Row]:
    return [tuple(normalize_value(v) for v in row) for row in rows]


def results_match(pred: Sequence[Sequence[object]], gold: Sequence[Sequence[object]], ordered: bool) -> bool:
    """Execution match of two result sets (see module docstring).

    The column permutation is found by backtracking: gold column ``i`` is mapped to an unused pred
    column with the same value multiset, and a partial map survives only while the rows projected
    on the columns mapped so far still match (as a multiset, or as a list when ``ordered``).
    Identical pred columns are interchangeable, so only the first unused one of a kind is tried.
    """
    pred, gold = normalize_rows(pred), normalize_rows(gold)
    if len(pred) != len(gold):
        return False
    if not gold:
        return True
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    gold_cols = [tuple(sort_key(r[i]) for r in gold) for i in range(width)]
    pred_cols = [tuple(sort_key(r[j]) for r in pred) for j in range(width)]
    gold_bags = [Counter(c) for c in gold_cols]
    pred_bags = [Counter(c) for c in pred_cols]
    options = [[j for j in range(width) if pred_bags[j] == gold_bags[i]] for i in range(width)]
    if any(not o for o in options):
        return False

    def project(cols: list[tuple], picks: list[int]) -> object:
        rows = list(zip(*(cols[k] for k in picks)))
        return rows if ordered else Counter(rows)

    def extend(picks: list[int]) -> bool:
        depth = len(picks)
        if depth == width:
            return True
        tried: set[tuple] = set()
        for j in options[depth]:
            if j in picks or pred_cols[j] in tried:
                continue
            tried.add(pred_cols[j])
            if project(pred_cols, picks + [j]) == project(gold_cols, list(range(depth + 1))) and extend(picks + [j]):
                return True
        return False

    return extend([])


def sort_key(value: object) -> tuple[int, object]:
    """A hashable, type-tagged key so that NULLs, numbers and text can share a Counter."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, bytes):
        return (3, value)
    return (2, str(value))


@functools.lru_cache(maxsize=8192)
def parse(sql: str) -> exp.Expression | None:
    """The SQLite parse tree of ``sql``, or None when sqlglot cannot read it.

    Cached: every submission parses the gold query (order, schema) and the prediction (syntax,
    schema), and a task's gold recurs in every sample of its group.  Callers must not mutate it.
    """
    try:
        return sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None


def is_ordered(sql: str) -> bool:
    """Whether the query's top-level SELECT has an ORDER BY (so row order is part of the answer)."""
    tree = parse(sql)
    return tree is not None and tree.args.get("order") is not None


def syntax_valid(sql: str) -> float:
    """1.0 when ``sql`` parses as a SQLite query (SELECT, set operation, WITH ... SELECT, VALUES).

    sqlglot reads a lone expression such as ``SELEC nonsense`` as an aliased column, so a parse
    alone is not enough: the tree's root must be a query.
    """
    return float(isinstance(parse(sql), (exp.Query, exp.Values)))


def schema_items(sql: str) -> set[str]:
    """Lower-cased table names and column names a query mentions (``t:name`` / ``c:name``)."""
    tree = parse(sql)
    if tree is None:
        return set()
    tables = {f"t:{t.name.lower()}" for t in tree.find_all(exp.Table)}
    columns = {f"c:{c.name.lower()}" for c in tree.find_all(exp.Column) if c.name != "*"}
    return tables | columns


def schema_overlap(pred_sql: str, gold_sql: str) -> float:
    pred, gold = schema_items(pred_sql), schema_items(gold_sql)
    if not pred and not gold:
        return 0.0
    return len(pred & gold) / len(pred | gold)
