"""``turngym/Search-v0``: answer multi-hop questions about a fictional world by searching it.

Tools: ``search(query, k)`` (BM25 by default; ``retrieval="dense"`` or ``"hybrid"`` with the
MiniLM encoder), ``open(doc_id, page)`` (articles are cut into pages of about ``page_chars``
characters at paragraph or sentence ends) and ``answer(text)``, which ends the episode.

Reward (:mod:`envs.search.reward`): exact match after SQuAD normalization, best over the gold
answer's aliases; with ``reward="f1"`` the token F1 instead.  Both are in
``info["reward_parts"]``.

``info`` adds, on reset and every step: ``docs_found`` (supporting documents that have appeared
in a search result or been opened, sorted), ``docs_opened`` (every document opened),
``progress`` (the share of supporting documents found) and, on reset, what the task records:
``question_kind``, ``question_template``, ``hops``, ``aliases``, ``supporting_docs`` and ``supporting_titles``.
``state_key`` is the task id with the supporting documents found and opened: two episodes of one
task that have uncovered the same evidence are in the same anchor state.
"""

from __future__ import annotations

import json
import re
from typing import Any

from envs.core import ToolEnv
from envs.search import reward as R
from envs.search.index import MODES, minilm
from envs.tasks import Split, Task, TaskSet
from tools import ToolError, tool
from tools.text import sendable

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class SearchEnv(ToolEnv):
    family = "search"
    default_max_turns = 16
    system_intro = (
        "You answer questions about a fictional world using its encyclopedia, which you have never "
        "seen: do not rely on memory. Find articles with search(query, k), read them with "
        "open(doc_id, page), and finish with answer(text): a short answer (a name, a year, a number), "
        "not a sentence."
    )

    def __init__(
        self,
        split: Split = "train",
        tasks: TaskSet | None = None,
        max_turns: int | None = None,
        render_mode: str | None = None,
        retrieval: str = "bm25",
        page_chars: int = 800,
        snippet_chars: int = 160,
        max_k: int = 20,
        reward: str = "em",
        max_observation_chars: int | None = None,
    ):
        if tasks is None:
            from envs.search.data import load_search_tasks

            tasks = load_search_tasks()
        if not hasattr(tasks, "world"):
            raise TypeError("SearchEnv needs a task set with a world(name) method")
        if retrieval not in MODES:
            raise ValueError(f"retrieval must be one of {MODES}, got {retrieval!r}")
        if retrieval != "bm25":
            minilm()  # fail now, with the install hint, rather than on the first search
        if reward not in ("em", "f1"):
            raise ValueError(f"reward must be 'em' or 'f1', got {reward!r}")
        if page_chars < 100 or snippet_chars < 20 or max_k < 1:
            raise ValueError("page_chars must be >= 100, snippet_chars >= 20 and max_k >= 1")
        super().__init__(
            tasks, split=split, max_turns=max_turns, render_mode=render_mode, max_observation_chars=max_observation_chars
        )
        self.retrieval, self.page_chars, self.snippet_chars = retrieval, page_chars, snippet_chars
        self.max_k, self.reward = max_k, reward

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        self.index = self.tasks.world(task.data["world"])
        self._support: list[str] = list(task.data["support"])
        self._found: set[str] = set()
        self._opened: set[str] = set()

    def task_prompt(self, task: Task) -> str:
        return f"Question: {task.prompt}"

    def state_key(self) -> str:
        task_id = self.task.id if self.task else None
        opened = sorted(set(getattr(self, "_support", ())) & getattr(self, "_opened", set()))
        return json.dumps([task_id, sorted(getattr(self, "_found", ())), opened])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        data = self.task.data
        info.update(self._progress(), question_kind=data["kind"], question_template=data["template"], hops=data["hops"], aliases=list(data["aliases"]),
                    supporting_docs=list(data["support"]), supporting_titles=list(data["support_titles"]))
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        info.update(self._progress())
        return obs, reward, terminated, truncated, info

    def _progress(self) -> dict[str, Any]:
        return {"docs_found": sorted(self._found), "docs_opened": sorted(self._opened),
                "progress": len(self._found) / len(self._support) if self._support else 1.0}

    # ----- tools --------------------------------------------------------------------------
    @tool
    def search(self, query: str, k: int = 5) -> str:
        """Search the encyclopedia; returns the best-matching articles with a short snippet each.

        Args:
            query: Words to look for (names, titles, places, keywords).
            k: How many results to return (1-20).
        """
        if not 1 <= k <= self.max_k:
            raise ToolError(f"k must be between 1 and {self.max_k}, got {k}")
        if not query.strip():
            raise ToolError("the query is empty; search for a name, a title or keywords")
        sendable(query, "the query", nul=True)  # the dense encoder cannot take a lone surrogate: every mode refuses it
        hits = self.index.search(query, k, self.retrieval)
        if not hits:
            return f"No articles match {query!r}. Try other words, such as a name from the question."
        self._found.update(d.id for d, _ in hits if d.id in self._support)
        lines = [f"{i}. [{d.id}] {d.title}: {self._snippet(d.text)}" for i, (d, _) in enumerate(hits, 1)]
        return "\n".join(lines)

    @tool
    def open(self, doc_id: str, page: int = 1) -> str:
        """Read an article, one page at a time.

        Args:
            doc_id: The article id shown in search results, like d01234.
            page: Which page to read; long articles have several.
        """
        doc = self.index.get(doc_id.strip())
        if doc is None:
            raise ToolError(f"no article with id {doc_id!r}; use an id from search results, like d01234")
        pages = paginate(doc.text, self.page_chars)
        if not 1 <= page <= len(pages):
            raise ToolError(f"{doc.id} has {len(pages)} page(s); page must be between 1 and {len(pages)}")
        self._opened.add(doc.id)
        if doc.id in self._support:
            self._found.add(doc.id)
        more = f"\n\n(page {page} of {len(pages)}; call open with page={page + 1} to read on)" if page < len(pages) else ""
        return f"{doc.title} [{doc.id}] page {page} of {len(pages)}\n\n{pages[page - 1]}{more}"

    @tool(ends_episode=True)
    def answer(self, text: str) -> str:
        """Give your final answer; this ends the episode.

        Args:
            text: A short answer: a name, a year, a number or a few words.
        """
        parts = R.score(text, self.task.data["aliases"])
        self.finish(parts[self.reward], reward_parts=parts, predicted_answer=text)
        return "Answer recorded."

    def _snippet(self, text: str) -> str:
        flat = " ".join(text.split())
        if len(flat) <= self.snippet_chars:
            return flat
        return flat[: self.snippet_chars].rsplit(" ", 1)[0] + " ..."


def paginate(text: str, page_chars: int) -> list[str]:
    """Cut ``text`` into pages of at most ``page_chars`` characters, at paragraph ends when
    possible, else at sentence ends, else (one overlong sentence) anywhere."""
    pieces: list[tuple[str, str]] = []  # (text, separator from the piece before it)
    for para in text.split("\n\n"):
        sep = "\n\n"
        for sentence in [para] if len(para) <= page_chars else _SENTENCE_END.split(para):
            for i in range(0, max(len(sentence), 1), page_chars):
                pieces.append((sentence[i : i + page_chars], sep if i == 0 else ""))
            sep = " "
    pages, current = [], ""
    for piece, sep in pieces:
        joined = f"{current}{sep}{piece}" if current else piece
        if len(joined) <= page_chars:
            current = joined
        else:
            pages.append(current)
            current = piece
    pages.append(current)
    return [p for p in pages if p] or [""]
