"""The seeded catalog generator: one world's products, in varied phrasing.

A product is a plain dict (what the app, the reward and the loader of the real WebShop files all
share): ``asin``, ``title``, ``brand``, ``type`` (the product type's phrase), ``query`` (the same
phrase: WebShop's products carry the search query they were scraped with), ``category``,
``product_category`` ("Category › Subcategory › Type"), ``price``, ``options`` ({axis: [values]}),
``attributes``, ``bullets``, ``description``, ``reviews`` ([{rating, text}]), ``rating`` and
``nouns`` (the noun list the type reward compares; stored in place of spaCy's tagging).

Every product of a type draws 2-4 of the type's attributes, 3-6 values of each option axis and a
price in the type's range, so each type has hundreds of near misses of any target: products that
lack one wanted attribute, lack the wanted option value or cost more.  Text only states the
attributes a product has.  Generation uses one ``random.Random(seed)`` and never iterates a set, so
a seed gives the same catalog in every process.
"""

from __future__ import annotations

import random
import string
from typing import Any

from envs.webshop.vocab import (
    BRAND_SYLLABLES,
    OPTION_POOLS,
    TITLE_WORDS,
    ProductType,
    product_types,
)

PER_TYPE = 280  # 36 types per world: 10,080 products
ASIN_PREFIX = {"A": "A0", "B": "W0"}

_TITLE = [
    "{brand} {a1t} {phraset}, {a2t}, {word}",
    "{brand} {phraset} - {a1t} and {a2t}",
    "{word} {phraset} by {brand} | {a1t}",
    "{brand} {word} {phraset} with {a1}",
    "{a1t} {phraset} from {brand}, {word} Series",
    "{brand} {phraset} ({a1t}, {a2t})",
]
_BULLET = [
    "{A}: {p} that is {a}, {f1}.",
    "{a} by design - {f2}.",
    "Why {a}? Because {f1}, and {f2}.",
    "{A} - this {p} was made {a} so that {f2}.",
    "Thoughtfully {a}: {f1}.",
]
_FILLER1 = ["it holds up to daily use", "every detail is checked twice", "it is made to last season after season",
            "you can count on it every day", "it is finished with care", "it ships ready to use"]
_FILLER2 = ["you spend less time worrying", "it fits right into your routine", "it makes a thoughtful gift",
            "our support team stands behind it", "it keeps its good looks", "it simply works"]
_DESCRIPTION = [
    "Meet the {brand} {p}. {S}. {g1}",
    "{S}. The {brand} {p} is our answer for anyone who wants more from a {p}. {g1}",
    "Looking for a {p}? {S}. {g1} {g2}",
    "This {p} by {brand} keeps things simple. {S}. {g2}",
]
_GENERIC = ["Packed in recyclable packaging.", "Designed and tested by our in-house team.",
            "Satisfaction guaranteed or your money back.", "Available in several choices.",
            "Read the reviews to see what others think.", "Care instructions are on the label."]
_REVIEW = {
    5: ["Exactly what I wanted, the {a} part really shows.", "Love it. Would buy again.", "Five stars, {a} as promised."],
    4: ["Very good {p}, {a} like the listing said.", "Solid purchase, minor quibbles.", "Good value for the money."],
    3: ["It is okay. Does the job.", "Average {p}, nothing special.", "Fine, but shipping took long."],
    2: ["Not great, expected more.", "Quality could be better.", "Returned it, did not suit me."],
    1: ["Arrived damaged.", "Would not recommend.", "Stopped working after a week."],
}


def make_brands(world: str, rng: random.Random, count: int = 360, forbidden: frozenset[str] = frozenset()) -> list[str]:
    heads, tails = BRAND_SYLLABLES[world]
    names: list[str] = []
    seen: set[str] = set(forbidden)
    while len(names) < count:
        name = "".join(rng.choice(heads) for _ in range(rng.randint(1, 2))) + rng.choice(tails)
        name = name.capitalize()
        if name.lower() not in seen and len(name) >= 4:
            seen.add(name.lower())
            names.append(name)
    return names


def _asin(world: str, rng: random.Random, used: set[str]) -> str:
    while True:
        asin = ASIN_PREFIX[world] + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        if asin not in used:
            used.add(asin)
            return asin


def _cap(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def make_product(kind: ProductType, world: str, brand: str, asin: str, rng: random.Random) -> dict[str, Any]:
    attrs = rng.sample(kind.attributes, rng.randint(2, min(4, len(kind.attributes))))
    options: dict[str, list[str]] = {}
    for axis, pool_name in kind.axes:
        pool = OPTION_POOLS[pool_name]
        chosen = set(rng.sample(range(len(pool)), rng.randint(min(3, len(pool)), min(6, len(pool)))))
        options[axis] = [v for i, v in enumerate(pool) if i in chosen]
    low, high = kind.price
    price = max(round(rng.uniform(low, high)) - 0.01, 0.99)
    fields = {"brand": brand, "phraset": _cap(kind.phrase), "p": kind.phrase, "word": rng.choice(TITLE_WORDS[world]),
              "a1": attrs[0], "a1t": _cap(attrs[0]), "a2t": _cap(attrs[1])}
    title = rng.choice(_TITLE).format(**fields)
    bullets = [rng.choice(_BULLET).format(A=a.upper(), a=a, p=kind.phrase, f1=rng.choice(_FILLER1), f2=rng.choice(_FILLER2))
               for a in attrs]
    said = ", ".join(attrs[:-1]) + f" and {attrs[-1]}"
    description = rng.choice(_DESCRIPTION).format(brand=brand, p=kind.phrase, S=f"It is {said}", g1=rng.choice(_GENERIC),
                                                  g2=rng.choice(_GENERIC))
    reviews = []
    for _ in range(rng.randint(2, 4)):
        stars = rng.choices([5, 4, 3, 2, 1], weights=[5, 4, 2, 1, 1])[0]
        reviews.append({"rating": stars, "text": rng.choice(_REVIEW[stars]).format(a=rng.choice(attrs), p=kind.phrase)})
    return {
        "asin": asin, "title": title, "brand": brand, "type": kind.key, "query": kind.phrase,
        "category": kind.category, "product_category": f"{_cap(kind.category)} › {_cap(kind.subcategory)} › {_cap(kind.phrase)}",
        "price": price, "options": options, "attributes": attrs, "bullets": bullets, "description": description,
        "reviews": reviews, "rating": round(sum(r["rating"] for r in reviews) / len(reviews), 1),
        "nouns": [brand.lower(), *kind.nouns],
    }


def generate_catalog(world: str, seed: int, per_type: int = PER_TYPE, forbidden_brands: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """All products of ``world`` ("A" or "B"), in a seeded shuffled order."""
    rng = random.Random(seed)
    brands = make_brands(world, rng, forbidden=forbidden_brands)
    used: set[str] = set()
    products = []
    for kind in product_types(world):
        type_brands = rng.sample(brands, 40)  # a type is sold by a few dozen brands, as in a real shop
        for _ in range(per_type):
            products.append(make_product(kind, world, rng.choice(type_brands), _asin(world, rng, used), rng))
    rng.shuffle(products)
    return products
