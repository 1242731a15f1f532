"""Two small multi-hop envs that no model here was built around, for measuring ``tiny-base``.

Both are third-party style: registered as plugins from this file, with their own tools, wording
and result formats, and test entities never seen in train (disjoint name, city and id pools).

* ``Directory-v0`` (the issue's example): "What is the door code of Leocadia Jablonski?" ->
  ``directory(name)`` lists the person and three similar names with their offices ->
  ``office_code(office)`` -> ``submit(code)``.  5 turns.
* ``Shipment-v0``: "Which city is order 48213 going to?" -> ``order_status(order_id)`` answers JSON
  with a customer id -> ``customer_info(customer_id)`` answers a sentence with the city ->
  ``report_city(city)``.  4 turns.

Each has an oracle and a weak teacher (baseline ``hasty``): on a fixed half of the tasks (by a hash
of the task id) it skips the second hop and answers a guess; otherwise it plays like the oracle.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from typing import Any

from envs.core import ToolEnv
from envs.registry import register
from envs.tasks import ListTaskSet, Task
from tools import ToolError, call, tool

FIRST = ["Leocadia", "Amara", "Bertil", "Oksana", "Tobias", "Ingrid", "Matteo", "Yusuf", "Helga", "Rafael", "Sunniva",
         "Dmitri", "Ottilie", "Casimir", "Florentyna", "Anselm", "Brigida", "Evander", "Jolanta", "Kasimir", "Liesel",
         "Marek", "Noemi", "Priya", "Quentin", "Rosalind", "Severin", "Tamsin", "Ulrike", "Viggo", "Wanda", "Xaver",
         "Zofia", "Alarik", "Beatrix", "Cosimo", "Dagny", "Emeric", "Fenna", "Gustav"]
LAST = ["Jablonski", "Eklund", "Moravec", "Lindqvist", "Okafor", "Brandt", "Castellano", "Haugen", "Ivanova", "Kowalczyk",
        "Lunde", "Marchetti", "Nakamura", "Oyelaran", "Petrescu", "Quiroga", "Rasmussen", "Szabo", "Tanaka", "Ulrich",
        "Vasquez", "Wieczorek", "Yilmaz", "Zimmermann", "Albrecht", "Bergstrom", "Carvalho", "Dvorak", "Engstrom",
        "Fischer", "Gallardo", "Holmberg", "Iversen", "Jankowski", "Kristiansen", "Lorenz", "Magnusson", "Novak",
        "Ostrowski", "Pereira"]
CITIES = ["Lyon", "Bergen", "Porto", "Gdansk", "Tampere", "Graz", "Leipzig", "Aarhus", "Bilbao", "Utrecht", "Brno",
          "Turku", "Malmo", "Ghent", "Cork", "Split", "Kaunas", "Tartu", "Basel", "Verona", "Zwolle", "Lille", "Nantes",
          "Szeged", "Olomouc", "Uppsala", "Trondheim", "Coimbra", "Toruń", "Linz"]
TASKS_PER_SPLIT = {"train": 400, "val": 100, "test": 100}


def _pools(items: list[str], split: str) -> list[str]:
    """Train and val draw from the first 3/4 of a pool, test from the last 1/4: test entities are unseen."""
    cut = len(items) * 3 // 4
    return items[cut:] if split == "test" else items[:cut]


def _hasty(task_id: str) -> bool:
    return hashlib.sha256(f"hasty:{task_id}".encode()).digest()[0] < 128


# ----- Directory-v0 --------------------------------------------------------------------------
@functools.cache
def directory_tasks() -> ListTaskSet:
    tasks = []
    for split, n in TASKS_PER_SPLIT.items():
        rng = random.Random(f"directory:{split}")
        first, last = _pools(FIRST, split), _pools(LAST, split)
        for i in range(n):
            given, family = rng.choice(first), rng.choice(last)
            others = [f"{given} {x}" for x in rng.sample([x for x in last if x != family], 2)]
            others.append(f"{rng.choice([x for x in first if x != given])} {family}")
            people = [f"{given} {family}", *others]
            offices = [f"{rng.randint(1, 9)}{rng.choice('ABCDEFGH')}-{rng.randint(1, 40):02d}" for _ in people]
            code = str(rng.randint(1000, 9999))
            tasks.append(Task(id=f"dir-{split}-{i}", split=split, prompt=f"What is the door code of {people[0]}?",
                              answer=code, data={"people": people, "offices": offices, "code": code,
                                                 "decoy_codes": [str(rng.randint(1000, 9999)) for _ in others]}))
    return ListTaskSet(tasks)


class DirectoryEnv(ToolEnv):
    family = "directory"
    default_max_turns = 5

    def __init__(self, split="train", tasks=None, max_turns=None, **kw):
        super().__init__(tasks or directory_tasks(), split=split, max_turns=max_turns, **kw)

    def system_prompt(self) -> str:
        return ("Find the person's office with directory(name), then the office's code with office_code(office), "
                "then submit(code).")

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        data = self.task.data
        info["plan"] = [call("directory", name=data["people"][0]), call("office_code", office=data["offices"][0]),
                        call("submit", code=data["code"])]
        return obs, info

    @tool
    def directory(self, name: str) -> str:
        """Offices of the people whose name shares a part with name."""
        data = self.task.data
        parts = set(name.strip().split())
        rows = [f"{p}: office {o}" for p, o in zip(data["people"], data["offices"]) if parts & set(p.split())]
        if not rows:
            raise ToolError(f"Error: nobody matches {name!r}.")
        random.Random(self.task.id).shuffle(rows)
        return "\n".join(rows)

    @tool
    def office_code(self, office: str) -> str:
        """The door code of an office."""
        data = self.task.data
        codes = dict(zip(data["offices"], [data["code"], *data["decoy_codes"]]))
        if office.strip() not in codes:
            raise ToolError(f"Error: no office {office!r}.")
        return f"Door code for {office.strip()}: {codes[office.strip()]}"

    @tool(ends_episode=True)
    def submit(self, code: str) -> str:
        """Submit the door code; ends the episode."""
        correct = str(code).strip() == self.task.answer
        self.finish(1.0 if correct else 0.0)
        return "correct" if correct else "wrong"


def plan(turn: int, info: dict[str, Any]) -> str:
    """Both envs' oracle: the calls their reset info lists."""
    return info["plan"][min(turn, len(info["plan"]) - 1)]


