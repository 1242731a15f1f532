"""Load the real WebShop files into the same shop: products, human goals and the original split.

Inputs (one folder, princeton-nlp/WebShop's ``data/`` layout): ``items_shuffle*.json`` (a list of
products: asin, name, full_description, small_description, pricing, customization_options,
category, query, product_category), ``items_ins_v2*.json`` ({asin: {attributes, ...}}) and
``items_human_ins.json`` ({asin: [{instruction, instruction_attributes, instruction_options}]}).

As the original loads them: duplicate or malformed asins (``nan``, longer than 10) are skipped;
option axes and values are lowercased, "/" in a value becomes " | "; a product without attributes
gets ``["DUMMY_ATTR"]``; a price range "$a$b" gives a price drawn uniformly in [a, b] and a missing
price is 100.  Goals: one per human instruction with at least one attribute; ``price_upper`` by
WebShop's rule (first four of 10, 20, ..., 990 above the price, two sampled, the larger), the
instruction gaining ", and price lower than X.00 dollars"; the goals are shuffled with seed 233 and
split test = the first 500, val = the next 1,000, train = the rest, as the original does.  Prices and
price bounds come from ``random.Random(seed)``, so a build is reproducible.

Goal options are normalized as the page's are (:func:`option_value`: "White/Blue" -> "white | blue"),
so an instruction's option reads as the page shows it; the reward matches them by its fuzzy rule.
Each task records ``oracle_options``, the target's values that rule counts for the goal
(:func:`envs.webshop.reward.best_options`): the values the oracle clicks.

Differences, stated: the original tags the nouns of names with spaCy; here a name's nouns are its
alphabetic words less English stopwords (spaCy's models are not on the package index).  Goal option
lists become ``{"option 1": value, ...}``; the original keeps a goal's option values as written.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bm25s.stopwords import STOPWORDS_EN

from envs.tasks import JsonlTaskSet, Split, Task, build_atomically, cache_root
from envs.webshop.data import RESULTS_PER_PAGE, WebShopTaskSet
from envs.webshop.goals import NO_PRICE_BOUND, price_upper
from envs.webshop.reward import best_options
from envs.webshop.search import Catalog, write_world

WORLD = "real"
BUILD_VERSION = 2  # part of the cache folder's name: a build by an older loader is not reused
SPLIT_SEED, TEST_GOALS, VAL_GOALS = 233, 500, 1000
_STOP = frozenset(STOPWORDS_EN)


def _first(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


def name_nouns(name: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", name.lower()) if w not in _STOP and len(w) > 1]


def option_value(value: Any) -> str:
    """An option value as the original shows it on a page: stripped, lowercased, "/" -> " | "."""
    return str(value).strip().replace("/", " | ").lower()


def _prices(pricing: Any) -> list[float]:
    out = []
    for piece in str(pricing or "").split("$")[1:]:
        try:
            out.append(float(Decimal(re.sub(r"[^\d.]", "", piece))))
        except InvalidOperation:
            continue
    return out[:2]


def convert_products(items: list[dict[str, Any]], attributes: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """WebShop product records -> this shop's product dicts (see :mod:`envs.webshop.catalog`)."""
    seen: set[str] = set()
    products = []
    for item in items:
        asin = str(item.get("asin", ""))
        if not asin or asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        options: dict[str, list[str]] = {}
        for axis, contents in (item.get("customization_options") or {}).items():
            if contents:
                options[axis.lower()] = [option_value(c["value"]) for c in contents]
        prices = _prices(item.get("pricing"))
        price = 100.0 if not prices else prices[0] if len(prices) == 1 else round(rng.uniform(*prices), 2)
        bullets = item.get("small_description") or []
        name = str(item.get("name", ""))
        products.append({
            "asin": asin, "title": name, "brand": "", "type": item.get("query", ""), "query": item.get("query", ""),
            "category": item.get("category", ""), "product_category": item.get("product_category", ""), "price": price,
            "options": options, "attributes": list((attributes.get(asin) or {}).get("attributes") or ["DUMMY_ATTR"]),
            "bullets": bullets if isinstance(bullets, list) else [str(bullets)], "description": item.get("full_description") or "",
            "reviews": [], "rating": None, "nouns": name_nouns(name),
        })
    return products


