"""``turngym/SQL-v0``: answer a question by querying a real SQLite database.

Tools: ``list_tables``, ``describe_table``, ``execute_sql`` and ``submit_sql``.  Every query runs
on a read-only connection (URI ``mode=ro`` plus an authorizer that allows reads only, so no
``ATTACH``, ``PRAGMA`` writes or temp tables), under a per-statement time limit, with row and
output caps.  ``submit_sql`` ends the episode with the execution-match score
(:mod:`envs.sql.reward`); with ``partial_weight > 0`` a wrong submission earns
``partial_weight * (syntax_valid + schema_overlap) / 2`` instead of 0.

Credit signals: ``info["answer"]`` is the gold query (the oracle submits it); on reset
``info["probe_answer"]`` is the gold *result* as text (rows as ``a | b`` lines, at most 20 rows and
400 characters), which information-gain probes score.  ``state_key`` is the task id with whether
the tables were listed, which tables were described and how many queries ran: episodes of one task
with the same exploration behind them are in the same anchor state.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

from envs.core import ToolEnv
from envs.sql import reward as R
from envs.tasks import Split, Task, TaskSet
from tools import ToolError, tool
from tools.text import sendable

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}
_SUBMIT_ROW_CAP = 100_000  # a submission's full result is compared, up to this many rows
_PROBE_CHARS = 400  # probe answers longer than this are cut: a probe scores a short span
_GOLD_CACHE: dict[tuple[str, int, str], list[tuple]] = {}  # (db file, its mtime, gold sql) -> rows


class SQLEnv(ToolEnv):
    family = "sql"
    default_max_turns = 12
    system_intro = (
        "You answer questions about a SQLite database. Explore it with list_tables and "
        "describe_table, test queries with execute_sql, and finish with submit_sql(query): the "
        "query whose result answers the question. Select only the columns the question asks for."
    )

    def __init__(
        self,
        split: Split = "train",
        tasks: TaskSet | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        query_timeout: float = 2.0,
        max_rows: int = 50,
        max_output_chars: int = 4000,
        partial_weight: float = 0.0,
        max_observation_chars: int | None = None,
    ):
        if tasks is None:
            from envs.sql.data import load_sql_tasks

            tasks = load_sql_tasks()
        if not hasattr(tasks, "db_path"):
            raise TypeError("SQLEnv needs a task set with a db_path(db_id) method")
        if not 0.0 <= partial_weight < 1.0:
            raise ValueError(f"partial_weight must lie in [0, 1), got {partial_weight}")
        super().__init__(
            tasks, split=split, max_turns=max_turns, render_mode=render_mode, max_observation_chars=max_observation_chars
        )
        self.query_timeout = query_timeout
        self.max_rows = max_rows
        self.max_output_chars = max_output_chars
        self.partial_weight = partial_weight
        self.conn: sqlite3.Connection | None = None

    # ----- episode ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        # information-gain probes score the gold *result* as text (info["answer"] stays the gold query, for the oracle)
        try:
            rows = self._gold_rows(self.task.data["gold_sql"])
            info["probe_answer"] = "\n".join(" | ".join("NULL" if v is None else str(v) for v in r) for r in rows[:20])[:_PROBE_CHARS]
        except Exception:  # a gold query that cannot run here: no probe answer, the episode goes on
            pass
        return obs, info

    def start_task(self, task: Task) -> None:
        path = self._db_path = self.tasks.db_path(task.data["db_id"])
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.set_authorizer(lambda action, *_: sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY)
        self._listed = False
        self._described: set[str] = set()
        self._queries_ok = 0

    def end_task(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def task_prompt(self, task: Task) -> str:
        hint = f"\nHint: {task.data['evidence']}" if task.data.get("evidence") else ""
        return f"Database: {task.data['db_id']}\nQuestion: {task.prompt}{hint}"

    def state_key(self) -> str:
        task_id = self.task.id if self.task else None
        return json.dumps([task_id, getattr(self, "_listed", False), sorted(getattr(self, "_described", ())), getattr(self, "_queries_ok", 0)])

    # ----- tools --------------------------------------------------------------------------
    @tool
    def list_tables(self) -> str:
        """List the database's tables with their row counts."""
        names = [r[0] for r in self._run("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        self._listed = True
        counts = [self._run(f'SELECT COUNT(*) FROM "{n}"')[0][0] for n in names]
        return "\n".join(f"{n} ({c} rows)" for n, c in zip(names, counts))

    @tool
    def describe_table(self, table: str) -> str:
        """Show a table's columns, keys and three example rows.

        Args:
            table: The table name, as list_tables shows it.
        """
        sendable(table, "the table name", nul=True)
        found = self._run("SELECT name, sql FROM sqlite_master WHERE type='table' AND lower(name)=lower(?)", (table,))
        if not found:
            raise ToolError(f"no table named {table!r}. Call list_tables to see the tables.")
        name, ddl = found[0]
        self._described.add(name)
        sample = self._query(f'SELECT * FROM "{name}" LIMIT 3', max_rows=3)
        return f"{ddl}\n\nExample rows:\n{sample}"

    @tool
    def execute_sql(self, query: str) -> str:
        """Run a read-only SQLite query and show its result (capped in rows and length).

        Args:
            query: One SQLite SELECT statement.
        """
        text = self._query(query, max_rows=self.max_rows)
        self._queries_ok += 1
        return text

    @tool(ends_episode=True)
    def submit_sql(self, query: str) -> str:
        """Submit the query that answers the question. This ends the episode.

        Args:
            query: The SQLite SELECT statement whose result is the answer.
        """
        gold_sql = self.task.data["gold_sql"]
        try:
            pred_rows = self._run(query, cap=_SUBMIT_ROW_CAP)
            error = None
        except ToolError as e:
            pred_rows, error = None, str(e)
        gold_rows = self._gold_rows(gold_sql)
        match = pred_rows is not None and R.results_match(pred_rows, gold_rows, ordered=R.is_ordered(gold_sql))
        parts = {
            "execution_match": float(match),
            "syntax_valid": R.syntax_valid(query),
            "schema_overlap": R.schema_overlap(query, gold_sql),
        }
        outcome = 1.0 if match else self.partial_weight * (parts["syntax_valid"] + parts["schema_overlap"]) / 2
        self.finish(outcome, reward_parts=parts, submitted_sql=query)
        if error:
            return f"Submitted, but the query failed: {error}"
        return "Submitted: the result matches the expected answer." if match else "Submitted: the result does not match the expected answer."

    # ----- query plumbing -----------------------------------------------------------------
    def _gold_rows(self, gold_sql: str) -> list[tuple]:
        """The gold result, run once per (database file, query) and shared by every episode of the
        process: a group of samples of one task would otherwise re-run the same query each time."""
        stat = os.stat(self._db_path)
        key = (str(self._db_path), stat.st_mtime_ns, gold_sql)
        rows = _GOLD_CACHE.get(key)
        if rows is None:
            rows = _GOLD_CACHE[key] = self._run(gold_sql, cap=_SUBMIT_ROW_CAP, timeout=max(self.query_timeout, 30.0))
        return rows

    def _run(self, sql: str, params: tuple = (), cap: int | None = None, timeout: float | None = None) -> list[tuple]:
        return self._execute(sql, params, cap, timeout)[1]

    def _execute(self, sql: str, params: tuple = (), cap: int | None = None, timeout: float | None = None) -> tuple[list[str], list[tuple]]:
        """Execute with a deadline and return (column names, rows); SQL errors and timeouts
        become a ToolError for the model."""
        if self.conn is None:
            raise RuntimeError("no open database; call reset()")
        sendable(sql, "the query", nul=True)  # SQLite cannot encode a lone surrogate; it explains a NUL itself
        deadline = time.monotonic() + (timeout or self.query_timeout)
        self.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = self.conn.execute(sql, params)
            rows = cursor.fetchmany(cap) if cap else cursor.fetchall()
            return [d[0] for d in cursor.description or []], rows
        except sqlite3.Warning as e:  # e.g. "You can only execute one statement at a time."
            raise ToolError(f"SQL error: {e}") from None
        except sqlite3.Error as e:
            if "interrupted" in str(e):
                raise ToolError(f"query stopped after {timeout or self.query_timeout:g} s; simplify it or add filters") from None
            if "not authorized" in str(e):
                raise ToolError("SQL error: only read-only SELECT queries are allowed") from None
            raise ToolError(f"SQL error: {e}") from None
        finally:
            self.conn.set_progress_handler(None, 0)

    def _query(self, sql: str, max_rows: int) -> str:
        columns, rows = self._execute(sql, cap=max_rows + 1)
        return format_table(columns, rows, max_rows, self.max_output_chars)


def format_table(columns: list[str], rows: list[tuple], max_rows: int, max_chars: int) -> str:
    """Rows as a pipe-separated table, with a note when rows or characters were cut."""
    shown = rows[:max_rows]
    lines = [" | ".join(columns)] + [" | ".join("NULL" if v is None else str(v) for v in r) for r in shown]
    text = "\n".join(lines)
    notes = []
    if len(rows) > max_rows:
        notes.append(f"showing the first {max_rows} rows")
    if len(text) > max_chars:
        text = text[:max_chars]
        notes.append(f"output cut at {max_chars} characters")
    if not shown:
        notes.append("no rows")
    return text + (f"\n({'; '.join(notes)})" if notes else "")
