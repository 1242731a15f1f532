"""agents.seeds: the one statement of how a run derives its seeds (what reproducible and resumable runs
rest on; tests/test_train_loop.py's kill-and-resume test checks the whole run)."""

import itertools

import pytest

from agents import seeds


def test_the_formulas_are_stable():
    # changing a formula changes every run's samples: a resumed run of an older version would diverge
    assert seeds.episode_seed(0, 1, 0) == 1000
    assert seeds.episode_seed(3, 7, 42) == (3 * 100_003 + 7) * 1000 + 42
    assert seeds.turn_seed(1000, 2, 3) == (1000 * 1000 + 2) * 100 + 3
    assert seeds.sft_seed(2, 5) == 2_000_011
    assert seeds.task_rng(0, 1, 0).sample(range(100), 3) == seeds.task_rng(0, 1, 0).sample(range(100), 3)


def test_values_are_distinct_within_the_ranges():
    episode = {seeds.episode_seed(s, step, i) for s, step, i in itertools.product(range(3), range(1, 30), range(0, 1000, 7))}
    assert len(episode) == 3 * 29 * len(range(0, 1000, 7))
    turns = {seeds.turn_seed(e, j, t) for e, j, t in itertools.product((1000, 1001, 2000), range(0, 1000, 9), range(100))}
    assert len(turns) == 3 * len(range(0, 1000, 9)) * 100


def test_out_of_range_values_raise():
    with pytest.raises(ValueError, match="episode index"):
        seeds.episode_seed(0, 1, 1000)
    with pytest.raises(ValueError, match="sample"):
        seeds.turn_seed(1000, 1000, 0)
