"""envs/sql/reward.py (execution match, partial signals) and envs/sql/verify.py (gold checks),
against hand-computed expectations."""

import sqlite3

import pytest

from envs.sql.reward import is_ordered, results_match, schema_items, schema_overlap, syntax_valid
from envs.sql.verify import AmbiguousGold, check_gold


# ----- results_match ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pred, gold, ordered, expected",
    [
        # row order: ignored without ORDER BY, respected with it
        ([(1,), (2,)], [(2,), (1,)], False, True),
        ([(1,), (2,)], [(2,), (1,)], True, False),
        ([(1,), (2,)], [(1,), (2,)], True, True),
        # duplicates matter (multiset, not set)
        ([(1,), (1,)], [(1,)], False, False),
        ([(1,)], [(1,), (1,)], False, False),
        ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),
        ([(1,), (2,), (1,)], [(1,), (1,), (2,)], False, True),
        # column order tolerated ...
        ([(1, "a")], [("a", 1)], False, True),
        ([(1, "a")], [("a", 1)], True, True),
        ([(4, 1), (2, 3)], [(1, 4), (3, 2)], False, True),
        # ... but columns move together: each column alone matches some gold column, no permutation fits
        ([(1, 4), (3, 2)], [(2, 1), (4, 3)], False, False),
        ([(1, 4), (3, 2)], [(1, 2), (3, 4)], False, False),
        # each pred column is used once: mapping both gold columns to pred column 1 would "match"
        ([(1, 2), (2, 1)], [(1, 1), (2, 2)], False, False),
        # a column permutation plus a row reordering, ordered: swapping columns 2 and 3 gives gold exactly
        ([(1, 1, 2), (1, 2, 1)], [(1, 2, 1), (1, 1, 2)], True, True),
        # different column counts
        ([(1, 2)], [(1,)], False, False),
        ([(1,)], [(1, 2)], False, False),
        # empty results
        ([], [], False, True),
        ([], [], True, True),
        ([], [(1,)], False, False),
        ([(1,)], [], False, False),
        # floats: rounded to 6 decimals; 1 == 1.0
        ([(1.0000001,)], [(1,)], False, True),
        ([(1.0000001,)], [(1.0,)], False, True),
        ([(0.1 + 0.2,)], [(0.3,)], False, True),
        ([(1.01,)], [(1,)], False, False),
        ([(1.00001,)], [(1,)], False, False),
        ([(1,)], [(1.0,)], False, True),
        ([(2.5, 1)], [(1.0, 2.5)], False, True),
        # NULLs
        ([(None, "a")], [(None, "a")], False, True),
        ([("a", None)], [(None, "a")], False, True),
        ([(None,)], [(0,)], False, False),
        ([(None,)], [("",)], False, False),
        ([(None,), (1,)], [(1,), (None,)], False, True),
        ([(None,), (1,)], [(1,), (None,)], True, False),
        # mixed types: text '1' is not the number 1
        ([("1",)], [(1,)], False, False),
        ([(1, "x", None), (2.5, "y", 3)], [("x", 1, None), ("y", 2.5, 3)], False, True),
        ([(1, "x", None), (2.5, "y", 3)], [("y", 2.5, 3), ("x", 1, None)], True, False),
        ([(1, "x", None), (2.5, "x", 3)], [("x", 1, None), ("y", 2.5, 3)], False, False),
    ],
)
def test_results_match(pred, gold, ordered, expected):
    assert results_match(pred, gold, ordered) is expected


def test_results_match_accepts_lists_from_sqlite():
    conn = sqlite3.connect(":memory:")
    conn.executescript("create table t(a int, b text); insert into t values (2, 'y'), (1, 'x'), (2, 'y');")
    gold = conn.execute("select a, b from t order by a").fetchall()
    assert results_match(conn.execute("select b, a from t").fetchall(), gold, ordered=False)
    assert not results_match(conn.execute("select b, a from t").fetchall(), gold, ordered=True)  # (2,y) first
    assert results_match(conn.execute("select b, a * 1.0 from t order by a").fetchall(), gold, ordered=True)
    assert not results_match(conn.execute("select distinct b, a from t").fetchall(), gold, ordered=False)


