"""The built-in WebShop data: two worlds of >= 10,000 products, splits held out by construction,
solvable and discriminating goals, WebShop's price rule, a deterministic generator."""

import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from envs.webshop.catalog import generate_catalog
from envs.webshop.data import WORLD_A, WORLD_B, load_webshop_tasks
from envs.webshop.goals import (
    MIN_NEGATIVES,
    PRICE_STEPS,
    TEMPLATES,
    count_negatives,
    ngrams,
    price_upper,
    target_rank,
)
from envs.webshop.vocab import product_types

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tasks():
    return load_webshop_tasks()


@pytest.fixture(scope="module")
def split_tasks(tasks):
    return {s: list(tasks.iter(s)) for s in ("train", "val", "test")}


def test_worlds_are_large_and_splits_sized(tasks, split_tasks):
    a, b = tasks.catalog("A"), tasks.catalog("B")
    assert len(a) >= 10_000 and len(b) >= 10_000
    assert {s: len(t) for s, t in split_tasks.items()} == {"train": WORLD_A.goals["train"], "val": WORLD_A.goals["val"], "test": WORLD_B.goals["test"]}
    assert {t.data["world"] for t in split_tasks["train"] + split_tasks["val"]} == {"A"}
    assert {t.data["world"] for t in split_tasks["test"]} == {"B"}


def test_test_world_is_unseen(tasks, split_tasks):
    a, b = tasks.catalog("A"), tasks.catalog("B")
    assert not {p["asin"] for p in a.products} & {p["asin"] for p in b.products}
    assert not {p["brand"] for p in a.products} & {p["brand"] for p in b.products}
    assert not {p["title"] for p in a.products} & {p["title"] for p in b.products}
    types_a, types_b = {p["type"] for p in a.products}, {p["type"] for p in b.products}
    test_types = {t.data["goal"]["query"] for t in split_tasks["test"]}
    assert len(types_b - types_a) >= 10 and test_types - types_a  # some test goals ask for types never seen in A
    attrs_a = {x for p in a.products for x in p["attributes"]}
    test_attrs = {x for t in split_tasks["test"] for x in t.data["goal"]["attributes"]}
    assert {"washer safe", "anti slip", "ultralight"} <= test_attrs - attrs_a  # rephrased attributes


def test_templates_and_targets_are_held_out(split_tasks):
    by_split = {s: {t.data["template"] for t in ts} for s, ts in split_tasks.items()}
    assert by_split == {s: set(TEMPLATES[s]) for s in ("train", "val", "test")}
    targets = {s: [t.data["goal"]["asin"] for t in ts] for s, ts in split_tasks.items()}
    assert len(set(targets["train"])) == len(targets["train"]) and not set(targets["train"]) & set(targets["val"])
    train_grams = set().union(*(ngrams(t.prompt) for t in split_tasks["train"]))
    assert not [t.prompt for t in split_tasks["test"] if ngrams(t.prompt) & train_grams]
    assert not [t.prompt for t in split_tasks["val"] if t.prompt in {x.prompt for x in split_tasks["train"]}]


@pytest.mark.parametrize("split", ["test", "val"])
def test_every_goal_is_solvable_and_has_hard_negatives(tasks, split_tasks, split):
    catalog = tasks.catalog(split_tasks[split][0].data["world"])
    by_type = {}
    for p in catalog.products:
        by_type.setdefault(p["type"], []).append(p)
    for task in split_tasks[split]:
        goal, data = task.data["goal"], task.data
        target = catalog.get(goal["asin"])
        assert 1 <= len(goal["attributes"]) <= 3 and set(goal["attributes"]) <= set(target["attributes"])
        assert set(goal["options"]) == set(target["options"])
        assert all(v in target["options"][k] for k, v in goal["options"].items())
        assert target["price"] <= goal["price_upper"] and f"{goal['price_upper']:.2f} dollars" in task.prompt
        assert target_rank(catalog, goal) == data["oracle_rank"] <= 50
        assert data["oracle_page"] == (data["oracle_rank"] - 1) // 10 + 1
        assert count_negatives(goal, by_type[target["type"]]) >= MIN_NEGATIVES, task.id
        assert goal["instruction"] == task.prompt and goal["asin"] in task.answer


def test_price_upper_follows_webshop_rule():
    # price 23.5: the four steps above are 30, 40, 50, 60; the larger of two sampled is 40, 50 or 60
    draws = Counter(price_upper(23.5, random.Random(seed)) for seed in range(400))
    assert set(draws) == {40.0, 50.0, 60.0}
    # P(60) = 3/6, P(50) = 2/6, P(40) = 1/6
    assert draws[60.0] > draws[50.0] > draws[40.0]
    assert price_upper(975.0, random.Random(0)) == 990.0  # only 980 and 990 lie above: the larger
    assert price_upper(985.0, random.Random(0)) == 1_000_000.0 and price_upper(995.0, random.Random(0)) == 1_000_000.0
    assert PRICE_STEPS[0] == 10.0 and PRICE_STEPS[-1] == 990.0 and len(PRICE_STEPS) == 99


def test_price_bounds_are_among_the_four_steps_above(tasks, split_tasks):
    catalog = tasks.catalog("B")
    for task in split_tasks["test"]:
        price = catalog.get(task.data["goal"]["asin"])["price"]
        above = [p for p in PRICE_STEPS if p > price][:4]
        assert task.data["goal"]["price_upper"] in above[1:], (price, task.data["goal"]["price_upper"])


def test_generator_is_deterministic_and_hash_seed_free(tmp_path):
    def digest(products):
        return hashlib.sha256(json.dumps(products, sort_keys=True).encode()).hexdigest()

    small = generate_catalog("B", 5, per_type=3)
    assert len(small) == 3 * len(product_types("B")) and digest(small) == digest(generate_catalog("B", 5, per_type=3))
    assert digest(small) != digest(generate_catalog("B", 6, per_type=3))
    code = ("import hashlib, json; from envs.webshop.catalog import generate_catalog; "
            "print(hashlib.sha256(json.dumps(generate_catalog('B', 5, per_type=3), sort_keys=True).encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in (1, 2)}
    assert outs == {digest(small)}


def test_products_only_state_their_own_attributes(tasks):
    catalog = tasks.catalog("A")
    kinds = {k.key: k for k in product_types("A")}
    for p in catalog.products[:2000]:
        text = " ".join([p["title"], *p["bullets"], p["description"]]).lower()
        missing = [a for a in kinds[p["type"]].attributes if a not in p["attributes"]]
        assert not [a for a in missing if a in text], (p["asin"], missing)
