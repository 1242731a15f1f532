"""What a SQL domain provides: a deterministic database and questions with gold SQL."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from typing import Literal, Protocol

QuestionKind = Literal["select", "join", "aggregate", "group_having", "order_limit", "nested"]
KINDS: tuple[QuestionKind, ...] = ("select", "join", "aggregate", "group_having", "order_limit", "nested")


@dataclass(frozen=True)
class GeneratedQuestion:
    question: str  # natural-language question, as a user would ask it
    sql: str  # gold SQLite query
    kind: QuestionKind
    tables: tuple[str, ...] = field(default=())  # tables the gold query reads (schema linking)


class Domain(Protocol):
    name: str  # becomes the db_id, e.g. "library"

    def create(self, conn: sqlite3.Connection, rng: random.Random) -> None:
        """Create the schema (with foreign keys) and insert rows; deterministic given ``rng``."""

    def questions(self, conn: sqlite3.Connection, rng: random.Random) -> list[GeneratedQuestion]:
        """Questions over the database ``create`` built; deterministic given ``rng``."""
