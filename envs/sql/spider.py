"""Spider and BIRD text-to-SQL benchmarks as a turngym task set, read from their on-disk layout.

Neither benchmark ships as a pip package, so users download it and point :class:`SpiderTaskSet`
at the folder.  Both share one layout, which is all this module assumes:

* a tables file (``tables.json``; BIRD: ``dev_tables.json`` / ``train_tables.json``): a list of
  ``{db_id, table_names_original, column_names_original, column_types, primary_keys,
  foreign_keys, ...}``;
* question files: Spider ``[{db_id, question, query}]``, BIRD
  ``[{question_id, db_id, question, evidence, SQL, difficulty}]``;
* databases at ``<db_dir>/<db_id>/<db_id>.sqlite`` (Spider ``database/``, BIRD
  ``dev_databases/`` or ``train_databases/``).

Each turngym split maps to one question file.  Files are parsed on first use of their split, so
opening the set is free; every malformed entry is reported with its file and index, because
these files are hand-edited and a bare ``KeyError`` deep in an episode is hard to trace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlglot import exp

from envs.tasks import SPLITS, Split, Task, TaskSet, check_split


class SpiderSchema(BaseModel):
    """One ``tables.json`` entry.  Column 0 is Spider's ``(-1, "*")`` pseudo-column."""

    model_config = ConfigDict(extra="allow", frozen=True)

    db_id: str
    table_names_original: list[str]
    column_names_original: list[tuple[int, str]]
    column_types: list[str]
    primary_keys: list[int | list[int]] = []  # BIRD lists a composite key as one inner list
    foreign_keys: list[tuple[int, int]] = []
    table_names: list[str] = []  # the "natural" names; optional
    column_names: list[tuple[int, str]] = []

    @model_validator(mode="after")
    def _consistent(self) -> SpiderSchema:
        n_tables, n_cols = len(self.table_names_original), len(self.column_names_original)
        if len(self.column_types) != n_cols:
            raise ValueError(f"{n_cols} columns but {len(self.column_types)} column_types")
        for table, name in self.column_names_original:
            if not -1 <= table < n_tables:
                raise ValueError(f"column {name!r} names table index {table}; there are {n_tables} tables")
        keys = [k for pk in self.primary_keys for k in (pk if isinstance(pk, list) else [pk])]
        for col in keys + [c for fk in self.foreign_keys for c in fk]:
            if not 0 <= col < n_cols:
                raise ValueError(f"key column index {col} out of range (0..{n_cols - 1})")
        return self

    def columns(self, table: str) -> list[str]:
        """The original column names of ``table`` (case-insensitive lookup)."""
        index = self._table_index(table)
        return [name for t, name in self.column_names_original if t == index]

    def foreign_key_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        """Foreign keys as ``((table, column), (referenced_table, referenced_column))``."""
        return [(self._qualified(a), self._qualified(b)) for a, b in self.foreign_keys]

    def _qualified(self, col: int) -> tuple[str, str]:
        table, name = self.column_names_original[col]
        return self.table_names_original[table], name

    def _table_index(self, table: str) -> int:
        lowered = [t.lower() for t in self.table_names_original]
        if table.lower() not in lowered:
            raise KeyError(f"database {self.db_id!r} has no table {table!r}; it has {self.table_names_original}")
        return lowered.index(table.lower())


class _Question(BaseModel):
    """A Spider or BIRD question entry; other keys (``query_toks``, Spider's parsed ``sql``) are ignored."""

    model_config = ConfigDict(extra="ignore")

    db_id: str
    question: str
    query: str | None = None  # Spider
    SQL: str | None = None  # BIRD
    evidence: str | None = None  # BIRD
    difficulty: str | None = None  # BIRD
    question_id: int | None = None  # BIRD

    @model_validator(mode="after")
    def _has_gold(self) -> _Question:
        if not (self.query or self.SQL):
            raise ValueError("needs a gold query under 'query' (Spider) or 'SQL' (BIRD)")
        return self


