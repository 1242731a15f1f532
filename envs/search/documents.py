"""The world as encyclopedia articles: one per entity, in varied phrasings, plus distractors.

Every fact is stated with one of several templates, chosen by a seeded RNG, so that a retriever
or a reader cannot key on one wording.  Articles put their facts first and their background
(career notes, reception, lists of related names) after, so long articles span several pages.
Distractors are disambiguation pages for words that several names share ("Vostan may refer
to: ..."); together with shared family names, organizations named after people or cities, and
works titled after cities, they make a search for a name return more than the one right page.
All text is rendered from the same world, so no document contradicts another.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pydantic import BaseModel

from envs.search.world import WORK_KINDS, Entity, World

_SECTIONS: dict[str, dict[str, list[str]]] = {
    "person": {
        "Early life": ["Little is recorded about {s}'s early schooling.", "{s} grew up in modest circumstances.", "As a child, {s} was often ill and read widely.",
                       "A teacher in {c} encouraged {s} to continue studying.", "{s}'s family moved house {n} times in as many years."],
        "Career": ["In {y}, {s} spent a season in {c}.", "{s} turned down a post in {c} in {y}.", "The years after {y} were the most productive of {s}'s career.",
                   "{s} worked with {n} assistants at the height of that period.", "A dispute with a patron in {c} ended in {y}."],
        "Personal life": ["{s} was known for long letters to friends and rivals.", "Contemporaries described {s} as reserved but exacting.",
                          "{s} kept a garden and a small library of {n} hundred volumes.", "{s} travelled to {c} almost every summer."],
        "Legacy": ["Several biographies of {s} have appeared.", "A collection of {s}'s papers survives in private hands.", "{s}'s reputation rose sharply after {y}.",
                   "A street in {c} bears the name {s}.", "{s}'s legacy remains the subject of debate."],
    },
    "place": {
        "History": ["The area was settled long before written records.", "A fire in {y} destroyed much of the old quarter.", "Trade with {c} shaped the local economy.",
                    "The town walls were pulled down in {y}.", "Several churches date from the same period."],
        "Geography": ["A river divides {s} into an old and a new town.", "Winters in {s} are long and dry.", "{s} is surrounded by {n} villages.",
                      "The nearest large town is {c}."],
        "Economy": ["Farming and small workshops dominate the economy.", "A railway to {c} opened in {y}.", "{s} holds a market every week.",
                    "Tourism has grown since {y}."],
    },
    "org": {
        "History": ["In its early years {s} had only {n} staff.", "{s} was reorganized in {y}.", "A branch office in {c} opened in {y} and closed soon after.",
                    "Money troubles nearly ended {s} in {y}."],
        "Activities": ["{s} publishes an annual report.", "It runs a programme of public lectures.", "{s} keeps an archive of its correspondence.",
                       "Its work reached {c} in {y}."],
        "Governance": ["A board of {n} members oversees {s}.", "Its statutes were rewritten in {y}.", "Members meet twice a year, often in {c}."],
    },
    "event": {
        "Preparations": ["Planning took {n} months.", "Delegates travelled from as far as {c}.", "Bad weather delayed the opening."],
        "Aftermath": ["Accounts of {s} were published in {y}.", "A smaller follow-up was held in {c} in {y}.", "Historians still debate the significance of {s}."],
    },
    "work": {
        "Background": ["Work on a sequel began in {y}.", "An early draft was shown to friends in {c}.", "It went through {n} revisions.",
                       "The idea reportedly came during a journey to {c}."],
        "Reception": ["Critics in {c} called it uneven but ambitious.", "It found a wider audience only years later.", "A restored edition appeared in {y}.",
                      "It was widely discussed on its first appearance."],
        "Legacy": ["It has been translated into {n} languages.", "Scholars still disagree about its ending.", "A revival in {c} drew large crowds."],
    },
}

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]


class Document(BaseModel):
    id: str
    title: str
    text: str
    entity: str | None = None  # the entity the article is about; None for distractors


def num(n: int) -> str:
    return f"{n:,}"


def date(e: Entity, rng: random.Random) -> str:
    d, m, y = e.attrs["birth_day"], MONTHS[e.attrs["birth_month"] - 1], e.attrs["birth_year"]
    return rng.choice([f"{d} {m} {y}", f"{m} {d}, {y}"])


def ref(e: Entity) -> str:
    """An organization's name as it reads mid-sentence ("the University of Kelmar")."""
    if e.type == "org" and (e.name.split()[0] in ("University", "Bank", "Royal") or " of " in e.name):
        return "the " + e.name
    return e.name


def names(items: list[Entity]) -> str:
    labels = [ref(e) for e in items]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def describe(world: World, e: Entity) -> str:
    """A short description (used in disambiguation pages and search snippets of lists)."""
    if e.type == "person":
        return f"{world[e.rels['nationality']].attrs['demonym']} {e.attrs['occupation']}"
    if e.type == "city":
        return f"city in {world.rel(e, 'located_in').name}"
    if e.type == "country":
        return "country"
    if e.type == "work":
        return f"{e.attrs['year']} {e.kind}"
    return e.kind


