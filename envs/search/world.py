"""A seeded fictional world: people, places, organizations, works and events, with typed facts.

Entity types and their facts (``attrs`` are values, ``rels`` point to other entities' ids):

* ``country``: population, area_km2; demonym (the nationality adjective).
* ``city``: population, founded_year, elevation_m; ``located_in`` a country.
* ``person``: birth_year/month/day, occupation, nationality (a country id); ``born_in`` a city,
  optionally ``member_of`` an organization.
* ``org`` (university, company, band, orchestra, ...): founded_year, members; ``founder`` (a
  person), ``headquartered_in`` (a city), optionally ``successor_of`` (an older org of its kind).
* ``work`` (film, novel, album, opera): year plus a size (runtime, pages, tracks, acts);
  ``creator`` (a person whose occupation fits: a film's director, a novel's author, ...).
* ``event`` (festival, treaty, expedition, ...): year, attendance; ``held_in`` a city,
  ``organizer`` (an organization founded before it).

Every relation is functional (one target), names are unique within a world, and dates are
consistent (nobody founds anything before the age of 20).  The same seed always gives the same
world; ``forbidden`` coined tokens (another world's) never appear.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from envs.search.names import NameGen

OCCUPATIONS = [
    "architect", "physician", "chemist", "politician", "painter", "sculptor", "engineer", "journalist",
    "mathematician", "actor", "astronomer", "botanist", "lawyer", "historian", "photographer",
]
WORK_KINDS = {  # kind -> (creator occupation, creator verb, size attribute, size range)
    "film": ("film director", "directed", "runtime_min", (70, 190)),
    "novel": ("novelist", "wrote", "pages", (120, 900)),
    "album": ("musician", "recorded", "tracks", (6, 18)),
    "opera": ("composer", "composed", "acts", (1, 5)),
}
CREATOR_SHARE = {"film director": 0.13, "novelist": 0.12, "musician": 0.10, "composer": 0.08}
ORG_KINDS = ["university", "company", "band", "orchestra", "publisher", "film studio", "society", "museum", "football club", "bank"]
EVENT_KINDS = ["festival", "treaty", "expedition", "championship", "exhibition", "congress"]
_COMPANY = ["Industries", "Motors", "Shipping", "Textiles", "Mining", "Airways", "Foods", "Instruments"]
_FIELDS = ["Natural Sciences", "Letters", "Engineers", "Historians", "Physicians", "Fine Arts"]


@dataclass
class Entity:
    id: str
    type: str
    name: str
    kind: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    rels: dict[str, str] = field(default_factory=dict)
    tokens: tuple[str, ...] = ()  # the coined words in the name


@dataclass
class World:
    seed: int
    entities: dict[str, Entity]

    def of_type(self, type_: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.type == type_]

    def __getitem__(self, entity_id: str) -> Entity:
        return self.entities[entity_id]

    def rel(self, entity: Entity, name: str) -> Entity:
        return self.entities[entity.rels[name]]

    @cached_property
    def reverse(self) -> dict[tuple[str, str], list[Entity]]:
        """``(relation, target id) -> entities with that relation to the target``, in id order."""
        out: dict[tuple[str, str], list[Entity]] = defaultdict(list)
        for e in self.entities.values():
            for name, target in e.rels.items():
                out[(name, target)].append(e)
        return out

    def pointing(self, relation: str, target: Entity) -> list[Entity]:
        return self.reverse.get((relation, target.id), [])

    def tokens(self) -> set[str]:
        """Every coined word in the world's names (lower case)."""
        return {t.lower() for e in self.entities.values() for t in e.tokens}


def generate_world(seed: int, n_people: int = 1200, forbidden: set[str] | frozenset[str] = frozenset()) -> World:
    """A world of about ``2.5 * n_people`` entities."""
    return _Builder(seed, n_people, forbidden).build()


