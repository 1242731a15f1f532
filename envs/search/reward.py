"""Answer scoring, SQuAD-style: normalize, then exact match and token F1, best over the aliases.

``normalize`` lower-cases, drops punctuation, drops the articles ``a``/``an``/``the`` and
collapses whitespace, exactly as the SQuAD v1.1 evaluation script does (so "The  Vostan-Institute."
and "vostaninstitute" both become ``vostaninstitute``; "12,400" becomes ``12400``).

``f1`` counts shared tokens as a multiset: precision = shared / predicted tokens, recall =
shared / gold tokens, F1 = 2PR / (P + R).  When either side has no tokens left after
normalization, F1 is 1 if both are empty and 0 otherwise.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def f1(prediction: str, gold: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    shared = sum((Counter(pred) & Counter(ref)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(pred), shared / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_em(prediction: str, aliases: Iterable[str]) -> float:
    return max((exact_match(prediction, a) for a in aliases), default=0.0)


def best_f1(prediction: str, aliases: Iterable[str]) -> float:
    return max((f1(prediction, a) for a in aliases), default=0.0)


def score(prediction: str, aliases: Iterable[str]) -> dict[str, float]:
    """``{"em": ..., "f1": ...}``, each the best over ``aliases``."""
    aliases = list(aliases)
    return {"em": best_em(prediction, aliases), "f1": best_f1(prediction, aliases)}