class Hasty:
    """The weak teacher: skips the second hop on a fixed half of the tasks (answers a guess), else plays like
    the oracle from what the tools said.  An env's teacher says how to read its request and results."""

    name = "hasty"

    def asked(self, prompt: str) -> str: ...
    def first(self, asked: str) -> str: ...
    def guess(self, asked: str, digest: int) -> str: ...
    def second(self, asked: str, result: str) -> str: ...
    def answer(self, result: str) -> str: ...

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        asked = self.asked(next(m["content"] for m in messages if m["role"] == "user"))
        results = [str(m["content"]) for m in messages if m["role"] == "tool"]
        if not results:
            return self.first(asked)
        if len(results) == 1:
            if _hasty(asked):
                return self.guess(asked, int(hashlib.sha256(asked.encode()).hexdigest(), 16))
            return self.second(asked, results[0])
        return self.answer(results[-1])


class DirectoryHasty(Hasty):
    """Skips office_code on a fixed half of the tasks (submits a made-up code)."""

    def asked(self, prompt: str) -> str:
        return re.search(r"door code of (.+)\?$", prompt).group(1)

    def first(self, asked: str) -> str:
        return call("directory", name=asked)

    def guess(self, asked: str, digest: int) -> str:
        return call("submit", code=str(1000 + digest % 9000))

    def second(self, asked: str, result: str) -> str:
        office = re.search(rf"^{re.escape(asked)}: office (\S+)$", result, re.M)
        return call("office_code", office=office.group(1) if office else "")

    def answer(self, result: str) -> str:
        return call("submit", code=result.rsplit(": ", 1)[-1])