class _Builder:
    def __init__(self, seed: int, n_people: int, forbidden: set[str] | frozenset[str]):
        self.rng = random.Random(seed)
        self.seed = seed
        self.names = NameGen(random.Random(seed * 7919 + 1), forbidden)
        self.n = n_people
        self.entities: dict[str, Entity] = {}
        self.full_names: set[str] = set()

    def add(self, type_: str, name: str, tokens: tuple[str, ...], **kw: Any) -> Entity:
        entity = Entity(id=f"{type_}:{len(self._by_type.setdefault(type_, []))}", type=type_, name=name, tokens=tokens, **kw)
        self.entities[entity.id] = entity
        self.full_names.add(name.lower())
        self._by_type.setdefault(type_, []).append(entity)
        return entity

    def free(self, name: str) -> bool:
        return name.lower() not in self.full_names

    def build(self) -> World:
        self._by_type: dict[str, list[Entity]] = {}
        rng, n = self.rng, self.n
        for _ in range(max(8, n // 60)):
            name, demonym = self.names.country()
            self.add("country", name, (name, demonym), attrs={"population": rng.randint(300, 90_000) * 1000, "area_km2": rng.randint(2_000, 900_000), "demonym": demonym})
        countries = self._by_type["country"]
        for _ in range(max(20, n // 5)):
            token = self.names.token("city")
            self.add("city", token, (token,), attrs={"population": rng.randint(40, 30_000) * 100, "founded_year": rng.randint(700, 1850), "elevation_m": rng.randint(0, 2600)},
                     rels={"located_in": rng.choice(countries).id})
        cities = self._by_type["city"]
        self._people(cities, countries)
        self._orgs(cities)
        self._works()
        self._events(cities)
        return World(seed=self.seed, entities=self.entities)

    def _people(self, cities: list[Entity], countries: list[Entity]) -> None:
        rng = self.rng
        given = [self.names.token("given") for _ in range(max(30, self.n // 4))]
        family = [self.names.token("family") for _ in range(max(30, int(self.n / 2.5)))]
        shares = list(CREATOR_SHARE.items())
        for _ in range(self.n):
            while True:  # full names are unique; family names are shared on purpose
                first, last = rng.choice(given), rng.choice(family)
                if self.free(f"{first} {last}"):
                    break
            u, occupation, acc = rng.random(), rng.choice(OCCUPATIONS), 0.0
            for occ, share in shares:
                acc += share
                if u < acc:
                    occupation = occ
                    break
            city = rng.choice(cities)
            nationality = city.rels["located_in"] if rng.random() < 0.8 else rng.choice(countries).id
            self.add("person", f"{first} {last}", (first, last),
                     attrs={"birth_year": rng.randint(1820, 1985), "birth_month": rng.randint(1, 12), "birth_day": rng.randint(1, 28), "occupation": occupation},
                     rels={"born_in": city.id, "nationality": nationality})

    def _org_name(self, kind: str, cities: list[Entity]) -> tuple[str, tuple[str, ...]]:
        rng = self.rng
        city = rng.choice(cities).name
        people = self._by_type["person"]
        surname = rng.choice(people).name.split()[1]
        pattern = rng.choice({
            "university": ["University of {city}", "{surname} University", "{city} Polytechnic"],
            "company": ["{word} {trade}", "{surname} {trade}"],
            "band": ["The {word} Collective", "{word} Parade", "The {surname} Brothers"],
            "orchestra": ["{city} Philharmonic Orchestra", "{city} Chamber Orchestra", "{surname} Ensemble"],
            "publisher": ["{word} Press", "{surname} & {surname2}", "{city} Books"],
            "film studio": ["{word} Pictures", "{word} Studios", "{city} Film Works"],
            "society": ["Royal {word} Society", "{city} Society of {field}", "{surname} Circle"],
            "museum": ["{city} Museum of Art", "{surname} Museum", "{city} Museum of History"],
            "football club": ["FC {city}", "{city} Rovers", "{city} Athletic"],
            "bank": ["Bank of {city}", "{surname} Bank", "{word} Savings"],
        }[kind])
        fill = {"city": city, "surname": surname, "trade": rng.choice(_COMPANY), "field": rng.choice(_FIELDS),
                "surname2": rng.choice(people).name.split()[1]}
        if "{word}" in pattern:
            fill["word"] = self.names.token("word")
        name = pattern.format(**fill)
        return name, tuple(w for w in name.replace("&", " ").split() if w.lower() in self.names.used)

    def _orgs(self, cities: list[Entity]) -> None:
        rng = self.rng
        people = [p for p in self._by_type["person"] if p.attrs["birth_year"] <= 1975]
        by_kind: dict[str, list[Entity]] = defaultdict(list)
        for _ in range(self.n // 2):
            kind = rng.choice(ORG_KINDS)
            name, tokens = self._org_name(kind, cities)
            while not self.free(name):
                name, tokens = self._org_name(kind, cities)
            founder = rng.choice(people)
            born = founder.attrs["birth_year"]
            year = rng.randint(born + 20, min(born + 70, 2015))
            rels = {"founder": founder.id, "headquartered_in": rng.choice(cities).id}
            older = [o for o in by_kind[kind] if o.attrs["founded_year"] < year]
            if older and rng.random() < 0.3:
                rels["successor_of"] = rng.choice(older).id
            org = self.add("org", name, tokens, kind=kind, attrs={"founded_year": year, "members": rng.randint(5, 4000)}, rels=rels)
            by_kind[kind].append(org)
        orgs = self._by_type["org"]
        music = [o for o in orgs if o.kind in ("band", "orchestra")]
        other = [o for o in orgs if o.kind not in ("band", "orchestra")]
        for person in self._by_type["person"]:
            if rng.random() < 0.55:
                pool = music if person.attrs["occupation"] in ("musician", "composer") else other
                fits = [o for o in rng.sample(pool, min(20, len(pool))) if o.attrs["founded_year"] <= person.attrs["birth_year"] + 50]
                if fits:
                    person.rels["member_of"] = fits[0].id

    def _works(self) -> None:
        rng, word = self.rng, lambda: self.names.token("word")
        cities = self._by_type["city"]
        studios = {"film": [o for o in self._by_type["org"] if o.kind == "film studio"],
                   "novel": [o for o in self._by_type["org"] if o.kind == "publisher"]}
        for kind, (occupation, *_rest) in WORK_KINDS.items():
            size_attr, (lo, hi) = WORK_KINDS[kind][2], WORK_KINDS[kind][3]
            creators = [p for p in self._by_type["person"] if p.attrs["occupation"] == occupation]
            for creator in creators:
                n_works = rng.choice([1, 1, 1, 2, 2, 3, 4, 5])
                born = creator.attrs["birth_year"]
                years = rng.sample(range(born + 20, min(born + 75, 2024)), n_works)
                for year in years:
                    while True:
                        city, given = rng.choice(cities).name, rng.choice(self._by_type["person"]).name.split()[0]
                        title = rng.choice([f"The {word()} Letters", f"{given}'s Garden", f"Songs of {city}", f"A Winter in {city}",
                                            f"The Last {word()}", f"Night over {city}", f"The {word()} Affair", f"{word()}",
                                            f"Return to {city}", f"The House of {word()}"])
                        if self.free(title) and self.free(title.removeprefix("The ").removeprefix("A ")):
                            break
                    tokens = tuple(w.split("'")[0] for w in title.split() if w.split("'")[0].lower() in self.names.used)
                    rels = {"creator": creator.id}
                    if kind in studios and studios[kind] and rng.random() < 0.6:
                        fits = [o for o in rng.sample(studios[kind], min(10, len(studios[kind]))) if o.attrs["founded_year"] < year]
                        if fits:
                            rels["publisher" if kind == "novel" else "studio"] = fits[0].id
                    self.add("work", title, tokens, kind=kind, attrs={"year": year, size_attr: rng.randint(lo, hi)}, rels=rels)

    def _events(self, cities: list[Entity]) -> None:
        rng, word = self.rng, lambda: self.names.token("word")
        orgs = self._by_type["org"]
        for _ in range(self.n // 6):
            kind = rng.choice(EVENT_KINDS)
            while True:
                city = rng.choice(cities)
                # Names never contain the host city: "held_in" questions must need the article.
                name = {
                    "festival": f"{word()} {word()} Festival",
                    "treaty": f"Treaty of {word()}",
                    "expedition": f"{word()} Expedition",
                    "championship": f"{word()} Cup",
                    "exhibition": f"{word()} Exhibition of {rng.choice(['Industry', 'Arts', 'Science', 'Design'])}",
                    "congress": f"{word()} Congress",
                }[kind]
                if self.free(name):
                    break
            organizer = rng.choice(orgs)
            year = rng.randint(organizer.attrs["founded_year"] + 1, 2024)
            tokens = tuple(w for w in name.split() if w.lower() in self.names.used)
            self.add("event", name, tokens, kind=kind, attrs={"year": year, "attendance": rng.randint(50, 120_000)},
                     rels={"held_in": city.id, "organizer": organizer.id})
