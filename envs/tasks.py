"""Tasks and task sets.

A :class:`Task` is one episode's worth of work: a prompt, a ground-truth answer and a
family-specific payload.  A :class:`TaskSet` holds a family's tasks in three splits:

* ``train`` and ``val`` come from the same generator draw;
* ``test`` is held out *by construction* (unseen databases, entities, products, apps), never a
  random slice of the train draw.

Task sets are read lazily: :class:`JsonlTaskSet` keeps one byte offset per task and seeks to
the line it needs, so iterating or fetching by id never loads a whole split into memory.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")


class Task(BaseModel):
    """One episode's task.  ``answer`` is the ground truth that information-gain credit probes."""

    model_config = ConfigDict(frozen=True)

    id: str
    split: Split
    prompt: str
    answer: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


def check_split(split: str) -> Split:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    return split  # type: ignore[return-value]


class TaskSet(ABC):
    """A family's tasks, by split.  Subclasses implement :meth:`ids` and :meth:`get`."""

    @abstractmethod
    def ids(self, split: Split) -> Sequence[str]:
        """Task ids of ``split``, in a fixed order."""

    @abstractmethod
    def get(self, task_id: str) -> Task:
        """The task with this id (any split); ``KeyError`` if there is none."""

    def size(self, split: Split) -> int:
        return len(self.ids(split))

    def iter(self, split: Split) -> Iterator[Task]:
        for task_id in self.ids(check_split(split)):
            yield self.get(task_id)

    def sample(self, split: Split, rng: random.Random) -> Task:
        ids = self.ids(check_split(split))
        if not ids:
            raise ValueError(f"split {split!r} has no tasks")
        return self.get(ids[rng.randrange(len(ids))])

    def sizes(self) -> dict[str, int]:
        return {split: self.size(split) for split in SPLITS}


class ListTaskSet(TaskSet):
    """Tasks held in memory; for small hand-written sets and tests."""

    def __init__(self, tasks: Sequence[Task]):
        self._by_id = {task.id: task for task in tasks}
        if len(self._by_id) != len(tasks):
            raise ValueError("task ids must be unique")
        self._ids = {s: [t.id for t in tasks if t.split == s] for s in SPLITS}

    def ids(self, split: Split) -> Sequence[str]:
        return self._ids[check_split(split)]

    def get(self, task_id: str) -> Task:
        return self._by_id[task_id]


class JsonlTaskSet(TaskSet):
    """Tasks stored one JSON object per line in ``<root>/<split>.jsonl``.

    Only ids and byte offsets stay in memory; each :meth:`get` seeks and parses one line.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._ids: dict[str, list[str]] = {}
        self._where: dict[str, tuple[Split, int]] = {}
        for split in SPLITS:
            path = self.root / f"{split}.jsonl"
            self._ids[split] = []
            if not path.exists():
                continue
            with path.open("rb") as f:
                offset = 0
                for line in f:
                    if line.strip():
                        task_id = _read_id(line)
                        self._ids[split].append(task_id)
                        self._where[task_id] = (split, offset)
                    offset += len(line)

    def ids(self, split: Split) -> Sequence[str]:
        return self._ids[check_split(split)]

    def get(self, task_id: str) -> Task:
        split, offset = self._where[task_id]
        with (self.root / f"{split}.jsonl").open("rb") as f:
            f.seek(offset)
            return Task.model_validate_json(f.readline())

    @staticmethod
    def write(root: str | Path, tasks: Sequence[Task]) -> None:
        """Write ``tasks`` into ``root/<split>.jsonl`` files (atomically per file)."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            tmp = root / f".{split}.jsonl.tmp"
            with tmp.open("w", encoding="utf-8") as f:
                for task in tasks:
                    if task.split == split:
                        f.write(task.model_dump_json() + "\n")
            tmp.replace(root / f"{split}.jsonl")


def _read_id(line: bytes) -> str:
    # The writer puts "id" first, so a cheap prefix parse avoids decoding the whole task.
    head = line[:512]
    if head.startswith(b'{"id":'):
        end = head.find(b'",', 7)
        if end > 0:
            return json.loads(head[6 : end + 1])
    return json.loads(line)["id"]


def cache_root() -> Path:
    """Where built task data (databases, worlds, indexes, models) is cached: ``$TURNGYM_HOME``,
    else ``~/.cache/turngym``.  Each family builds under its own versioned sub-folder."""
    return Path(os.environ.get("TURNGYM_HOME") or Path.home() / ".cache" / "turngym")


def build_atomically(root: Path, build: Callable[[Path], None]) -> float:
    """Run ``build(folder)`` in a temporary folder beside ``root``, then rename it to ``root``.

    Readers never see a half-built folder, and when two processes build at once the first rename
    wins (builds are deterministic, so the loser's copy is identical and is dropped).  Returns the
    seconds taken.
    """
    start = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-build-", dir=root.parent))
    try:
        build(tmp)
        try:
            tmp.rename(root)
        except OSError:
            if not (root / "test.jsonl").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return time.perf_counter() - start


@functools.lru_cache(maxsize=16)
def load_built(root: Path, task_set: type[JsonlTaskSet], build: Callable[[Path], object]) -> JsonlTaskSet:
    """``task_set(root)``, building ``root`` first with ``build(root)`` if it has no task files.

    Cached per arguments, so every env a process makes shares one index (and one set of open
    resources) per data folder.
    """
    if not (root / "test.jsonl").exists():
        build(root)
    return task_set(root)