# ----- Shipment-v0 ---------------------------------------------------------------------------
@functools.cache
def shipment_tasks() -> ListTaskSet:
    tasks = []
    for split, n in TASKS_PER_SPLIT.items():
        rng = random.Random(f"shipment:{split}")
        cities = _pools(CITIES, split)
        for i in range(n):
            order = str(rng.randint(10_000, 99_999) if split != "test" else rng.randint(100_000, 999_999))
            customer = f"C-{rng.randint(1000, 9999)}"
            city = rng.choice(cities)
            tasks.append(Task(id=f"ship-{split}-{i}", split=split, prompt=f"Which city is order {order} going to?",
                              answer=city, data={"order": order, "customer": customer, "city": city,
                                                 "status": rng.choice(["packed", "shipped", "in transit"])}))
    return ListTaskSet(tasks)


class ShipmentEnv(ToolEnv):
    family = "shipment"
    default_max_turns = 4
    system_intro = "You are a support agent for a parcel service."

    def __init__(self, split="train", tasks=None, max_turns=None, **kw):
        super().__init__(tasks or shipment_tasks(), split=split, max_turns=max_turns, **kw)

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        data = self.task.data
        info["plan"] = [call("order_status", order_id=data["order"]), call("customer_info", customer_id=data["customer"]),
                        call("report_city", city=data["city"])]
        return obs, info

    @tool
    def order_status(self, order_id: str) -> str:
        """The order's record, as JSON."""
        data = self.task.data
        if order_id.strip().lstrip("#") != data["order"]:
            raise ToolError(f"Error: unknown order {order_id!r}.")
        return json.dumps({"order_id": data["order"], "status": data["status"], "customer_id": data["customer"]})

    @tool
    def customer_info(self, customer_id: str) -> str:
        """Where a customer lives."""
        data = self.task.data
        if customer_id.strip() != data["customer"]:
            raise ToolError(f"Error: unknown customer {customer_id!r}.")
        return f"Customer {data['customer']} lives in {data['city']}."

    @tool(ends_episode=True)
    def report_city(self, city: str) -> str:
        """Report the destination city; ends the episode."""
        correct = str(city).strip().lower() == self.task.answer.lower()
        self.finish(1.0 if correct else 0.0)
        return "correct" if correct else "wrong"


class ShipmentHasty(Hasty):
    """Skips customer_info on a fixed half of the tasks (reports a city from the train pool)."""

    def asked(self, prompt: str) -> str:
        return re.search(r"order (\S+) going", prompt).group(1)

    def first(self, asked: str) -> str:
        return call("order_status", order_id=asked)

    def guess(self, asked: str, digest: int) -> str:
        train = _pools(CITIES, "train")
        return call("report_city", city=train[digest % len(train)])

    def second(self, asked: str, result: str) -> str:
        found = re.search(r'"customer_id": "([^"]+)"', result)
        return call("customer_info", customer_id=found.group(1) if found else "")

    def answer(self, result: str) -> str:
        found = re.search(r"lives in (.+)\.$", result)
        return call("report_city", city=found.group(1) if found else "")


register("Directory-v0", DirectoryEnv, tasks=directory_tasks, oracle=plan, baselines={"hasty": DirectoryHasty},
         probe_template=call("submit", code="{answer}"), override=True,
         description="test env: person -> office -> door code, similar-name distractors (tiny-base's measure)")
register("Shipment-v0", ShipmentEnv, tasks=shipment_tasks, oracle=plan, baselines={"hasty": ShipmentHasty},
         probe_template=call("report_city", city="{answer}"), override=True,
         description="test env: order -> customer -> city, JSON results (tiny-base's measure)")
