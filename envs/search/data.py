"""The built-in Search task set: two generated worlds, their indexes and questions, cached.

Layout under ``<cache>/search-v2/``: ``<world>/`` per world (``docs.jsonl``, ``bm25/``,
``meta.json``) and ``{train,val,test}.jsonl``.  ``train`` and ``val`` ask about world ``atlas``
(val holds ~15 % of its questions); ``test`` asks about world ``borealis``, generated with every
coined name of ``atlas`` forbidden, so no entity, place or title of the test world was ever seen
in training.  The build is deterministic and atomic (a temporary folder renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from pydantic import BaseModel

from envs.search.documents import render_documents
from envs.search.index import WorldIndex, build_index, load_index
from envs.search.questions import generate_questions
from envs.search.world import World, generate_world
from envs.tasks import build_atomically, cache_root, load_built
from envs.tasks import JsonlTaskSet, Split, Task

DATA_VERSION = "search-v2"
VAL_FRACTION = 0.15


class WorldSpec(BaseModel):
    name: str
    seed: int
    people: int  # the world has about 3.5 documents per person
    questions: int


TRAINVAL_WORLD = WorldSpec(name="atlas", seed=101, people=1000, questions=1200)
TEST_WORLD = WorldSpec(name="borealis", seed=202, people=1000, questions=400)


class SearchTaskSet(JsonlTaskSet):
    """Tasks whose ``data["world"]`` names a world folder under ``root``."""

    def world(self, name: str) -> WorldIndex:
        path = self.root / name
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no search world {name!r} at {path}")
        return load_index(path)


def load_search_tasks(root: Path | None = None) -> SearchTaskSet:
    """The built-in Search task set, building it first if the cache lacks it (shared per process)."""
    return load_built(Path(root) if root else cache_root() / DATA_VERSION, SearchTaskSet, build_search_data)


def build_world_dir(path: Path, seed: int, people: int, forbidden: frozenset[str] = frozenset()) -> tuple[World, dict[str, str]]:
    """Generate a world, render and index its documents into ``path``; returns the world and a
    map from entity id to document id."""
    world = generate_world(seed, people, forbidden)
    docs = render_documents(world, seed + 1)
    build_index(path, docs)
    digest = hashlib.sha256((path / "docs.jsonl").read_bytes()).hexdigest()
    meta = {"seed": seed, "people": people, "entities": len(world.entities), "documents": len(docs), "docs_sha256": digest}
    (path / "meta.json").write_text(json.dumps(meta, indent=1))
    return world, {d.entity: d.id for d in docs if d.entity}


def build_search_data(root: Path) -> float:
    """Build both worlds and the task files into ``root`` atomically; returns seconds taken."""

    def build(folder: Path) -> None:
        tasks: list[Task] = []
        forbidden: frozenset[str] = frozenset()
        for spec, test in ((TRAINVAL_WORLD, False), (TEST_WORLD, True)):
            world, doc_of = build_world_dir(folder / spec.name, spec.seed, spec.people, forbidden)
            tasks += world_tasks(spec, world, doc_of, test)
            forbidden = frozenset(world.tokens())
        JsonlTaskSet.write(folder, tasks)

    return build_atomically(root, build)


def world_tasks(spec: WorldSpec, world: World, doc_of: dict[str, str], test: bool) -> list[Task]:
    questions = generate_questions(world, spec.questions, spec.seed + 2)
    order = list(range(len(questions)))
    random.Random(spec.seed + 3).shuffle(order)
    val = set(order[: 0 if test else round(len(questions) * VAL_FRACTION)])
    tasks = []
    for i, q in enumerate(questions):
        split: Split = "test" if test else ("val" if i in val else "train")
        support = [doc_of[e] for e in q.support]
        tasks.append(Task(
            id=f"{spec.name}/{i:05d}", split=split, prompt=q.question, answer=q.answer,
            data={"world": spec.name, "kind": q.kind, "template": q.template, "hops": q.hops, "aliases": q.aliases,
                  "support": support, "support_titles": [world[e].name for e in q.support]},
        ))
    return tasks
