"""Goals: what to buy, phrased as an instruction, with the facts the reward and the oracle need.

A goal names a target product, 1-3 of its attributes, one value of each of its option axes and
``price_upper``, chosen by WebShop's rule: of 10, 20, ..., 990 take the first four values above
the target's price, sample two, keep the larger (stored with the task, never drawn at load time).

The instruction comes from a template; templates are split three ways (train, val, test) so val
and test are phrased in ways training never shows.  Test templates also phrase the price
differently, and :func:`shares_ngram` lets the builder drop any test goal that still shares an
8-gram with a training instruction.

A goal is kept only when it is solvable and discriminating: the target ranks in the top 50 for the
goal-derived query (attributes + product type + option values) that the oracle searches, and at
least :data:`MIN_NEGATIVES` other products of the same type miss it (lack a wanted attribute, lack
a wanted option value, or cost more than ``price_upper``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from envs.webshop import reward as R
from envs.webshop.search import RESULTS, Catalog

MIN_NEGATIVES = 5
PRICE_STEPS = [float(p) for p in range(10, 1000, 10)]

TEMPLATES: dict[str, list[str]] = {
    "train": [
        "i'm looking for a {type} that is {attrs}, with {opts}, and price lower than {price} dollars",
        "i need {attrs} {type} with {opts}, and price lower than {price} dollars",
        "please find a {type}, {attrs}, in {opts}, and price lower than {price} dollars",
        "i want to buy a {type} which is {attrs}, and choose {opts}, and price lower than {price} dollars",
        "show me {attrs} {type} with {opts}, and price lower than {price} dollars",
        "get me a {type} that's {attrs}; it should come in {opts}, and price lower than {price} dollars",
    ],
    "val": [
        "my {type} must be {attrs}. pick {opts}, and price lower than {price} dollars",
        "searching for {attrs} {type}, {opts} please, and price lower than {price} dollars",
    ],
    "test": [
        "could you help me buy {attrs} {type}? i'd like {opts}. keep it under {price} dollars",
        "shopping list: {type} ({attrs}), options {opts}; budget {price} dollars at most",
        "for my home i would order a {type} -- needs to be {attrs} -- {opts}, costing no more than {price} dollars",
        "{type} wanted: {attrs}. preferred {opts}. spend below {price} dollars",
    ],
}


NO_PRICE_BOUND = 1_000_000.0  # the original's bound when fewer than two steps lie above the price


def price_upper(price: float, rng: random.Random) -> float:
    above = [p for p in PRICE_STEPS if p > price][:4]
    if len(above) < 2:
        return NO_PRICE_BOUND  # and the instruction names no price
    return max(rng.sample(above, 2))


def oracle_query(goal: dict[str, Any]) -> str:
    return " ".join([*goal["attributes"], goal["query"], *goal["options"].values()])


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def make_goal(product: dict[str, Any], rng: random.Random, template: str) -> dict[str, Any]:
    attributes = rng.sample(product["attributes"], rng.randint(1, min(3, len(product["attributes"]))))
    options = {axis: rng.choice(values) for axis, values in product["options"].items()}
    upper = price_upper(product["price"], rng)
    opts = ", ".join(f"{axis}: {value}" for axis, value in options.items())
    instruction = template.format(type=product["type"], attrs=_listing(attributes), opts=opts, price=f"{upper:.2f}")
    return {
        "asin": product["asin"], "name": product["title"], "query": product["query"], "product_category": product["product_category"],
        "nouns": list(product["nouns"]), "attributes": attributes, "options": options, "price_upper": upper,
        "instruction": instruction, "template": template,
    }


def is_negative(product: dict[str, Any], goal: dict[str, Any]) -> bool:
    """True when no choice of options lets ``product`` score 1.0 for ``goal`` (type aside)."""
    if product["price"] > goal["price_upper"]:
        return True
    if R.attribute_matches(product, goal["attributes"]) < len(goal["attributes"]):
        return True
    offered = [v for values in product.get("options", {}).values() for v in values]
    return R.option_matches(offered, list(goal["options"].values())) < len(goal["options"])


def count_negatives(goal: dict[str, Any], same_type: Iterable[dict[str, Any]], enough: int = MIN_NEGATIVES) -> int:
    found = 0
    for product in same_type:
        if product["asin"] != goal["asin"] and is_negative(product, goal):
            found += 1
            if found >= enough:
                break
    return found


def target_rank(catalog: Catalog, goal: dict[str, Any]) -> int | None:
    """1-based rank of the target for the oracle's query, or None beyond the results pages."""
    hits = catalog.search(oracle_query(goal), RESULTS)
    return hits.index(goal["asin"]) + 1 if goal["asin"] in hits else None


def ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def shares_ngram(text: str, seen: set[tuple[str, ...]], n: int = 8) -> bool:
    return bool(ngrams(text, n) & seen)


def make_goals(catalog: Catalog, count: int, rng: random.Random, templates: list[str], exclude: set[str],
               banned_ngrams: set[tuple[str, ...]] | None = None) -> list[dict[str, Any]]:
    """Up to ``count`` kept goals, each on a distinct target not in ``exclude`` (which it extends)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for product in catalog.products:
        by_type.setdefault(product["type"], []).append(product)
    order = list(range(len(catalog.products)))
    rng.shuffle(order)
    goals = []
    for i in order:
        if len(goals) >= count:
            break
        product = catalog.products[i]
        if product["asin"] in exclude:
            continue
        goal = make_goal(product, rng, rng.choice(templates))
        if banned_ngrams is not None and shares_ngram(goal["instruction"], banned_ngrams):
            continue
        rank = target_rank(catalog, goal)
        if rank is None or count_negatives(goal, by_type[product["type"]]) < MIN_NEGATIVES:
            continue
        exclude.add(product["asin"])
        goal["oracle_query"], goal["oracle_rank"] = oracle_query(goal), rank
        goals.append(goal)
    return goals
