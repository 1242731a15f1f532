"""The built-in SQL task set: generated databases plus Chinook, built once into a cache.

Layout under ``<cache>/sql-v1/``: ``databases/<db_id>.sqlite`` and ``{train,val,test}.jsonl``.
``train``/``val`` share the train/val domains (val holds ~15 % of each domain's questions);
``test`` holds only the test domains and the real Chinook database, so no test database is seen
in training.  The build is deterministic: the same version always yields the same files.
"""

from __future__ import annotations

import random
import sqlite3
import zlib
from pathlib import Path

from envs.sql.chinook import build_chinook, chinook_tasks
from envs.sql.domains import TEST_DOMAINS, TRAINVAL_DOMAINS
from envs.sql.domains.base import Domain
from envs.tasks import JsonlTaskSet, Task, build_atomically, cache_root, load_built

DATA_VERSION = "sql-v1"
VAL_FRACTION = 0.15


class SQLTaskSet(JsonlTaskSet):
    """Tasks whose ``data["db_id"]`` names a SQLite file under ``<root>/databases``."""

    def db_path(self, db_id: str) -> Path:
        path = self.root / "databases" / f"{db_id}.sqlite"
        if not path.exists():
            raise FileNotFoundError(f"no database {db_id!r} at {path}")
        return path


def load_sql_tasks(root: Path | None = None) -> SQLTaskSet:
    """The built-in SQL task set, building it first if the cache lacks it.

    Read-only and shared: every env made in this process reuses one index per folder.
    """
    return load_built(Path(root) if root else cache_root() / DATA_VERSION, SQLTaskSet, build_sql_data)


def build_sql_data(root: Path) -> float:
    """Build every database and task file into ``root`` atomically; returns seconds taken."""

    def build(folder: Path) -> None:
        (folder / "databases").mkdir()
        tasks: list[Task] = []
        for domain in TRAINVAL_DOMAINS:
            tasks += _domain_tasks(domain, folder / "databases", test=False)
        for domain in TEST_DOMAINS:
            tasks += _domain_tasks(domain, folder / "databases", test=True)
        build_chinook(folder / "databases" / "chinook.sqlite")
        tasks += chinook_tasks("test")
        JsonlTaskSet.write(folder, tasks)

    return build_atomically(root, build)


def _domain_tasks(domain: Domain, db_dir: Path, test: bool) -> list[Task]:
    seed = zlib.crc32(domain.name.encode())  # stable across processes, unlike hash()
    conn = sqlite3.connect(db_dir / f"{domain.name}.sqlite")
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        domain.create(conn, random.Random(seed))
        conn.commit()
        questions = domain.questions(conn, random.Random(seed + 1))
    finally:
        conn.close()
    order = list(range(len(questions)))
    random.Random(seed + 2).shuffle(order)
    n_val = 0 if test else max(1, round(len(questions) * VAL_FRACTION))
    val = set(order[:n_val])
    return [
        Task(
            id=f"{domain.name}/{i:04d}",
            split="test" if test else ("val" if i in val else "train"),
            prompt=q.question,
            answer=q.sql,
            data={"db_id": domain.name, "gold_sql": q.sql, "kind": q.kind, "tables": list(q.tables)},
        )
        for i, q in enumerate(questions)
    ]
