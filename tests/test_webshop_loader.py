"""The loader for the real WebShop files, on a fixture this test writes in their format."""

import json
import random

import pytest

from envs.webshop.env import WebShopEnv
from envs.webshop.loader import (
    SPLIT_SEED,
    TEST_GOALS,
    VAL_GOALS,
    convert_products,
    load_real_webshop,
    name_nouns,
)
from tools import call

COLORS = ["Black", "Navy Blue", "Light/Grey"]


def product(i: int) -> dict:
    low = 10 + i % 900  # up to $909: some prices have fewer than two steps of 10 above them
    pricing = f"${low}.99" if i % 3 else f"${low}.00${low + 10}.00"  # some ranges, as WebShop has
    return {
        "asin": f"B0{i:08d}", "name": f"Trail Runner Shoe Model {i} for Men", "full_description": f"Model {i} is a breathable shoe.",
        "small_description": ["Rubber sole", f"Mesh upper number {i}"], "pricing": pricing, "images": [],
        "customization_options": {"Color": [{"value": c, "image": None} for c in COLORS], "Size": [{"value": "9"}, {"value": "10"}]},
        "category": "fashion", "query": "men's running shoes", "product_category": "Clothing › Men › Shoes › Athletic",
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webshop-data")
    items = [product(i) for i in range(1700)]
    items += [{**product(0), "name": "duplicate"}, {**product(1), "asin": "nan"}, {**product(2), "asin": "B0123456789X"}]
    (folder / "items_shuffle_1000.json").write_text(json.dumps(items))
    (folder / "items_ins_v2_1000.json").write_text(json.dumps({f"B0{i:08d}": {"attributes": ["rubber sole", "breathable"]}
                                                              for i in range(0, 1700, 2)}))
    human = {f"B0{i:08d}": [{"instruction": f"i want men's running shoes model {i}.", "instruction_attributes": ["rubber sole"],
                             "instruction_options": ["navy blue", "10"]}] for i in range(1700)}
    human["B000000005"].append({"instruction": "no attributes", "instruction_attributes": [], "instruction_options": []})
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return folder


@pytest.fixture(scope="module")
def real(source, tmp_path_factory):
    return load_real_webshop(source, tmp_path_factory.mktemp("real") / "built")


def test_products_load_as_webshop_loads_them(source):
    items = json.loads((source / "items_shuffle_1000.json").read_text())
    attrs = json.loads((source / "items_ins_v2_1000.json").read_text())
    products = convert_products(items, attrs, random.Random(0))
    assert len(products) == 1700  # the duplicate, "nan" and the 12-character asin are skipped
    p0, p1 = products[0], products[1]
    assert p0["options"] == {"color": ["black", "navy blue", "light | grey"], "size": ["9", "10"]}
    assert 10.0 <= p0["price"] <= 20.0 and p1["price"] == 11.99  # a range is sampled, a single price kept
    assert p0["attributes"] == ["rubber sole", "breathable"] and p1["attributes"] == ["DUMMY_ATTR"]
    assert p0["bullets"] == ["Rubber sole", "Mesh upper number 0"] and p0["title"] == "Trail Runner Shoe Model 0 for Men"
    assert name_nouns("Trail Runner Shoe Model 0 for Men") == ["trail", "runner", "shoe", "model", "men"]


def test_goals_follow_the_original_split_and_price_rule(real):
    sizes = real.sizes()
    assert sizes == {"test": TEST_GOALS, "val": VAL_GOALS, "train": 1700 - TEST_GOALS - VAL_GOALS}  # the empty-attribute goal is dropped
    catalog = real.catalog("real")
    for task in real.iter("test"):
        goal = task.data["goal"]
        price = catalog.get(goal["asin"])["price"]
        above = [p for p in range(10, 1000, 10) if p > price][:4]
        if len(above) < 2:  # the original's rule: no bound, and the instruction names no price
            assert goal["price_upper"] == 1_000_000.0 and "price lower than" not in task.prompt
            continue
        assert goal["price_upper"] in above[1:] and task.prompt.endswith(f", and price lower than {goal['price_upper']:.2f} dollars")
        assert goal["options"] == {"option 1": "navy blue", "option 2": "10"} and goal["attributes"] == ["rubber sole"]
    # the split is the seeded shuffle: the same goals land in test when built again
    again = sorted(t.data["goal"]["asin"] for t in real.iter("test"))
    assert again == sorted(t.data["goal"]["asin"] for t in real.iter("test")) and SPLIT_SEED == 233


def test_the_env_shops_in_the_loaded_world(real):
    env = WebShopEnv(split="test", tasks=real)
    try:
        task = next(t for t in real.iter("test") if t.data["oracle_page"])
        obs, info = env.reset(options={"task": task.id})
        assert task.prompt in obs[1]["content"]
        env.step(call("search", query=task.data["oracle_query"]))
        for _ in range(task.data["oracle_page"] - 1):
            env.step(call("click", target="Next >"))
        obs, *_ = env.step(call("click", target=task.data["goal"]["asin"]))
        assert "light | grey" in obs[0]["content"] and "Rating: N.A." in obs[0]["content"]
        env.step(call("click", target="navy blue"))
        env.step(call("click", target="10"))
        *_, terminated, _, info = env.step(call("click", target="Buy Now"))
        assert terminated and info["outcome"] == 1.0
    finally:
        env.close()
