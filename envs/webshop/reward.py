"""WebShop's reward for buying ``product`` with ``options`` against ``goal``.

    score = r_type * (N_att + N_opt + [price <= price_upper]) / (|goal attributes| + |goal options| + 1)

* ``N_att``: a goal attribute counts when its fuzzy token-set ratio with any product attribute is
  > 85, else when it is a substring of the lowercased title, bullets or description.
* ``N_opt``: chosen and goal option values are colour-normalized (the first name in
  :data:`COLORS` that the value contains replaces it); a goal option counts when any chosen value
  has ratio > 85 with it.  :func:`best_options` picks the page's values that this rule counts most
  (what the oracle clicks).
* ``r_type`` from the nouns of the bought product's name against the goal's (``title_score`` =
  shared distinct nouns / number of goal nouns; 0.2 when the goal has none): 1.0, but 0.5 unless
  the product's query equals the goal's, they share >= 2 category levels or title_score > 0.2;
  0.1 when title_score < 0.1; 0.0 when it is 0.
* The ratio is ``rapidfuzz.fuzz.token_set_ratio`` with ``rapidfuzz.utils.default_process``,
  rounded as thefuzz rounds.  The original tags nouns with spaCy; here each product stores its
  noun list (``nouns``) when it is generated or loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import fuzz, utils

THRESHOLD = 85
COLORS = (
    "alabaster", "apricot", "aqua", "ash", "azure", "beige", "black", "blue", "blush", "bronze", "brown",
    "burgundy", "camel", "caramel", "champagne", "charcoal", "cherry", "chocolate", "coffee", "copper", "coral",
    "cream", "denim", "emerald", "espresso", "fuchsia", "gold", "gray", "green", "grey", "indigo", "ivory",
    "khaki", "lavender", "lemon", "lilac", "lime", "magenta", "maroon", "mauve", "mint", "mocha", "multicolor",
    "mustard", "navy", "nude", "olive", "orange", "peach", "pink", "plum", "purple", "red", "rose", "rust",
    "sand", "silver", "slate", "tan", "taupe", "teal", "turquoise", "violet", "walnut", "white", "wine", "yellow",
)


def ratio(a: str, b: str) -> int:
    """Token-set ratio as WebShop (thefuzz) computes it: default processing, rounded."""
    return round(fuzz.token_set_ratio(a, b, processor=utils.default_process))


def normalize_color(value: str) -> str:
    for color in COLORS:
        if color in value:
            return color
    return value


def type_reward(product: Mapping[str, Any], goal: Mapping[str, Any]) -> dict[str, Any]:
    query_match = product.get("query") == goal.get("query")
    category_match = len(_levels(product.get("product_category")) & _levels(goal.get("product_category"))) >= 2
    desired = [n.lower() for n in goal.get("nouns", [])]
    bought = {n.lower() for n in product.get("nouns", [])}
    title_score = len(bought & set(desired)) / len(desired) if desired else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match, "title_score": title_score}


def _levels(path: Any) -> set[str]:
    return {p.strip() for p in str(path or "").split("›")}


def attribute_matches(product: Mapping[str, Any], goal_attributes: Sequence[str]) -> int:
    text = (
        str(product.get("title", "")).lower(),
        " ".join(product.get("bullets", [])).lower(),
        str(product.get("description", "")).lower(),
    )
    have = product.get("attributes", [])
    # first by fuzzy match with a listed attribute, failing that as a substring of the text
    return sum(any(ratio(h, wanted) > THRESHOLD for h in have) or any(wanted in part for part in text) for wanted in goal_attributes)


def option_matches(chosen: Sequence[str], goal_options: Sequence[str]) -> int:
    chosen = [normalize_color(c) for c in chosen]
    return sum(any(ratio(c, normalize_color(g)) > THRESHOLD for c in chosen) for g in goal_options)


def best_options(offered: Mapping[str, Sequence[str]], goal_options: Sequence[str]) -> dict[str, str]:
    """The values to choose, ``{axis: value}`` (at most one per axis of ``offered``, a product's
    options), for which :func:`option_matches` counts the most ``goal_options``; among those, the
    choice whose values equal the goal's most often, then the closest, then the fewest.  An axis
    none of whose values counts a goal option is left out (its pre-selected value stays)."""
    goals = [normalize_color(g) for g in goal_options]
    axes = []
    for axis, values in offered.items():
        best: dict[frozenset[int], tuple[tuple[int, int], str]] = {}  # of values counting the same goals, the closest
        for value in values:
            scores = {i: ratio(normalize_color(value), g) for i, g in enumerate(goals)}
            counted = frozenset(i for i, r in scores.items() if r > THRESHOLD)
            rank = (sum(value == goal_options[i] for i in counted), sum(scores[i] for i in counted))
            if counted and (counted not in best or rank > best[counted][0]):
                best[counted] = (rank, value)
        if best:
            axes.append([(axis, value, {i: (value == goal_options[i], ratio(normalize_color(value), goals[i])) for i in counted})
                         for counted, (_, value) in best.items()] + [None])

    def key(combo: tuple[Any, ...]) -> tuple[int, int, int, int]:
        closest: dict[int, tuple[int, int]] = {}  # goal option -> the best (equal, ratio) of a chosen value
        for choice in filter(None, combo):
            for i, fit in choice[2].items():
                closest[i] = max(closest.get(i, fit), fit)
        return (len(closest), sum(e for e, _ in closest.values()), sum(r for _, r in closest.values()),
                -sum(c is not None for c in combo))

    return {c[0]: c[1] for c in max(itertools.product(*axes), key=key, default=()) if c}


def score(product: Mapping[str, Any], options: Mapping[str, str], goal: Mapping[str, Any]) -> dict[str, Any]:
    """The reward and its parts.  ``goal`` holds ``attributes``, ``options`` ({axis: value}),
    ``price_upper``, ``nouns``, ``query`` and ``product_category``; ``product`` holds ``title``,
    ``bullets``, ``description``, ``attributes``, ``price``, ``nouns``, ``query`` and ``product_category``."""
    parts = type_reward(product, goal)
    goal_attrs = list(goal.get("attributes", []))
    goal_opts = list(dict(goal.get("options", {})).values())
    n_att = attribute_matches(product, goal_attrs)
    n_opt = option_matches(list(options.values()), goal_opts)
    price_ok = float(product["price"]) <= float(goal["price_upper"])
    total = (n_att + n_opt + int(price_ok)) / (len(goal_attrs) + len(goal_opts) + 1) * parts["r_type"]
    return {
        "score": round(total, 6),
        "r_type": parts["r_type"],
        "r_att": n_att / len(goal_attrs) if goal_attrs else None,
        "r_option": n_opt / len(goal_opts) if goal_opts else None,
        "r_price": price_ok,
        "title_score": parts["title_score"],
        "query_match": parts["query_match"],
        "category_match": parts["category_match"],
    }
