"""WebShop's reward, hand-computed: fuzzy and substring attributes, colour normalization, options,
price over budget, product type from nouns, query and category."""

import pytest

from envs.webshop import reward as R
from envs.webshop.vocab import OPTION_POOLS, product_types

BOOTS = {
    "title": "Kalix Waterproof Hiking Boots, Lace Up", "bullets": ["RUBBER SOLE: grips wet rock."],
    "description": "Meet the Kalix hiking boots. It is waterproof and made with a memory foam insole.",
    "attributes": ["waterproof", "non-slip", "lace up"], "price": 59.99, "nouns": ["kalix", "hiking", "boots"],
    "query": "hiking boots", "product_category": "Shoes › Men › Hiking Boots",
}


def goal(**kw):
    base = {"attributes": ["waterproof"], "options": {}, "price_upper": 60.0, "nouns": ["kalix", "hiking", "boots"],
            "query": "hiking boots", "product_category": "Shoes › Men › Hiking Boots"}
    return {**base, **kw}


def test_ratio_is_thefuzz_token_set_ratio_rounded():
    assert R.ratio("non slip", "non-slip") == 100  # punctuation becomes space: the same token set
    assert R.ratio("3 ounce (pack of 1)", "3 ounce") == 100  # one token set inside the other
    # {machine, wash} vs {machine, washable}: best of "machine wash" vs "machine washable" = 2*12/28 = 85.7 -> 86
    assert R.ratio("machine wash", "machine washable") == 86
    # no shared token: "resistant water" vs "waterproof", longest common subsequence "water": 2*5/25 = 40
    assert R.ratio("water resistant", "waterproof") == 40
    assert R.ratio("", "anything") == 0


def test_attributes_by_fuzzy_match_then_by_substring():
    assert R.attribute_matches(BOOTS, ["non slip"]) == 1  # fuzzy: 100 with "non-slip"
    assert R.attribute_matches(BOOTS, ["memory foam"]) == 1  # not an attribute, but in the description
    assert R.attribute_matches(BOOTS, ["rubber sole"]) == 1  # in a bullet, matched lowercased
    assert R.attribute_matches(BOOTS, ["ankle support", "lace-up"]) == 1  # "lace-up" fuzzy-matches "lace up"
    assert R.attribute_matches(BOOTS, ["water resistant"]) == 0  # 40 < 85 and no substring


def test_colour_normalization_and_options():
    assert R.normalize_color("navy blue") == "blue"  # the first listed colour the value contains
    assert R.normalize_color("light grey heather") == "grey"
    assert R.normalize_color("xl") == "xl"
    assert R.option_matches(["dark blue", "xl"], ["navy blue", "xl"]) == 2  # both normalize to "blue"
    assert R.option_matches(["red", "xl"], ["burgundy red", "2xl"]) == 0  # "burgundy" vs "red"; "xl" vs "2xl" is 80
    assert R.option_matches([], ["red"]) == 0


def test_score_counts_attributes_options_and_price():
    g = goal(attributes=["waterproof", "ankle support"], options={"color": "black", "size": "9"})
    # 1 of 2 attributes, 1 of 2 options, price ok: (1 + 1 + 1) / (2 + 2 + 1) = 0.6
    parts = R.score(BOOTS, {"color": "black", "size": "10"}, g)
    assert parts["score"] == 0.6 and parts["r_att"] == 0.5 and parts["r_option"] == 0.5 and parts["r_price"] is True
    # all matched: 1.0; over budget by a cent: 4 / 5
    full = goal(attributes=["waterproof", "lace up"], options={"color": "black", "size": "9"})
    assert R.score(BOOTS, {"color": "black", "size": "9"}, full)["score"] == 1.0
    over = R.score(BOOTS, {"color": "black", "size": "9"}, {**full, "price_upper": 59.98})
    assert over["score"] == 0.8 and over["r_price"] is False


def test_type_reward_from_nouns_query_and_category():
    assert R.type_reward(BOOTS, goal())["r_type"] == 1.0  # the same nouns
    other = {**BOOTS, "nouns": ["pelo", "boots"], "query": "ankle boots", "product_category": "Shoes › Women › Ankle Boots"}
    assert R.type_reward(other, goal())["title_score"] == pytest.approx(1 / 3)  # 1 of the goal's 3 nouns: > 0.2
    assert R.type_reward(other, goal())["r_type"] == 1.0
    six = goal(nouns=["kalix", "hiking", "boots", "men", "trail", "gear"])
    unrelated = {"nouns": ["pelo", "boots"], "query": "x", "product_category": "A › B › C"}
    assert R.type_reward(unrelated, six)["r_type"] == 0.5  # 1/6 <= 0.2 and no query or category match
    assert R.type_reward({**unrelated, "product_category": "Shoes › Men › Loafers"}, six)["r_type"] == 1.0  # 2 levels shared
    eleven = goal(nouns=[f"n{i}" for i in range(10)] + ["boots"])
    assert R.type_reward(unrelated, eleven)["r_type"] == 0.1  # 1/11 < 0.1
    shampoo = {"nouns": ["lumo", "shampoo"], "query": "hiking boots", "product_category": "Shoes › Men › Hiking Boots"}
    assert R.type_reward(shampoo, goal())["r_type"] == 0.0  # no shared noun: 0 even with the query matching
    assert R.type_reward(shampoo, goal(nouns=[]))["title_score"] == 0.2  # a goal without nouns


def test_wrong_product_type_scores_zero_whatever_else_matches():
    g = goal(attributes=["waterproof"], options={"color": "black"})
    wrong = {**BOOTS, "nouns": ["kalix", "jacket"], "query": "rain jacket", "product_category": "Clothing › Women › Rain Jacket"}
    # title_score 1/3 -> r_type 1.0; the noun "kalix" alone carries it, as in the original
    assert R.score(wrong, {"color": "black"}, g)["score"] == 1.0
    wrong["nouns"] = ["lumo", "jacket"]
    assert R.score(wrong, {"color": "black"}, g)["score"] == 0.0


def test_option_pools_and_attribute_pools_discriminate():
    # no two values of one pool match under the option rule, so a wrong option really costs
    for name, pool in OPTION_POOLS.items():
        for i, a in enumerate(pool):
            for b in pool[i + 1 :]:
                assert R.option_matches([a], [b]) == 0, (name, a, b)
    for world in ("A", "B"):
        for kind in product_types(world):
            for i, a in enumerate(kind.attributes):
                for b in kind.attributes[i + 1 :]:
                    assert R.ratio(a, b) <= R.THRESHOLD and a not in b and b not in a, (kind.phrase, a, b)
