"""The generated SQL domains: schemas, foreign keys, sizes, determinism and fair gold queries."""

import random
import re
import sqlite3

import pytest
import sqlglot
from sqlglot import exp

from envs.sql.domains import TEST_DOMAINS, TRAINVAL_DOMAINS
from envs.sql.domains.base import KINDS
from envs.sql.verify import check_gold

ALL = TRAINVAL_DOMAINS + TEST_DOMAINS


def build(domain):
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA foreign_keys = ON")
    domain.create(conn, random.Random(0))
    return conn, domain.questions(conn, random.Random(0))


def tables(conn):
    return [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


@pytest.fixture(scope="module")
def built():
    return {d.name: build(d) for d in ALL}


def test_domain_counts_and_names():
    assert len(TRAINVAL_DOMAINS) >= 8 and len(TEST_DOMAINS) >= 3
    names = [d.name for d in ALL]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


def test_test_domains_share_no_table_names_with_trainval(built):
    trainval = {t for d in TRAINVAL_DOMAINS for t in tables(built[d.name][0])}
    test = {t for d in TEST_DOMAINS for t in tables(built[d.name][0])}
    assert not trainval & test


@pytest.mark.parametrize("domain", ALL, ids=lambda d: d.name)
def test_schema_foreign_keys_and_size(built, domain):
    conn, _ = built[domain.name]
    names = tables(conn)
    assert 3 <= len(names) <= 8
    fks = {t: conn.execute(f"PRAGMA foreign_key_list({t})").fetchall() for t in names}
    linked = {t for t, rows in fks.items() if rows} | {row[2] for rows in fks.values() for row in rows}
    assert linked == set(names), "every table takes part in a foreign key"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in names) >= 2000


@pytest.mark.parametrize("domain", ALL, ids=lambda d: d.name)
def test_questions_cover_every_kind_and_are_fair(built, domain):
    conn, questions = built[domain.name]
    assert len(questions) >= 50
    assert {q.kind for q in questions} == set(KINDS)
    assert len({q.sql for q in questions}) == len(questions)
    assert len({q.question for q in questions}) == len(questions)
    for q in questions:
        rows = check_gold(conn, q.sql)  # raises AmbiguousGold if unfair
        if re.match(r"SELECT COUNT\(", q.sql):
            assert rows[0][0] > 0, q.sql
        read = {t.name for t in sqlglot.parse_one(q.sql, read="sqlite").find_all(exp.Table)}
        assert read == set(q.tables), q.sql
        assert q.question.endswith((".", "?")) and "  " not in q.question


def test_same_seed_gives_identical_databases_and_questions(built):
    for domain in ALL:
        conn, questions = built[domain.name]
        conn2, questions2 = build(domain)
        assert list(conn.iterdump()) == list(conn2.iterdump()), domain.name
        assert questions == questions2, domain.name