class _Renderer:
    def __init__(self, world: World, rng: random.Random):
        self.w, self.rng = world, rng
        self.cities = world.of_type("city")

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def sections(self, pool: str, subject: str, years: tuple[int, int]) -> list[str]:
        """1-4 background sections: plausible prose that states none of the world's facts."""
        r = self.rng
        chosen = r.sample(list(_SECTIONS[pool].items()), r.randint(1, min(4, len(_SECTIONS[pool]))))
        out = []
        for heading, templates in chosen:
            lines = r.sample(templates, r.randint(2, len(templates)))
            lo, hi = min(years[0], 2024), min(years[1], 2024)  # the world's present is 2024
            text = " ".join(t.format(s=subject, c=r.choice(self.cities).name, y=r.randint(lo, hi), n=r.randint(2, 40)) for t in lines)
            out.append(f"{heading}. {text}")
        return out

    def person(self, e: Entity) -> tuple[list[str], list[str]]:
        w, r = self.w, self.rng
        last = e.name.split()[1]
        city = w.rel(e, "born_in")
        country, nat = w.rel(city, "located_in"), w.rel(e, "nationality")
        occ, dem = e.attrs["occupation"], nat.attrs["demonym"]
        an = "an" if dem[0] in "AEIOU" else "a"
        intro = self.pick(
            f"{e.name} (born {date(e, r)}) is {an} {dem} {occ}. {last} was born in {city.name}, {country.name}.",
            f"{e.name} is {an} {dem} {occ}, born in {city.name} on {date(e, r)}.",
            f"{e.name} was born on {date(e, r)} in {city.name}, a city in {country.name}. By nationality {last} is {dem}; by profession, {an if occ[0] not in 'aeiou' else 'an'} {occ}.",
        )
        facts = [intro]
        if "member_of" in e.rels:
            org = ref(w.rel(e, "member_of"))
            facts.append(self.pick(f"{last} was a member of {org}.", f"For many years {last} belonged to {org}.", f"{last} joined {org} and remained a member."))
        founded = w.pointing("founder", e)
        if founded:
            facts.append(f"{last} founded {names(founded)}.")
        works = w.pointing("creator", e)
        if works:
            best = r.choice(works)
            facts.append(self.pick(f"{last} is best known for the {best.kind} {best.name}.", f"Among {last}'s works, {best.name} is the best known."))
        born = e.attrs["birth_year"]
        return facts, self.sections("person", last, (born + 8, min(born + 70, 2024)))

    def city(self, e: Entity) -> tuple[list[str], list[str]]:
        w = self.w
        country = w.rel(e, "located_in").name
        facts = [
            self.pick(f"{e.name} is a city in {country}.", f"{e.name} is a town in {country}.", f"{e.name} lies in {country}."),
            self.pick(f"It has a population of {num(e.attrs['population'])}.", f"About {num(e.attrs['population'])} people live in {e.name}.", f"The population of {e.name} is {num(e.attrs['population'])}."),
            self.pick(f"{e.name} was founded in {e.attrs['founded_year']}.", f"The city dates from {e.attrs['founded_year']}, the year of its founding."),
            self.pick(f"It lies at an elevation of {num(e.attrs['elevation_m'])} metres.", f"The city stands {num(e.attrs['elevation_m'])} metres above sea level."),
        ]
        more = []
        if people := w.pointing("born_in", e):
            more.append(f"Notable people born in {e.name} include {names(people)}.")
        if orgs := w.pointing("headquartered_in", e):
            more.append(f"Organizations based in {e.name} include {names(orgs)}.")
        if events := w.pointing("held_in", e):
            more.append(f"{e.name} hosted the {names(events)}.")
        return facts, self.sections("place", e.name, (e.attrs["founded_year"] + 1, 2020)) + more

    def country(self, e: Entity) -> tuple[list[str], list[str]]:
        cities = self.w.pointing("located_in", e)
        facts = [
            self.pick(f"{e.name} is a country with a population of {num(e.attrs['population'])}.", f"{e.name} is a country of {num(e.attrs['population'])} inhabitants."),
            self.pick(f"It covers {num(e.attrs['area_km2'])} square kilometres.", f"Its area is {num(e.attrs['area_km2'])} square kilometres."),
            f"People and things from {e.name} are called {e.attrs['demonym']}.",
        ]
        return facts, self.sections("place", e.name, (1700, 2020)) + ([f"Cities in {e.name} include {names(cities)}."] if cities else [])

    def org(self, e: Entity) -> tuple[list[str], list[str]]:
        w = self.w
        founder, city = w.rel(e, "founder").name, w.rel(e, "headquartered_in").name
        year = e.attrs["founded_year"]
        an = "an" if e.kind[0] in "aeiou" else "a"
        facts = [self.pick(
            f"{e.name} is {an} {e.kind} founded in {year} by {founder}. It is headquartered in {city}.",
            f"Founded by {founder} in {year}, {e.name} is {an} {e.kind} based in {city}.",
            f"{e.name} is {an} {e.kind} in {city}. {founder} founded it in {year}.",
        )]
        staff = "employees" if e.kind in ("company", "bank") else "members"
        facts.append(self.pick(f"It has {num(e.attrs['members'])} {staff}.", f"The {e.kind} counts {num(e.attrs['members'])} {staff}."))
        if "successor_of" in e.rels:
            old = ref(w.rel(e, "successor_of"))
            facts.append(self.pick(f"{e.name} is the successor of {old}.", f"It succeeded {old}.", f"{e.name} replaced {old}, whose successor it is."))
        more = []
        if members := w.pointing("member_of", e):
            more.append(f"Its members have included {names(members)}.")
        if later := w.pointing("successor_of", e):
            more.append(f"It was later succeeded by {names(later)}.")
        if events := w.pointing("organizer", e):
            more.append(f"It organized the {names(events)}.")
        return facts, self.sections("org", e.name, (e.attrs["founded_year"] + 1, 2024)) + more

    def work(self, e: Entity) -> tuple[list[str], list[str]]:
        w = self.w
        _, verb, size_attr, _ = WORK_KINDS[e.kind]
        creator, year, size = w.rel(e, "creator").name, e.attrs["year"], e.attrs[size_attr]
        by = {"film": "directed by", "novel": "written by", "album": "recorded by", "opera": "composed by"}[e.kind]
        facts = [self.pick(
            f"{e.name} is a {year} {e.kind} {by} {creator}.",
            f"{e.name} is a {e.kind} by {creator}, released in {year}.",
            f"Released in {year}, {e.name} was {by} {creator}.",
            f"{creator} {verb} {e.name}, a {e.kind} that appeared in {year}.",
        )]
        facts.append({
            "film": self.pick(f"The film runs {size} minutes.", f"Its running time is {size} minutes."),
            "novel": self.pick(f"The novel has {size} pages.", f"It runs to {size} pages."),
            "album": self.pick(f"The album has {size} tracks.", f"It contains {size} tracks."),
            "opera": self.pick(f"The opera is in {size} acts.", f"It has {size} acts."),
        }[e.kind])
        for rel, phrase in (("studio", "It was produced by"), ("publisher", "It was published by")):
            if rel in e.rels:
                facts.append(f"{phrase} {ref(w.rel(e, rel))}.")
        return facts, self.sections("work", e.name, (e.attrs["year"] + 1, e.attrs["year"] + 40))

    def event(self, e: Entity) -> tuple[list[str], list[str]]:
        w = self.w
        city, org = w.rel(e, "held_in").name, ref(w.rel(e, "organizer"))
        return [
            self.pick(f"The {e.name} was a {e.kind} held in {city} in {e.attrs['year']}.", f"In {e.attrs['year']}, {city} hosted the {e.name}, a {e.kind}."),
            self.pick(f"It was organized by {org}.", f"{org} organized it."),
            self.pick(f"About {num(e.attrs['attendance'])} people attended.", f"Attendance was reported at {num(e.attrs['attendance'])}."),
        ], self.sections("event", "the " + e.name, (e.attrs["year"] + 1, e.attrs["year"] + 30))


