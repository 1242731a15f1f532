"""Real WebShop goals name options as humans wrote them ("White/Blue", "light grey"); the loader
normalizes them as the page's values are and records the page values the reward's fuzzy rule
counts, which the oracle clicks (issue 23, item 3).  On a fixture in WebShop's file format with
"/" in option values, range prices, missing prices and products without options."""

import json

import pytest

from envs.webshop import reward as R
from envs.webshop.env import WebShopEnv
from envs.webshop.loader import convert_products, human_goals, load_real_webshop
from envs.webshop.oracle import plan

PER_KIND = 6
COLOR = [{"value": "White/Blue"}, {"value": "Black"}, {"value": "Light/Grey"}]
SIZE = [{"value": "9"}, {"value": "10"}]
# kind -> (pricing, customization options, the instruction options of its goals: as written, and options it lacks)
KINDS = {
    "written-as-shown": ("$25.99", {"Color": COLOR, "Size": SIZE}, [["White/Blue", "10"]]),
    "written-otherwise": ("$10.00$20.00", {"Color": COLOR, "Size": SIZE}, [["light grey", "9"], ["WHITE / BLUE"]]),
    "missing-price": (None, {"Color": COLOR}, [["Black"], ["navy"]]),
    "no-options": ("$42.50", None, [[], ["red"]]),
}


def items_and_goals():
    items, human = [], {}
    for k, (kind, (pricing, options, goal_options)) in enumerate(KINDS.items()):
        for j in range(PER_KIND):
            asin = f"B{k}{j:08d}"
            item = {"asin": asin, "name": f"Trail Runner Shoe {kind} model {k}{j} for Men", "full_description": "A breathable shoe.",
                    "small_description": ["Rubber sole"], "customization_options": options, "category": "fashion",
                    "query": "men's running shoes", "product_category": "Clothing › Men › Shoes › Athletic"}
            items.append(item if pricing is None else {**item, "pricing": pricing})
            human[asin] = [{"instruction": f"i want a {kind} running shoe, model {k}{j}.", "instruction_attributes": ["rubber sole"],
                            "instruction_options": opts} for opts in goal_options]
    return items, human


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webshop-options")
    items, human = items_and_goals()
    (folder / "items_shuffle_1000.json").write_text(json.dumps(items))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return load_real_webshop(folder, tmp_path_factory.mktemp("real") / "built")


def test_goal_options_read_as_the_page_shows_them():
    import random

    items, human = items_and_goals()
    products = convert_products(items, {}, random.Random(0))
    goals = {(g["asin"], tuple(g["options"].values())) for g in human_goals(products, human, random.Random(0))}
    assert ("B000000000", ("white | blue", "10")) in goals and ("B100000000", ("white  |  blue",)) in goals
    assert ("B100000000", ("light grey", "9")) in goals  # written otherwise: kept, the reward matches it fuzzily
    by_asin = {p["asin"]: p for p in products}
    assert 10.0 <= by_asin["B100000000"]["price"] <= 20.0 and by_asin["B200000000"]["price"] == 100.0
    assert by_asin["B300000000"]["options"] == {}


def test_oracle_options_are_the_page_values_the_reward_counts(real):
    chosen = {(t.data["goal"]["asin"][:2], tuple(t.data["goal"]["options"].values())): t.data["oracle_options"] for t in real.iter("test")}
    assert chosen[("B0", ("white | blue", "10"))] == {"color": "white | blue", "size": "10"}
    assert chosen[("B1", ("light grey", "9"))] == {"color": "light | grey", "size": "9"}
    assert chosen[("B1", ("white  |  blue",))] == {"color": "white | blue"}
    assert chosen[("B2", ("black",))] == {"color": "black"}
    assert chosen[("B2", ("navy",))] == {} and chosen[("B3", ())] == {} and chosen[("B3", ("red",))] == {}  # nothing on the page counts


def test_the_oracle_scores_1_on_every_goal_whose_product_offers_its_options(real):
    catalog = real.catalog("real")
    env = WebShopEnv(split="test", tasks=real)
    scores, offered = {}, set()
    try:
        for task in real.iter("test"):
            goal = task.data["goal"]
            values = [v for vs in catalog.get(goal["asin"])["options"].values() for v in vs]
            if R.option_matches(values, list(goal["options"].values())) == len(goal["options"]):
                offered.add(task.id)
            assert task.data["oracle_page"], task.id  # the oracle's search finds every target here
            _, info = env.reset(options={"task": task.id})
            assert info.get("oracle_options") == task.data["oracle_options"], "WebShopEnv.reset must hand the oracle task.data['oracle_options']"
            for turn in range(env.max_turns):
                *_, terminated, truncated, end = env.step(plan(turn, info))
                if terminated or truncated:
                    break
            scores[task.id] = end.get("outcome")
    finally:
        env.close()
    assert len(scores) == len(KINDS) * PER_KIND * 2 - PER_KIND and len(offered) == len(KINDS) * PER_KIND * 2 - 3 * PER_KIND
    assert {scores[t] for t in offered} == {1.0}, {t: s for t, s in scores.items() if t in offered and s != 1.0}
    assert all(scores[t] < 1.0 for t in set(scores) - offered)
