"""One world's products and their BM25 search engine (``bm25s``), as WebShop's results page uses it.

A world folder holds ``products.jsonl`` (one product dict per line, see :mod:`envs.webshop.catalog`)
and ``bm25/`` (the saved index).  A product is indexed on its title, description, first bullet and
option values, like the original's Lucene index; tokens are lowercased words and numbers with
bm25s's English stopwords removed and a light plural stemmer.  :meth:`Catalog.search` returns the
top ``k`` (50 on the results pages) with ties broken by catalog order, so a query ranks the same in
every process: the goal builder relies on it to record where each target ranks.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(STOPWORDS_EN)
RESULTS = 50


def _stem(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    return [_stem(t) for t in _WORD.findall(text.lower()) if t not in _STOP]


def index_text(product: dict[str, Any]) -> str:
    bullets = product.get("bullets") or [""]
    values = " ".join(v for vs in product.get("options", {}).values() for v in vs)
    return f"{product['title']}\n{product.get('description', '')}\n{bullets[0]}\n{values}"


def write_world(path: Path, products: list[dict[str, Any]]) -> None:
    """Write ``products.jsonl`` and the BM25 index into ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    with (path / "products.jsonl").open("w", encoding="utf-8") as f:
        for product in products:
            f.write(json.dumps(product, ensure_ascii=False) + "\n")
    retriever = bm25s.BM25()
    retriever.index([tokenize(index_text(p)) for p in products], show_progress=False)
    retriever.save(str(path / "bm25"), show_progress=False)


class Catalog:
    """A world's products (read-only after loading) and its search engine."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with (self.path / "products.jsonl").open("rb") as f:
            self.products = [json.loads(line) for line in f if line.strip()]
        self.by_asin = {p["asin"]: p for p in self.products}
        self.bm25 = bm25s.BM25.load(str(self.path / "bm25"), show_progress=False)

    def __len__(self) -> int:
        return len(self.products)

    def get(self, asin: str) -> dict[str, Any] | None:
        return self.by_asin.get(asin) or self.by_asin.get(asin.upper())

    def search(self, query: str, k: int = RESULTS) -> list[str]:
        """The asins of the ``k`` best matches, best first (ties by catalog order)."""
        vocab = self.bm25.vocab_dict
        ids = [vocab[t] for t in tokenize(query) if t in vocab]
        if not ids:
            return []
        scores = np.asarray(self.bm25.get_scores(ids))
        return [self.products[i]["asin"] for i in top(scores, k)]


def top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the ``k`` best positive scores, best first, ties broken by index."""
    k = min(k, len(scores))
    if k <= 0:
        return []
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    cutoff = scores[candidates].min()
    if cutoff > 0:  # widen to everything tied with the k-th score so the tie-break is exact
        candidates = np.flatnonzero(scores >= cutoff)
    candidates = candidates[scores[candidates] > 0]
    ranked = candidates[np.lexsort((candidates, -scores[candidates]))]  # by score, then by index
    return [int(i) for i in ranked[:k]]


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> Catalog:
    return Catalog(path)


def load_catalog(path: str | Path) -> Catalog:
    """The catalog in ``path``, loaded once per process."""
    return _load(Path(path).resolve())