def render_documents(world: World, seed: int) -> list[Document]:
    """All articles and distractors of ``world``, shuffled, with ids ``d00000``, ``d00001``, ..."""
    rng = random.Random(seed)
    renderer = _Renderer(world, rng)
    drafts: list[tuple[str, str, str | None]] = []
    for e in world.entities.values():
        facts, more = getattr(renderer, e.type)(e)
        lead = [" ".join(facts)] if len(facts) < 4 else [" ".join(facts[:2]), " ".join(facts[2:])]
        drafts.append((e.name, "\n\n".join(lead + more), e.id))
    drafts += [(title, text, None) for title, text in _disambiguation(world)]
    order = list(range(len(drafts)))
    rng.shuffle(order)
    return [Document(id=f"d{i:05d}", title=drafts[j][0], text=drafts[j][1], entity=drafts[j][2]) for i, j in enumerate(order)]


def _disambiguation(world: World) -> list[tuple[str, str]]:
    by_token: dict[str, list[Entity]] = defaultdict(list)
    for e in world.entities.values():
        for token in dict.fromkeys(e.tokens):
            by_token[token].append(e)
    pages = []
    for token, items in sorted(by_token.items()):
        if len(items) >= 2:
            lines = [f"- {e.name}, {'an' if describe(world, e)[0] in 'AEIOUaeiou' else 'a'} {describe(world, e)}" for e in items]
            pages.append((f"{token} (disambiguation)", f"{token} may refer to:\n" + "\n".join(lines)))
    return pages
