"""The built-in WebShop task set: two generated shops and their goals, built once into the cache.

Layout under ``<cache>/webshop-v1/``: ``A/`` and ``B/`` (a world each: ``products.jsonl``,
``bm25/``, ``meta.json``) and ``{train,val,test}.jsonl``.  ``train`` and ``val`` shop in world A;
val's targets are other products than train's and its instructions use held-out templates.  ``test``
shops in world B: other product ids and brands (so other titles), product types and attribute
phrasings that A lacks, held-out templates, and no test instruction shares an 8-gram with a
training instruction.  The build is seeded, deterministic and atomic.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from envs.tasks import (
    JsonlTaskSet,
    Split,
    Task,
    build_atomically,
    cache_root,
    load_built,
)
from envs.webshop.catalog import generate_catalog
from envs.webshop.goals import TEMPLATES, make_goals, ngrams
from envs.webshop.search import Catalog, load_catalog, write_world

DATA_VERSION = "webshop-v1"
RESULTS_PER_PAGE = 10


class WorldSpec(BaseModel):
    name: str
    seed: int
    goals: dict[str, int]  # split -> number of goals


WORLD_A = WorldSpec(name="A", seed=11, goals={"train": 1500, "val": 200})
WORLD_B = WorldSpec(name="B", seed=22, goals={"test": 500})


class WebShopTaskSet(JsonlTaskSet):
    """Tasks whose ``data["world"]`` names a world folder under ``root``."""

    def catalog(self, world: str) -> Catalog:
        path = self.root / world
        if not (path / "products.jsonl").exists():
            raise FileNotFoundError(f"no webshop world {world!r} at {path}")
        return load_catalog(path)

    def worlds(self) -> dict[str, Path]:
        return {p.name: p for p in sorted(self.root.iterdir()) if (p / "products.jsonl").exists()}


def load_webshop_tasks(root: Path | None = None) -> WebShopTaskSet:
    """The built-in WebShop task set, building it first if the cache lacks it (shared per process)."""
    return load_built(Path(root) if root else cache_root() / DATA_VERSION, WebShopTaskSet, build_webshop_data)


def goal_task(goal: dict[str, Any], world: str, split: Split, index: int) -> Task:
    opts = "; ".join(f"{axis}: {value}" for axis, value in goal["options"].items())
    return Task(
        id=f"webshop/{world}/{split}/{index:04d}", split=split, prompt=goal["instruction"],
        answer=f"{goal['asin']} ({opts})" if opts else goal["asin"],
        data={"world": world, "goal": {k: v for k, v in goal.items() if k not in ("oracle_query", "oracle_rank", "template")},
              "oracle_query": goal["oracle_query"], "oracle_page": (goal["oracle_rank"] - 1) // RESULTS_PER_PAGE + 1,
              "oracle_rank": goal["oracle_rank"], "template": goal["template"]},
    )


def build_webshop_data(root: Path) -> float:
    """Build both worlds and the task files into ``root`` atomically; returns seconds taken."""

    def build(folder: Path) -> None:
        tasks: list[Task] = []
        catalog_a = _build_world(folder, WORLD_A, frozenset())
        rng = random.Random(WORLD_A.seed + 1)
        used: set[str] = set()
        train = make_goals(catalog_a, WORLD_A.goals["train"], rng, TEMPLATES["train"], used)
        val = make_goals(catalog_a, WORLD_A.goals["val"], rng, TEMPLATES["val"], used)
        tasks += [goal_task(g, "A", "train", i) for i, g in enumerate(train)]
        tasks += [goal_task(g, "A", "val", i) for i, g in enumerate(val)]
        banned: set[tuple[str, ...]] = set()
        for goal in train:
            banned |= ngrams(goal["instruction"])
        brands_a = frozenset(p["brand"].lower() for p in catalog_a.products)
        catalog_b = _build_world(folder, WORLD_B, brands_a)
        test = make_goals(catalog_b, WORLD_B.goals["test"], random.Random(WORLD_B.seed + 1), TEMPLATES["test"], set(), banned)
        tasks += [goal_task(g, "B", "test", i) for i, g in enumerate(test)]
        JsonlTaskSet.write(folder, tasks)

    return build_atomically(root, build)


def _build_world(folder: Path, spec: WorldSpec, forbidden_brands: frozenset[str]) -> Catalog:
    products = generate_catalog(spec.name, spec.seed, forbidden_brands=forbidden_brands)
    path = folder / spec.name
    write_world(path, products)
    digest = hashlib.sha256((path / "products.jsonl").read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps({"seed": spec.seed, "products": len(products), "products_sha256": digest}, indent=1))
    return Catalog(path)
