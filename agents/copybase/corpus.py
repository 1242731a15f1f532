"""Procedural tool-use transcripts that teach a small model to copy, for the ``tiny-base`` model.

Each transcript is one episode in the project's format (the messages a :class:`envs.core.ToolEnv`
emits; assistant turns written with :func:`tools.call`): a system prompt that lists the tools, a
user request naming an entity, a chain of 1-4 tool calls where each call's argument is copied from
the request or from the previous tool result, and a final answer call with a value copied from the
last result.  What varies, so that what is learned is *copying* and not any one env:

* entities: person names, pseudo-words, numbers, ids and codes of several shapes, short phrases,
  all built from syllables and digits drawn by the seed (:class:`Entities`); any word in
  ``exclude`` (the test splits' words, see :func:`agents.copybase.build.held_out_words`) is
  never drawn;
* tools: names, parameter names, descriptions and the answer tool are drawn per transcript; a
  hop may take a second argument copied from the request;
* wording: three system-prompt styles (the ``ToolEnv`` default with JSON specs, a bullet list, a
  one-line hint), request templates, tool-result formats (bare value, ``field: value``, JSON,
  sentences, tables and record lists where the right row sits among similar-looking distractors);
* detours: a transient error answered by repeating the call, a misspelt request answered by
  the tool's suggestion, a redirect to another entity, a missing record answered ``none``.

``split="train"`` and ``split="held_out"`` use disjoint result formats and request templates (the
held-out ones are never trained on), and draw entities from disjoint seeds: the held-out split
measures copying into formats and values the model has not seen.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from typing import Any, Callable

from tools import call

Message = dict[str, Any]

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "pr", "st", "tr",
           "sh", "ch", "th", "gr", "fl", "sk", "h", "j", "w", "y"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ei", "ou", "ia", "eo"]
_CODAS = ["", "", "", "n", "r", "l", "s", "k", "m", "x", "nd", "st"]

VERBS = ["get", "find", "lookup", "fetch", "read", "query", "resolve", "search", "check", "open", "list", "locate"]
NOUNS = ["person", "office", "room", "code", "record", "account", "user", "order", "ticket", "file", "badge", "city",
         "owner", "team", "address", "phone", "project", "item", "vendor", "key", "entry", "booking", "course", "unit"]
PARAMS = ["name", "id", "key", "query", "number", "ref", "value", "code", "label", "target", "handle", "term"]
ANSWER_TOOLS = [("answer", "value"), ("submit", "answer"), ("finish", "result"), ("final_answer", "answer"),
                ("report", "text"), ("respond", "value"), ("done", "answer")]
SYSTEM_INTROS = ["You are an agent that solves tasks by calling tools.", "You are a helpful assistant with tools.",
                 "Answer the request by calling the tools below.", "You work through tools, one call per reply."]


class Entities:
    """Values to copy, drawn from syllables and digits; none is a word in ``exclude``."""

    def __init__(self, rng: random.Random, exclude: frozenset[str] = frozenset()):
        self.rng, self.exclude = rng, exclude

    def word(self, syllables: tuple[int, int] = (2, 3)) -> str:
        while True:
            n = self.rng.randint(*syllables)
            w = "".join(self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(n)) + self.rng.choice(_CODAS)
            if w not in self.exclude and 3 <= len(w) <= 12:
                return w

    def name(self) -> str:
        return f"{self.word().capitalize()} {self.word().capitalize()}"

    def number(self) -> str:
        return str(self.rng.randint(10, 999_999))

    def ident(self) -> str:
        r, up, lo, dg = self.rng, string.ascii_uppercase, string.ascii_lowercase, string.digits
        shapes = [
            lambda: f"{r.choice(up)}{r.choice(up)}-{r.randint(100, 9999)}",
            lambda: "".join(r.choice(lo + dg) for _ in range(r.randint(5, 8))),
            lambda: f"{r.randint(1, 9)}{r.choice(up)}-{r.randint(1, 99):02d}",
            lambda: f"#{r.randint(1000, 99999)}",
            lambda: f"{self.word((1, 2))}_{r.randint(1, 999)}",
            lambda: "".join(r.choice(up + dg) for _ in range(r.randint(4, 6))),
        ]
        return r.choice(shapes)()

    def phrase(self) -> str:
        return f"{self.word((1, 2))} {self.word((1, 2))}"

    def of_kind(self, kind: str) -> str:
        return {"name": self.name, "word": self.word, "number": self.number, "id": self.ident, "phrase": self.phrase}[kind]()

    def similar(self, value: str) -> str:
        """A distractor one edit away (a changed letter or digit), never equal to ``value``."""
        chars = list(value)
        spots = [i for i, c in enumerate(chars) if c.isalnum()]
        while True:
            i = self.rng.choice(spots)
            pool = string.digits if chars[i].isdigit() else string.ascii_lowercase
            new = self.rng.choice(pool)
            new = new.upper() if chars[i].isupper() else new
            if new != chars[i]:
                out = chars.copy()
                out[i] = new
                return "".join(out)


KINDS = ["name", "word", "number", "id", "phrase"]


@dataclass
class Hop:
    tool: str
    param: str
    field: str  # what the tool's result holds, in words ("office", "code")
    description: str
    fmt: Callable[["Hop", str, str, Entities, random.Random], str]
    extra: tuple[str, str] | None = None  # a second argument: (param, value copied from the request)


# ----- tool-result formats: (hop, query, value, entities, rng) -> text ------------------------
def _rows(query: str, value: str, ents: Entities, rng: random.Random, n: int) -> list[tuple[str, str]]:
    rows = [(query, value)] + [(ents.similar(query), ents.similar(value)) for _ in range(n)]
    rng.shuffle(rows)
    return rows


TRAIN_FORMATS: list[Callable] = [
    lambda h, q, v, e, r: v,
    lambda h, q, v, e, r: f"{h.field}: {v}",
    lambda h, q, v, e, r: json.dumps({h.param: q, h.field: v}),
    lambda h, q, v, e, r: f"The {h.field} of {q} is {v}.",
    lambda h, q, v, e, r: "\n".join(f"{a} | {b}" for a, b in _rows(q, v, e, r, r.randint(1, 3))),
    lambda h, q, v, e, r: json.dumps([{h.param: a, h.field: b} for a, b in _rows(q, v, e, r, r.randint(1, 3))]),
    lambda h, q, v, e, r: f"Found 1 match.\n{h.field.capitalize()} = {v}",
]
HELD_OUT_FORMATS: list[Callable] = [
    lambda h, q, v, e, r: f"{h.param}={q}; {h.field}={v}",
    lambda h, q, v, e, r: "\n".join(f"- {a}: {b}" for a, b in _rows(q, v, e, r, r.randint(1, 3))),
    lambda h, q, v, e, r: f"Result for {q!r} -> {h.field} {v}",
]

TRAIN_REQUESTS = [
    "What is the {field} of {q}?",
    "Find the {field} for {q}.",
    'I need the {field} of "{q}".',
    "{q}: what is their {field}?",
    "Look up {q} and tell me the {field}.",
    "Please give the {field} that belongs to {q}.",
]
HELD_OUT_REQUESTS = ["Which {field} goes with {q}?", "Tell me, for {q}, the {field}.", "{field} of {q} ?"]


def _system(rng: random.Random, hops: list[Hop], answer: tuple[str, str], max_turns: int, easy: bool = False) -> str:
    tools: dict[str, dict[str, Any]] = {}
    for h in hops:
        params = {h.param: {"type": "string"}}
        if h.extra:
            params[h.extra[0]] = {"type": "string"}
        tools.setdefault(h.tool, {"description": h.description, "parameters": params})
    tools[answer[0]] = {"description": "Give the final answer and end the episode.",
                        "parameters": {answer[1]: {"type": "string"}}}
    style = 0.3 + 0.7 * rng.random() if easy else rng.random()
    if style < 0.3:  # the ToolEnv default: JSON specs, the calling convention, the turn budget
        specs = [{"type": "function", "function": {"name": n, "description": t["description"], "parameters": {
            "type": "object", "properties": t["parameters"], "required": list(t["parameters"])}}} for n, t in tools.items()]
        return (f"{rng.choice(SYSTEM_INTROS)}\n\nYou have these tools:\n{json.dumps(specs, indent=1)}\n\n"
                'Call one tool per reply, as <tool_call>{"name": ..., "arguments": {...}}</tool_call>. '
                f"You have at most {max_turns} replies.")
    if style < 0.65:
        lines = [f"- {n}({', '.join(t['parameters'])}): {t['description']}" for n, t in tools.items()]
        return f"{rng.choice(SYSTEM_INTROS)} Tools:\n" + "\n".join(lines)
    first = ", ".join(f"{n}({', '.join(t['parameters'])})" for n, t in tools.items() if n != answer[0])
    return f"Use {first} to find it, then {answer[0]}({answer[1]})."


def transcript(rng: random.Random, exclude: frozenset[str] = frozenset(), held_out: bool = False,
               easy: bool = False) -> list[Message]:
    """One episode's messages (system, user, then assistant/tool pairs); see the module docstring.

    ``easy``: 1-2 hops, a short system prompt, no detours: short episodes dense in copying, the
    first stage of pretraining (copying is learned on them first, then carried to the rest)."""
    ents = Entities(rng, exclude)
    formats, requests = (HELD_OUT_FORMATS, HELD_OUT_REQUESTS) if held_out else (TRAIN_FORMATS, TRAIN_REQUESTS)
    n_hops = rng.choices([1, 2, 3, 4], weights=[1, 1, 0, 0] if easy else [3, 4, 3, 2])[0]
    kinds = [rng.choice(KINDS) for _ in range(n_hops + 1)]
    values = [ents.of_kind(k) for k in kinds]
    nouns = rng.sample(NOUNS, n_hops + 1)
    same_tool = n_hops > 1 and rng.random() < 0.15 and not easy  # a redirect chain through one tool, as Lookup-v0 has
    hops: list[Hop] = []
    for i in range(n_hops):
        noun = nouns[0] if same_tool else nouns[i + 1]
        field = nouns[-1] if same_tool else noun
        tool = f"{rng.choice(VERBS)}_{noun}" if rng.random() < 0.8 else noun
        if same_tool and hops:
            hops.append(hops[0])
            continue
        param = rng.choice(PARAMS)
        source = "the requested entity" if i == 0 else f"a {hops[-1].field}"
        hops.append(Hop(tool=tool, param=param, field=field, fmt=rng.choice(formats),
                        description=f"The {field} of {source}, given as {param}."))
    if rng.random() < 0.2 and not easy:  # a second argument, copied from the request
        extra_param = rng.choice([p for p in PARAMS if p != hops[0].param])
        hops[0] = Hop(**{**hops[0].__dict__, "extra": (extra_param, ents.of_kind(rng.choice(["number", "word"])))})
    answer = rng.choice(ANSWER_TOOLS)
    max_turns = n_hops + 4
    asked = values[0]
    missing = rng.random() < 0.05 and not easy
    misspelt = not missing and rng.random() < 0.1 and not easy
    if misspelt:
        asked = ents.similar(values[0])
    request = rng.choice(requests).format(field=hops[-1].field if not same_tool else nouns[-1], q=asked)
    if hops[0].extra:
        request += f" Use {hops[0].extra[0]} {hops[0].extra[1]}."
    if rng.random() < 0.25 and not easy:
        request += f" Not {ents.similar(values[0])}, and not {ents.similar(values[0])}."
    messages: list[Message] = [{"role": "system", "content": _system(rng, hops, answer, max_turns, easy)},
                               {"role": "user", "content": request}]

    def turn(tool: str, args: dict[str, str], result: str) -> None:
        messages.append({"role": "assistant", "content": call(tool, **args)})
        messages.append({"role": "tool", "name": tool, "content": result})

    for i, hop in enumerate(hops):
        query = values[i]
        args = {hop.param: asked if i == 0 else query}
        if hop.extra:
            args[hop.extra[0]] = hop.extra[1]
        if i == 0 and misspelt:
            turn(hop.tool, args, f"Error: no record for {asked!r}. Did you mean {values[0]!r}?")
            args = {**args, hop.param: values[0]}
        if i == 0 and missing:
            turn(hop.tool, args, rng.choice(["none", "not found", "Error: no such record."]))
            messages.append({"role": "assistant", "content": call(answer[0], **{answer[1]: "none"})})
            return messages
        if rng.random() < 0.08 and not easy:
            turn(hop.tool, args, "Error: the service is busy; call the tool again.")
        turn(hop.tool, args, hop.fmt(hop, query, values[i + 1], ents, rng))
    messages.append({"role": "assistant", "content": call(answer[0], **{answer[1]: values[-1]})})
    return messages


ECHO_TOOLS = [("echo", "text"), ("repeat", "text"), ("copy", "value"), ("say", "words"), ("write", "content")]


def drill(rng: random.Random, exclude: frozenset[str] = frozenset()) -> list[Message]:
    """A copy drill: repeat a list of 2-8 values from the request in one call.  Dense in copying
    (most of the call is the copied list), it grows the attention that copies before anything else."""
    ents = Entities(rng, exclude)
    values = ", ".join(ents.of_kind(rng.choice(KINDS)) for _ in range(rng.randint(2, 8)))
    tool, param = rng.choice(ECHO_TOOLS)
    request = rng.choice(["Repeat exactly: {v}", "{v}", "Copy this: {v}", "Say back: {v}"]).format(v=values)
    return [{"role": "system", "content": f"Call {tool}({param}) with the text you are given."},
            {"role": "user", "content": request},
            {"role": "assistant", "content": call(tool, **{param: values})}]


def corpus(seed: int, n: int, exclude: frozenset[str] = frozenset(), held_out: bool = False,
           easy: bool = False) -> list[list[Message]]:
    """``n`` transcripts from ``seed`` (the held-out split and the easy stage mix a tag into the seed: disjoint draws)."""
    rng = random.Random(f"copybase:{'held_out' if held_out else 'train'}{':easy' if easy else ''}:{seed}")
    return [transcript(rng, exclude, held_out, easy) for _ in range(n)]