class SpiderTaskSet(TaskSet):
    """Spider/BIRD questions as tasks ``<db_id>/<n>`` (``n`` counts that database's questions
    within its split file), with ``data = {db_id, gold_sql, kind, tables[, evidence]}``.

    ``split_files`` maps turngym splits to question files under ``root``; splits it omits are
    empty.  ``db_dir`` and ``tables_file`` may each be a list (searched / merged in order), so a
    BIRD train+dev pair can share one set.  ``hint_in_prompt`` appends BIRD's evidence to the
    prompt; it is off by default because :class:`envs.sql.env.SQLEnv` already renders
    ``data["evidence"]`` as a hint, and doing both would show it twice.
    """

    def __init__(
        self,
        root: str | Path,
        split_files: Mapping[str, str],
        db_dir: str | Sequence[str] = "database",
        tables_file: str | Sequence[str] = "tables.json",
        hint_in_prompt: bool = False,
    ):
        self.root = Path(root)
        self.split_files = {check_split(s): self.root / f for s, f in split_files.items()}
        self.db_dirs = [self.root / d for d in ([db_dir] if isinstance(db_dir, str) else db_dir)]
        self.tables_files = [self.root / f for f in ([tables_file] if isinstance(tables_file, str) else tables_file)]
        self.hint_in_prompt = hint_in_prompt
        for path in [*self.split_files.values(), *self.tables_files]:
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
        self._schemas: dict[str, SpiderSchema] | None = None
        self._tasks: dict[Split, dict[str, Task]] = {}
        self._ids: dict[Split, list[str]] = {}

    # ----- databases and schemas ----------------------------------------------------------
    def db_ids(self) -> list[str]:
        """Every database the tables files describe."""
        return list(self._load_schemas())

    def schema(self, db_id: str) -> SpiderSchema:
        schemas = self._load_schemas()
        if db_id not in schemas:
            raise KeyError(f"unknown db_id {db_id!r}: not in {', '.join(map(str, self.tables_files))}")
        return schemas[db_id]

    def db_path(self, db_id: str) -> Path:
        self.schema(db_id)  # unknown ids fail with the tables file named
        tried = [d / db_id / f"{db_id}.sqlite" for d in self.db_dirs]
        for path in tried:
            if path.is_file():
                return path
        raise FileNotFoundError(f"no database file for {db_id!r}; looked for {', '.join(map(str, tried))}")

    def _load_schemas(self) -> dict[str, SpiderSchema]:
        if self._schemas is None:
            schemas: dict[str, SpiderSchema] = {}
            for path in self.tables_files:
                for i, entry in enumerate(_read_list(path)):
                    schema = _validate(SpiderSchema, entry, path, i)
                    if schema.db_id in schemas and schemas[schema.db_id] != schema:
                        raise ValueError(f"{path}[{i}]: db_id {schema.db_id!r} is described differently in an earlier entry")
                    schemas[schema.db_id] = schema
            self._schemas = schemas
        return self._schemas

    # ----- tasks --------------------------------------------------------------------------
    def ids(self, split: Split) -> Sequence[str]:
        split = check_split(split)
        if split not in self._ids:
            self._ids[split] = list(self._split_tasks(split))
        return self._ids[split]

    def get(self, task_id: str) -> Task:
        for split in SPLITS:
            task = self._split_tasks(split).get(task_id)
            if task is not None:
                return task
        raise KeyError(f"no task {task_id!r} in {', '.join(map(str, self.split_files.values()))}")

    def _split_tasks(self, split: Split) -> dict[str, Task]:
        if split not in self._tasks:
            path = self.split_files.get(split)
            tasks = self._parse(split, path) if path is not None else {}
            for other, seen in self._tasks.items():
                clash = tasks.keys() & seen.keys()
                if clash:
                    raise ValueError(
                        f"task id {min(clash)!r} is in both the {other!r} and {split!r} question files: "
                        f"the two files share databases, so their ids would collide; use disjoint databases per split"
                    )
            self._tasks[split] = tasks
        return self._tasks[split]

    def _parse(self, split: Split, path: Path) -> dict[str, Task]:
        schemas = self._load_schemas()
        tasks: dict[str, Task] = {}
        counts: dict[str, int] = {}
        for i, entry in enumerate(_read_list(path)):
            q = _validate(_Question, entry, path, i)
            if q.db_id not in schemas:
                raise ValueError(f"{path}[{i}]: db_id {q.db_id!r} is not in {', '.join(map(str, self.tables_files))}")
            n = counts.get(q.db_id, 0)
            counts[q.db_id] = n + 1
            sql = (q.query or q.SQL or "").strip()
            kind, tables = classify_sql(sql, schemas[q.db_id])
            data: dict[str, Any] = {"db_id": q.db_id, "gold_sql": sql, "kind": kind, "tables": tables}
            prompt = q.question.strip()
            if q.evidence:
                data["evidence"] = q.evidence.strip()
                if self.hint_in_prompt:
                    prompt += f"\nHint: {data['evidence']}"
            meta: dict[str, Any] = {"source": path.name, "index": i}
            if q.difficulty is not None:
                meta["difficulty"] = q.difficulty
            if q.question_id is not None:
                meta["question_id"] = q.question_id
            task_id = f"{q.db_id}/{n:04d}"
            tasks[task_id] = Task(id=task_id, split=split, prompt=prompt, answer=sql, data=data, meta=meta)
        return tasks


def classify_sql(sql: str, schema: SpiderSchema | None = None) -> tuple[str | None, list[str]]:
    """Guess a question's kind and the tables its gold reads.

    The kinds are the generated domains' six plus ``distinct``: a top-level ``SELECT DISTINCT``
    (deduplicated rows: a query without it returns a different multiset) with no grouping,
    ordering, aggregate or nesting.  ``COUNT(DISTINCT x)`` stays ``aggregate``.  The benchmarks
    carry no such labels (Spider's hardness levels mix several constructs), so we derive them
    from the gold's shape, most distinctive construct first.  Table names come
    back as the schema spells them.  Unparseable gold gives ``(None, [])`` rather than failing:
    the question is still usable, only the labels are missing.
    """
    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.ParseError:
        return None, []
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    names = {t.name for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes}
    if schema is not None:
        spelled = {t.lower(): t for t in schema.table_names_original}
        names = {spelled.get(n.lower(), n) for n in names}
    tables = sorted(names)
    selects = list(tree.find_all(exp.Select))
    if len(selects) > 1 or isinstance(tree, exp.SetOperation):
        kind = "nested"
    elif tree.args.get("group"):
        kind = "group_having"
    elif tree.args.get("order") or tree.args.get("limit"):
        kind = "order_limit"
    elif tree.find(exp.AggFunc):
        kind = "aggregate"
    elif tree.args.get("distinct"):
        kind = "distinct"
    elif len(tables) > 1 or tree.find(exp.Join):
        kind = "join"
    else:
        kind = "select"
    return kind, tables


def _read_list(path: Path) -> list[Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a JSON list of entries, got {type(value).__name__}")
    return value


def _validate(model: type[BaseModel], entry: Any, path: Path, index: int) -> Any:
    if not isinstance(entry, dict):
        raise ValueError(f"{path}[{index}]: expected an object, got {type(entry).__name__}")
    try:
        return model.model_validate(entry)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg']}" for err in e.errors())
        raise ValueError(f"{path}[{index}]: malformed {model.__name__.lstrip('_').lower()} entry: {problems}") from None
