"""Scripted players for ``turngym/Search-v0``: the oracle and two baselines.

* :func:`plan` (the oracle; privileged, it reads the reset info): for each supporting document in
  reading order, search for its title and open it; then answer with the gold answer.
* :class:`AnswerOnly` (``answer-only``): never searches.  It has learned the ``train`` split by
  heart (question -> answer) and, for a question it has not seen, answers with the most common
  training answer of questions worded alike (same words once the names are taken out).  High on
  ``train``, near 0 on ``test``, whose world shares no names with the training world.
* :class:`SearchOnly` (``search-only``): one search with the question's words, then answers with
  the title of the best result that the question does not already name: what lexical retrieval
  alone achieves, without reading.

The baselines are not privileged: they see only the conversation and the tool specs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from envs.tasks import TaskSet
from tools import call

_RESULT = re.compile(r"^\d+\. \[(?P<id>[^\]]+)\] (?P<title>.*?): ", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][\w'&-]*|\d[\d,.]*")


def plan(turn: int, info: dict[str, Any]) -> str:
    """search(title) and open(doc) for every supporting document, then answer."""
    steps = []
    for doc_id, title in zip(info["supporting_docs"], info["supporting_titles"]):
        steps += [call("search", query=title, k=5), call("open", doc_id=doc_id)]
    steps.append(call("answer", text=info["answer"]))
    return steps[min(turn, len(steps) - 1)]


def question_of(messages: list[dict[str, Any]]) -> str:
    """The question, from the env's first user message (``Question: ...``)."""
    for message in messages:
        if message.get("role") == "user" and str(message.get("content", "")).startswith("Question: "):
            return message["content"].removeprefix("Question: ").strip()
    return ""


def wording(question: str) -> str:
    """The question's form without its names and numbers: 'how many operas did compose'."""
    words = _WORD.findall(question)
    kept = [w.lower() for i, w in enumerate(words) if (i == 0 and w[0].isalpha()) or w[0].islower()]
    return " ".join(kept)


class AnswerOnly:
    """Answers at once from memory of the train split; never searches."""

    name = "answer-only"

    def __init__(self, tasks: TaskSet | None = None):
        self._tasks = tasks
        self._memory: dict[str, str] | None = None
        self._by_wording: dict[str, str] = {}
        self._by_opening: dict[str, str] = {}

    def _learn(self) -> None:
        if self._tasks is None:
            from envs.search.data import load_search_tasks

            self._tasks = load_search_tasks()
        memory: dict[str, str] = {}
        by_wording: defaultdict[str, Counter[str]] = defaultdict(Counter)
        by_opening: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for task in self._tasks.iter("train"):
            memory[task.prompt] = task.answer
            by_wording[wording(task.prompt)][task.answer] += 1
            by_opening[_opening(task.prompt)][task.answer] += 1
        self._by_wording = {k: c.most_common(1)[0][0] for k, c in by_wording.items()}
        self._by_opening = {k: c.most_common(1)[0][0] for k, c in by_opening.items()}
        self._memory = memory

    def guess(self, question: str) -> str:
        if self._memory is None:
            self._learn()
        return (self._memory.get(question) or self._by_wording.get(wording(question))
                or self._by_opening.get(_opening(question)) or "unknown")

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        return call("answer", text=self.guess(question_of(messages)))


class SearchOnly:
    """Searches the question once and answers with the top result's title."""

    name = "search-only"

    def __init__(self, k: int = 5):
        self.k = k

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        question = question_of(messages)
        results = [m for m in messages if m.get("role") == "tool" and m.get("name") == "search"]
        if not results:
            return call("search", query=question, k=self.k)
        titles = [m.group("title") for m in _RESULT.finditer(str(results[-1].get("content", "")))]
        fresh = [t for t in titles if t.split(" (")[0].lower() not in question.lower()]
        return call("answer", text=(fresh or titles or ["unknown"])[0])


def _opening(question: str) -> str:
    return " ".join(question.lower().split()[:3])