def human_goals(products: list[dict[str, Any]], human: dict[str, list[dict[str, Any]]], rng: random.Random) -> list[dict[str, Any]]:
    goals = []
    for product in products:
        for ins in human.get(product["asin"], []):
            attrs = ins.get("instruction_attributes") or []
            if not attrs:
                continue
            upper = price_upper(product["price"], rng)
            opts = ins.get("instruction_options") or []
            named = opts.items() if isinstance(opts, dict) else ((f"option {i + 1}", v) for i, v in enumerate(opts))
            options = {str(key).lower(): option_value(value) for key, value in named}
            goals.append({
                "asin": product["asin"], "name": product["title"], "query": product["query"], "product_category": product["product_category"],
                "nouns": product["nouns"], "attributes": list(attrs), "options": options, "price_upper": upper,
                "instruction": str(ins.get("instruction", "")).strip(".") + (f", and price lower than {upper:.2f} dollars" if upper < NO_PRICE_BOUND else ""),
            })
    return goals


def split_goals(goals: list[dict[str, Any]]) -> list[tuple[Split, dict[str, Any]]]:
    shuffled = list(goals)
    random.Random(SPLIT_SEED).shuffle(shuffled)
    split = lambda i: "test" if i < TEST_GOALS else "val" if i < TEST_GOALS + VAL_GOALS else "train"
    return [(split(i), g) for i, g in enumerate(shuffled)]


def build_real_webshop(source: Path, root: Path, seed: int = 42) -> float:
    """Convert the WebShop files in ``source`` into a task set folder ``root``; returns seconds."""
    items_path, ins_path = _first(source, "items_shuffle*.json"), _first(source, "items_ins_v2*.json")
    human_path = source / "items_human_ins.json"
    if items_path is None or not human_path.exists():
        raise FileNotFoundError(f"{source} needs items_shuffle*.json and items_human_ins.json (WebShop's data folder)")

    def build(folder: Path) -> None:
        rng = random.Random(seed)
        attributes = json.loads(ins_path.read_text()) if ins_path else {}
        products = convert_products(json.loads(items_path.read_text()), attributes, rng)
        write_world(folder / WORLD, products)
        catalog = Catalog(folder / WORLD)
        by_asin = {p["asin"]: p for p in products}
        tasks = []
        for i, (split, goal) in enumerate(split_goals(human_goals(products, json.loads(human_path.read_text()), rng))):
            query, rank = _oracle_query(catalog, goal)
            tasks.append(Task(
                id=f"webshop/{WORLD}/{i:05d}", split=split, prompt=goal["instruction"], answer=goal["asin"],
                data={"world": WORLD, "goal": goal, "oracle_query": query, "oracle_rank": rank,
                      "oracle_options": best_options(by_asin[goal["asin"]]["options"], list(goal["options"].values())),
                      "oracle_page": (rank - 1) // RESULTS_PER_PAGE + 1 if rank else None, "template": "human"}))
        JsonlTaskSet.write(folder, tasks)

    return build_atomically(root, build)


def _oracle_query(catalog: Catalog, goal: dict[str, Any]) -> tuple[str, int | None]:
    """A goal-derived query that finds the target, else the target's name; with its rank (or None)."""
    for query in (" ".join([*goal["attributes"], goal["query"], *goal["options"].values()]), goal["name"]):
        hits = catalog.search(query)
        if goal["asin"] in hits:
            return query, hits.index(goal["asin"]) + 1
    return goal["name"], None


def load_real_webshop(source: str | Path, root: str | Path | None = None) -> WebShopTaskSet:
    """The real WebShop data in ``source`` as a task set (converted once into ``root`` or the cache)."""
    source = Path(source)
    if root is None:
        key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:12]
        root = cache_root() / f"webshop-real-v{BUILD_VERSION}-{key}"
    root = Path(root)
    if not (root / "test.jsonl").exists():
        build_real_webshop(source, root)
    return WebShopTaskSet(root)
