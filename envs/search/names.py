"""Fictional names built from syllables, so that no model has seen the world's entities.

A :class:`NameGen` coins capitalized tokens ("Velmaro", "Tashkend") and never hands out the same
token twice.  ``forbidden`` holds tokens another world already uses: the test world is generated
with the train world's tokens forbidden, so the two worlds share no coined name.  Everything is
drawn from the ``random.Random`` passed in, so a seed fixes every name.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

_ONSETS = [
    "b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "kr", "l", "m", "n", "p", "pr",
    "r", "s", "sk", "st", "t", "th", "tr", "v", "vr", "z", "sh", "y", "w", "q", "ph",
]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou", "ia", "y"]
_CODAS = ["", "", "", "n", "r", "l", "s", "th", "m", "k", "x", "nd", "rn", "sk", "v", "sh", "lt"]

# Endings give each kind of name its own flavour.
_SUFFIXES = {
    "given": ["", "", "a", "o", "ia", "en", "el", "is", "ard", "ine"],
    "family": ["", "ov", "ani", "stad", "ek", "mont", "ley", "ski", "ard", "ell", "oux", "berg"],
    "city": ["", "holm", "dor", "port", "vale", "grad", "mere", "ford", "ar", "eth", "ain"],
    "country": ["ia", "land", "mar", "ovia", "ara", "esh", "onia"],
    "word": ["", "", "en", "or", "an", "is"],
}

# Demonyms for country endings ("Velmaria" -> "Velmarian").
_DEMONYM = {"ia": "ian", "land": "lander", "mar": "marian", "ovia": "ovian", "ara": "aran", "esh": "eshi", "onia": "onian"}


class NameGen:
    """Coins unique fictional tokens; ``forbidden`` tokens (another world's) are never produced."""

    def __init__(self, rng: random.Random, forbidden: Iterable[str] = ()):
        self.rng = rng
        self.forbidden = {t.lower() for t in forbidden}
        self.used: set[str] = set()

    def _syllable(self, last: bool) -> str:
        coda = self.rng.choice(_CODAS) if last or self.rng.random() < 0.25 else ""
        return self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + coda

    def token(self, kind: str, syllables: tuple[int, int] = (1, 2)) -> str:
        """A new capitalized token of ``kind`` (given, family, city, country, word)."""
        for _ in range(10_000):
            n = self.rng.randint(*syllables)
            stem = "".join(self._syllable(i == n - 1) for i in range(n))
            word = _tidy(stem + self.rng.choice(_SUFFIXES[kind]))
            if 4 <= len(word) <= 13 and word not in self.used and word not in self.forbidden:
                self.used.add(word)
                return word.capitalize()
        raise RuntimeError(f"could not coin a new {kind} name; the name space is exhausted")

    def country(self) -> tuple[str, str]:
        """A country name and its demonym."""
        for _ in range(10_000):
            ending = self.rng.choice(_SUFFIXES["country"])
            stem = _tidy("".join(self._syllable(False) for _ in range(self.rng.randint(1, 2))))
            name, demonym = (stem + ending).capitalize(), (stem + _DEMONYM[ending]).capitalize()
            if all(w.lower() not in self.used and w.lower() not in self.forbidden for w in (name, demonym)) and len(name) >= 5:
                self.used.update((name.lower(), demonym.lower()))
                return name, demonym
        raise RuntimeError("could not coin a new country name")


def _tidy(word: str) -> str:
    """Collapse letter runs that read badly ("aaa", "yy")."""
    out: list[str] = []
    for ch in word.lower():
        if len(out) >= 2 and out[-1] == out[-2] == ch:
            continue
        if out and ch == "y" and out[-1] == "y":
            continue
        out.append(ch)
    return "".join(out)


NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