@pytest.mark.timeout(2)
def test_results_match_column_search_is_not_exponential():
    width = 8
    gold = [(0,) * width, (1,) * width]
    pred = [tuple(i % 2 for i in range(width)), tuple((i + 1) % 2 for i in range(width))]
    assert results_match(pred, gold, ordered=False) is False


# ----- is_ordered ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("select a from t order by a desc limit 3", True),
        ("SELECT a FROM t", False),
        ("SELECT * FROM (SELECT a FROM t ORDER BY a)", False),  # only the top level counts
        ("SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b LIMIT 1)", False),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a", True),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", True),
        ("SELECT a FROM t UNION SELECT b FROM u", False),
        ("", False),
        ("SELECT FROM", False),
    ],
)
def test_is_ordered(sql, expected):
    assert is_ordered(sql) is expected


def test_is_ordered_unparseable_text_is_false():
    assert is_ordered("SELECT 'abc") is False


# ----- syntax_valid -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT 1", 1.0),
        ("select name from a join b on a.id=b.aid", 1.0),
        ("SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT 3", 1.0),
        ("", 0.0),
        ("SELECT FROM", 0.0),
        ("SELEC 1", 0.0),
        ("SELECT * FROM", 0.0),
        ("SELECT 1 +", 0.0),
        ("SELECT * FROM t WHERE", 0.0),
        ("SELECT 'abc", 0.0),  # a tokenizer error counts as invalid, not an exception
    ],
)
def test_syntax_valid(sql, expected):
    assert syntax_valid(sql) == expected


# ----- schema_items / schema_overlap --------------------------------------------------------------
@pytest.mark.parametrize(
    "sql, expected",
    [
        ("select name from a join b on a.id=b.aid", {"t:a", "t:b", "c:name", "c:id", "c:aid"}),
        ("select name from a", {"t:a", "c:name"}),
        (
            "SELECT T1.name FROM artist AS T1 JOIN album AS T2 ON T1.id = T2.artist_id",
            {"t:artist", "t:album", "c:name", "c:id", "c:artist_id"},
        ),
        ('SELECT "Name" FROM "Artist" WHERE Id IN (SELECT ARTIST_ID FROM album)', {"t:artist", "t:album", "c:name", "c:id", "c:artist_id"}),
        ("SELECT * FROM a", {"t:a"}),
        ("SELECT COUNT(*) FROM a", {"t:a"}),
        ("SELECT T1.* FROM artist AS T1", {"t:artist"}),
        ("SELECT a FROM a", {"t:a", "c:a"}),
        ("SELECT 1", set()),
        ("SELECT FROM", set()),
        ("SELECT 'abc", set()),
    ],
)
def test_schema_items(sql, expected):
    assert schema_items(sql) == expected


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        # {t:a, c:name} & {t:a, t:b, c:name, c:id, c:aid} = 2 of 5
        ("select name from a join b on a.id=b.aid", "select name from a", 2 / 5),
        ("select name from a", "select name from a join b on a.id=b.aid", 2 / 5),
        ("select name from a", "SELECT NAME FROM A", 1.0),
        # {t:artist, t:album, c:name, c:id, c:artist_id} vs {t:album, c:title}: 1 of 6
        ("SELECT T1.name FROM artist AS T1 JOIN album AS T2 ON T1.id = T2.artist_id", "SELECT title FROM album", 1 / 6),
        # {t:a, c:a} vs {t:a, c:b}: 1 of 3 (a table and a column of the same name are different items)
        ("SELECT a FROM a", "SELECT b FROM a", 1 / 3),
        ("SELECT * FROM a", "SELECT COUNT(*) FROM a", 1.0),
        ("SELECT 1", "select name from a", 0.0),
        ("not sql at all (", "select name from a", 0.0),
        ("SELECT 1", "SELECT 2", 0.0),  # nothing mentioned on either side
        ("SELECT FROM", "SELECT 'abc", 0.0),
    ],
)
def test_schema_overlap(pred, gold, expected):
    assert schema_overlap(pred, gold) == pytest.approx(expected, abs=1e-12)


