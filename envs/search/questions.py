"""Questions over a world, each with a gold answer, aliases, supporting entities and a hop count.

Kinds (``Question.kind``) and what answering takes:

* ``single``: one fact of one entity ("In what year was X founded?"); 1 document.
* ``bridge2`` / ``bridge3``: a chain of relations ("In which country was the founder of X
  born?"); the supporting documents are the chain, in reading order; 2 or 3 documents.
* ``comparison``: the same attribute of two entities ("Which was founded earlier, A or B?");
  the two values always differ; 2 documents.
* ``intersection``: the one entity meeting two conditions ("Which person born in C was a member
  of O?"); the generator checks that exactly one entity qualifies and that one condition alone
  leaves several candidates; 2 documents.
* ``counting``: how many works a person made ("How many films did X direct?"); every work
  counts, so every work's article supports it; 2-5 documents.

``hops`` is the number of supporting documents, so difficulty can be chosen per task.  Every
relation is functional and every name unique (``check_names``), so each answer is unambiguous.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import BaseModel

from envs.search.documents import num, ref
from envs.search.names import NUMBER_WORDS
from envs.search.reward import normalize
from envs.search.world import WORK_KINDS, Entity, World

KIND_WEIGHTS = {"single": 0.25, "bridge2": 0.25, "bridge3": 0.15, "comparison": 0.13, "intersection": 0.12, "counting": 0.10}
ROLE = {"film": "the director of {x}", "novel": "the author of {x}", "album": "the musician who recorded {x}", "opera": "the composer of {x}"}


class Question(BaseModel):
    kind: str
    template: str
    question: str
    answer: str
    aliases: list[str]
    support: list[str]  # entity ids, in reading order
    hops: int


def check_names(world: World) -> None:
    """Entity names must stay distinct after answer normalization, or answers would be ambiguous."""
    seen: dict[str, str] = {}
    for e in world.entities.values():
        key = normalize(e.name)
        if key in seen:
            raise ValueError(f"names {seen[key]!r} and {e.name!r} normalize alike")
        seen[key] = e.name


def generate_questions(world: World, n: int, seed: int) -> list[Question]:
    """``n`` distinct questions, kinds drawn by ``KIND_WEIGHTS``."""
    check_names(world)
    gen = _Generator(world, random.Random(seed))
    kinds, weights = zip(*KIND_WEIGHTS.items())
    out: list[Question] = []
    seen: set[str] = set()
    for _ in range(n * 50):
        if len(out) >= n:
            break
        q = getattr(gen, gen.rng.choices(kinds, weights)[0])()
        if q is not None and q.question not in seen:
            seen.add(q.question)
            out.append(q)
    if len(out) < n:
        raise RuntimeError(f"could only make {len(out)} of {n} questions; the world is too small")
    return out


# ----- answers and their aliases ---------------------------------------------------------------
def as_entity(world: World, e: Entity) -> tuple[str, list[str]]:
    if e.type == "city":
        return e.name, [e.name, f"{e.name}, {world.rel(e, 'located_in').name}"]
    return e.name, [e.name]


def as_number(n: int) -> tuple[str, list[str]]:
    return num(n), list(dict.fromkeys([num(n), str(n)]))


def as_count(n: int) -> tuple[str, list[str]]:
    return str(n), [str(n), NUMBER_WORDS[n]] if n < len(NUMBER_WORDS) else [str(n)]


def as_nationality(world: World, person: Entity) -> tuple[str, list[str]]:
    country = world.rel(person, "nationality")
    return country.attrs["demonym"], [country.attrs["demonym"], country.name]


def as_occupation(occupation: str) -> tuple[str, list[str]]:
    return occupation, [occupation] + (["director"] if occupation == "film director" else [])


def work_phrase(work: Entity) -> str:
    return f"the {work.kind} {work.name}"


# ----- the generator ---------------------------------------------------------------------------
class _Generator:
    def __init__(self, world: World, rng: random.Random):
        self.w, self.rng = world, rng
        self.by_type = {t: world.of_type(t) for t in ("person", "city", "country", "org", "work", "event")}

    def q(self, kind: str, template: str, text: str, answer: tuple[str, list[str]], support: list[Entity]) -> Question:
        ids = list(dict.fromkeys(e.id for e in support))
        return Question(kind=kind, template=template, question=text, answer=answer[0], aliases=answer[1], support=ids, hops=len(ids))

    def pick(self, type_: str, where: Callable[[Entity], bool] = lambda e: True) -> Entity | None:
        for _ in range(50):
            e = self.rng.choice(self.by_type[type_])
            if where(e):
                return e
        return None

    # Facts of one entity, as (template, question text, answer) -- shared by single and bridge.
    def facts(self, e: Entity, subject: str) -> list[tuple[str, str, tuple[str, list[str]]]]:
        w = self.w
        if e.type == "person":
            return [
                ("birth_year", f"In what year was {subject} born?", (str(e.attrs["birth_year"]), [str(e.attrs["birth_year"])])),
                ("born_in", f"In which city was {subject} born?", as_entity(w, w.rel(e, "born_in"))),
                ("occupation", f"What is the occupation of {subject}?", as_occupation(e.attrs["occupation"])),
                ("nationality", f"What is the nationality of {subject}?", as_nationality(w, e)),
            ]
        if e.type == "org":
            staff = "employees" if e.kind in ("company", "bank") else "members"
            return [
                ("founded_year", f"In what year was {subject} founded?", (str(e.attrs["founded_year"]), [str(e.attrs["founded_year"])])),
                ("founder", f"Who founded {subject}?", as_entity(w, w.rel(e, "founder"))),
                ("headquarters", f"In which city is {subject} headquartered?", as_entity(w, w.rel(e, "headquartered_in"))),
                ("members", f"How many {staff} does {subject} have?", as_number(e.attrs["members"])),
            ]
        if e.type == "city":
            return [
                ("country", f"In which country is {subject}?", as_entity(w, w.rel(e, "located_in"))),
                ("population", f"What is the population of {subject}?", as_number(e.attrs["population"])),
                ("founded_year", f"In what year was {subject} founded?", (str(e.attrs["founded_year"]), [str(e.attrs["founded_year"])])),
            ]
        if e.type == "work":
            verb = {"film": "directed", "novel": "wrote", "album": "recorded", "opera": "composed"}[e.kind]
            return [
                ("creator", f"Who {verb} {subject}?", as_entity(w, w.rel(e, "creator"))),
                ("year", f"In what year was {subject} released?", (str(e.attrs["year"]), [str(e.attrs["year"])])),
            ]
        if e.type == "event":
            return [
                ("year", f"In what year was {subject} held?", (str(e.attrs["year"]), [str(e.attrs["year"])])),
                ("held_in", f"In which city was {subject} held?", as_entity(w, w.rel(e, "held_in"))),
                ("organizer", f"Which organization organized {subject}?", as_entity(w, w.rel(e, "organizer"))),
            ]
        return []

    def subject(self, e: Entity) -> str:
        if e.type == "work":
            return work_phrase(e)
        if e.type == "event":
            return "the " + e.name
        return ref(e)

    def single(self) -> Question | None:
        e = self.pick(self.rng.choice(["person", "person", "org", "org", "city", "work", "work", "event"]))
        template, text, answer = self.rng.choice(self.facts(e, self.subject(e)))
        return self.q("single", f"{e.type}.{template}", _cap(text), answer, [e])

    def bridge2(self) -> Question | None:
        w, rng = self.w, self.rng
        start_type = rng.choice(["org", "work", "event", "person", "org"])
        start = self.pick(start_type, lambda e: start_type != "person" or "member_of" in e.rels)
        if start is None:
            return None
        if start.type == "org":
            rel, phrase = rng.choice([("founder", "the founder of {x}"), ("headquartered_in", "the city where {x} is headquartered"),
                                      ("successor_of", "the predecessor of {x}")])
        elif start.type == "work":
            rel, phrase = "creator", ROLE[start.kind]
        elif start.type == "event":
            rel, phrase = rng.choice([("organizer", "the organizer of {x}"), ("held_in", "the city that hosted {x}")])
        else:
            rel, phrase = "member_of", "the organization that {x} belonged to"
        if rel not in start.rels:
            return None
        mid = w.rel(start, rel)
        inner = phrase.format(x=self.subject(start))
        template, text, answer = rng.choice(self.facts(mid, inner))
        if mid.type == "person" and template == "occupation" and start.type == "work":
            return None  # a work's creator's occupation follows from the work's kind
        return self.q("bridge2", f"{start.type}.{rel}.{template}", _cap(text), answer, [start, mid])

    def bridge3(self) -> Question | None:
        w, rng = self.w, self.rng
        start = self.pick(rng.choice(["org", "work", "event", "person"]), lambda e: e.type != "person" or "member_of" in e.rels)
        if start is None:
            return None
        s = self.subject(start)
        if start.type == "org":
            mid, phrase = w.rel(start, "founder"), f"the founder of {s}"
        elif start.type == "work":
            mid, phrase = w.rel(start, "creator"), ROLE[start.kind].format(x=s)
        elif start.type == "event":
            mid, phrase = w.rel(start, "organizer"), f"the organizer of {s}"
        else:
            mid, phrase = w.rel(start, "member_of"), f"the organization that {s} belonged to"
        if mid.type == "person":
            end = w.rel(mid, "born_in")
            template, text, answer = rng.choice([
                ("country", f"In which country was {phrase} born?", as_entity(w, w.rel(end, "located_in"))),
                ("population", f"What is the population of the city where {phrase} was born?", as_number(end.attrs["population"])),
                ("founded_year", f"In what year was the birthplace of {phrase} founded?", (str(end.attrs["founded_year"]), [str(end.attrs["founded_year"])])),
            ])
        else:  # an organization: follow its founder or its headquarters
            if rng.random() < 0.5:
                end = w.rel(mid, "founder")
                template, text, answer = rng.choice(self.facts(end, f"the founder of {phrase}"))
            else:
                end = w.rel(mid, "headquartered_in")
                template, text, answer = rng.choice(self.facts(end, f"the city where {phrase} is headquartered")[:2])
        return self.q("bridge3", f"{start.type}.{mid.type}.{template}", _cap(text), answer, [start, mid, end])

    def comparison(self) -> Question | None:
        rng = self.rng
        type_, attr, text, earlier = rng.choice([
            ("org", "founded_year", "Which was founded earlier, {a} or {b}?", True),
            ("person", "birth_year", "Who was born earlier, {a} or {b}?", True),
            ("city", "population", "Which city has the larger population, {a} or {b}?", False),
            ("work", "year", "Which was released first, {a} or {b}?", True),
        ])
        a = self.pick(type_)
        if type_ == "person":  # prefer namesakes: the family name alone does not tell them apart
            kin = [p for p in self.by_type["person"] if p.name.split()[1] == a.name.split()[1] and p is not a]
            b = rng.choice(kin) if kin else self.pick("person")
        elif type_ in ("org", "work"):
            b = self.pick(type_, lambda e: e.kind == a.kind and e is not a)
        else:
            b = self.pick(type_, lambda e: e is not a)
        if b is None or a.attrs[attr] == b.attrs[attr]:
            return None
        win = min((a, b), key=lambda e: e.attrs[attr]) if earlier else max((a, b), key=lambda e: e.attrs[attr])
        label = (lambda e: e.name) if type_ != "org" else ref
        return self.q("comparison", f"{type_}.{attr}", _cap(text.format(a=label(a), b=label(b))), as_entity(self.w, win), [a, b])

    def intersection(self) -> Question | None:
        w, rng = self.w, self.rng
        city = self.pick("city")
        choice = rng.randrange(3)
        if choice == 0:
            org = self.pick("org", lambda o: len(w.pointing("member_of", o)) >= 2)
            if org is None:
                return None
            born = w.pointing("born_in", city)
            both = [p for p in w.pointing("member_of", org) if p in born]
            if len(both) != 1 or len(born) < 2:
                return None
            text = f"Which person born in {city.name} was a member of {ref(org)}?"
            return self.q("intersection", "person.born_in+member_of", text, as_entity(w, both[0]), [city, org])
        if choice == 1:
            orgs = w.pointing("headquartered_in", city)
            if len(orgs) < 2:
                return None
            year = rng.choice(orgs).attrs["founded_year"]
            both = [o for o in orgs if o.attrs["founded_year"] == year]
            if len(both) != 1:
                return None
            text = f"Which organization headquartered in {city.name} was founded in {year}?"
            return self.q("intersection", "org.headquarters+founded_year", text, as_entity(w, both[0]), [city, both[0]])
        born = w.pointing("born_in", city)
        if len(born) < 2:
            return None
        occupation = rng.choice(born).attrs["occupation"]
        both = [p for p in born if p.attrs["occupation"] == occupation]
        if len(both) != 1:
            return None
        an = "an" if occupation[0] in "aeiou" else "a"
        text = f"Which person born in {city.name} works as {an} {occupation}?"
        return self.q("intersection", "person.born_in+occupation", text, as_entity(w, both[0]), [city, both[0]])

    def counting(self) -> Question | None:
        kind = self.rng.choice(list(WORK_KINDS))
        occupation, verb = WORK_KINDS[kind][:2]
        person = self.pick("person", lambda p: p.attrs["occupation"] == occupation and len(self.w.pointing("creator", p)) >= 2)
        if person is None:
            return None
        works = self.w.pointing("creator", person)
        base = {"directed": "direct", "wrote": "write", "recorded": "record", "composed": "compose"}[verb]
        text = f"How many {kind}s did {person.name} {base}?"
        return self.q("counting", f"work.{kind}.count", text, as_count(len(works)), works)


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]
