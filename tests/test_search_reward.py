"""SQuAD-style normalization, exact match and token F1, checked against hand-computed values."""

import pytest

from envs.search.reward import best_em, best_f1, exact_match, f1, normalize, score


@pytest.mark.parametrize("text, expected", [
    ("The  Vostan-Institute.", "vostaninstitute"),  # punctuation is deleted, not spaced
    ("An apple a day", "apple day"),
    ("12,400", "12400"),
    ("  Kelmar,\tTovaria ", "kelmar tovaria"),
    ("the", ""),
    ("Theatre of Anwick", "theatre of anwick"),  # "the" inside a word stays
    ("Rounstad & Beimski", "rounstad beimski"),
    ("O'Neill's", "oneills"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_exact_match_ignores_case_articles_and_punctuation():
    assert exact_match("the Vostan Institute!", "Vostan Institute") == 1.0
    assert exact_match("1,763,500", "1763500") == 1.0
    assert exact_match("Vostan", "Vostan Institute") == 0.0
    assert exact_match("1987 ", "1987") == 1.0
    assert exact_match("1986", "1987") == 0.0


@pytest.mark.parametrize("pred, gold, expected", [
    ("Vostan Institute of Letters", "Vostan Institute", 2 * 0.5 * 1.0 / 1.5),  # P=2/4, R=2/2
    ("institute institute", "institute", 2 * 0.5 * 1.0 / 1.5),  # shared tokens count as a multiset: 1
    ("a b c", "b c d", 0.8),  # "a" is an article: P=2/2, R=2/3, F1=2*(2/3)/(5/3)
    ("Harlo Vostan", "Mirela Vostan", 0.5),  # P=1/2, R=1/2
    ("Harlo Vostan", "Harlo Vostan", 1.0),
    ("nothing shared", "Vostan", 0.0),
    ("the", "", 1.0),  # both empty after normalization
    ("the", "Vostan", 0.0),
    ("Vostan", "an", 0.0),
])
def test_f1_hand_computed(pred, gold, expected):
    assert f1(pred, gold) == pytest.approx(expected)


def test_best_over_aliases():
    aliases = ["Kelmar", "Kelmar, Tovaria"]
    assert best_em("kelmar, tovaria", aliases) == 1.0
    assert best_em("Tovaria", aliases) == 0.0
    # vs "kelmar": P=1/2, R=1 -> 2/3; vs "kelmar tovaria": P=1/2, R=1/2 -> 1/2; best is 2/3
    assert best_f1("Kelmar city", aliases) == pytest.approx(2 / 3)
    assert score("Kelmar city", aliases) == {"em": 0.0, "f1": pytest.approx(2 / 3)}
    assert score("three", ["3", "three"]) == {"em": 1.0, "f1": 1.0}
    assert score("anything", []) == {"em": 0.0, "f1": 0.0}