# ----- check_gold ---------------------------------------------------------------------------------
@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:")
    c.executescript(
        """
        create table t(name text, score int);
        insert into t values ('a', 30), ('b', 20), ('c', 20), ('d', 10);
        create table n(x int, y int);
        insert into n values (null, null), (1, null);
        """
    )
    yield c
    c.close()


@pytest.mark.parametrize(
    "sql, rows",
    [
        ("select name from t order by score desc limit 1", [("a",)]),  # unique top score
        ("select score from t order by score desc limit 3", [(30,), (20,), (20,)]),  # tied rows are identical
        ("select score from t order by score desc limit 2", [(30,), (20,)]),  # tie at the cut, identical rows
        ("select name from t order by score desc, name", [("a",), ("b",), ("c",), ("d",)]),  # tie broken
        ("select name from t where score = 20", [("b",), ("c",)]),  # no ORDER BY: set answer
        ("select x, y from n where x = 1", [(1, None)]),  # some NULLs are fine
        ("select name from t union select name from t order by 1 limit 1", [("a",)]),  # set ops: not tie-checked
    ],
)
def test_check_gold_accepts_fair_queries(conn, sql, rows):
    assert check_gold(conn, sql) == rows


def test_check_gold_accepts_ties_between_identical_rows(conn):
    assert check_gold(conn, "select score from t order by score desc limit 3") == [(30,), (20,), (20,)]
    assert check_gold(conn, "select score from t order by score") == [(10,), (20,), (20,), (30,)]


@pytest.mark.parametrize(
    "sql, message",
    [
        ("select name from t limit 2", "LIMIT without ORDER BY is arbitrary"),
        ("select name from t order by score desc limit 2", "ORDER BY keys tie between different rows ('b',) and ('c',)"),
        ("select name from t order by score desc limit 3", "ORDER BY keys tie between different rows ('b',) and ('c',)"),
        ("select name from t order by score", "ORDER BY keys tie between different rows ('b',) and ('c',)"),
        ("select name, score from t order by score", "ORDER BY keys tie between different rows ('b', 20) and ('c', 20)"),
        ("select name from t where score > 100", "gold query returns no rows"),
        ("select x, y from n", "gold query returns an all-NULL row"),
        ("select y from n where x = 1", "gold query returns an all-NULL row"),
        ("select y from n where x is null", "gold query returns an all-NULL row"),
        ("select nme from t", "gold query fails: no such column: nme"),
    ],
)
def test_check_gold_rejects_unfair_queries(conn, sql, message):
    with pytest.raises(AmbiguousGold, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_gold(conn, sql)


def test_check_gold_tie_at_the_limit_cut_is_rejected(conn):
    # b and c tie at 20; LIMIT 2 keeps a and one of them: which one is arbitrary.
    with pytest.raises(AmbiguousGold):
        check_gold(conn, "select name from t order by score desc limit 2")
    # LIMIT 1 cuts above the tie: fine.
    assert check_gold(conn, "select name from t order by score desc limit 1") == [("a",)]


def test_check_gold_order_by_ordinal(conn):
    assert check_gold(conn, "select name, score from t order by 2 desc limit 1") == [("a", 30)]


def test_check_gold_order_by_alias(conn):
    sql = "select count(*) as c, score from t group by score order by c desc limit 1"
    assert check_gold(conn, sql) == [(2, 20)]


def test_check_gold_tie_at_offset_cut_is_rejected(conn):
    with pytest.raises(AmbiguousGold):
        check_gold(conn, "select name from t order by score desc limit 1 offset 1")


def test_blob_never_equals_the_text_of_its_hex_digits():
    assert not results_match([(b"\xab\xcd",)], [("abcd",)], ordered=False)
    assert results_match([(b"\xab\xcd",)], [(b"\xab\xcd",)], ordered=False)


def test_results_match_finds_the_column_map_among_identical_candidates():
    # Columns 0 and 1 of pred hold the same values; only mapping (2, 0, 1) lines the rows up.
    gold = [(1, "x", "x"), (2, "y", "y")]
    pred = [("x", "x", 1), ("y", "y", 2)]
    assert results_match(pred, gold, ordered=True)
    assert not results_match([("x", "y", 1), ("y", "x", 2)], gold, ordered=False)
