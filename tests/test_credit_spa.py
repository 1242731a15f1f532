"""SPA: progress + grounding step rewards, pooled group z-score, discounted sums (hand-computed)."""

import pytest

from tests.credit_trajs import traj
from trainers.credit import Signals, get_credit
from trainers.credit.spa import grounding


def assign(group, progress, **kw):
    return get_credit("spa", **kw).assign(group, Signals(progress=progress))


def test_grounding_rewards_valid_actions_and_always_the_final_turn():
    assert grounding(traj(1.0, turns=3, valid=[True, False, True])) == [0.5, 0.0, 0.5]
    assert grounding(traj(0.0, turns=2, valid=[False, False])) == [0.0, 0.5]


def test_step_rewards_pool_samples_of_different_lengths():
    # A: c = [.2, .1, .5], g = [.5, 0, .5] -> r = [.7, .1, 1]; B (one invalid turn, final): r = [-.1 + .5] = [.4]
    # pooled mean .55, population std sqrt(.1125) = .335410; z = [.447214, -1.341641, 1.341641], [-.447214]
    group = [traj(1.0, turns=3, valid=[True, False, True]), traj(0.0, turns=1, valid=[False], sample=1)]
    adv = assign(group, [[0.2, 0.1, 0.5], [-0.1]])
    assert adv[0] == pytest.approx([0.447214, 0.0, 1.341641], abs=1e-5)
    assert adv[1] == pytest.approx([-0.447214], abs=1e-5)
    # per-index normalization would give B's only turn (.4 - .55) / .15 = -1; pooled it is -0.447214


def test_all_equal_step_rewards_give_zero():
    group = [traj(1.0, turns=2, sample=i) for i in range(3)]
    assert assign(group, [[0.25, 0.75]] * 3) != [[0.0, 0.0]] * 3  # turns differ within an episode
    one_turn = [traj(1.0, sample=i) for i in range(3)]
    assert assign(one_turn, [[0.5]] * 3) == [[0.0]] * 3


def test_one_turn_and_truncated_and_outcome_weight():
    # truncated A: r = [.1 + .5, .2 + .5] (final turn grounded even when cut); B one turn: r = [.3 + .5]
    group = [traj(0.0, turns=2, truncated=True), traj(1.0, turns=1, sample=1)]
    adv = assign(group, [[0.1, 0.2], [0.3]])
    # pooled [.6, .7, .8]: mean .7, population std sqrt(.02/3) = .081650 -> z = .1 / (.081650 + 1e-6) = 1.224730
    assert adv == [pytest.approx([-1.224730, 0.0], abs=1e-5), pytest.approx([1.224730], abs=1e-5)]
    # outcome_weight 1 adds R to the final turn: [.6, .7], [1.8]; mean 1.033333, population std .543650
    adv = assign(group, [[0.1, 0.2], [0.3]], outcome_weight=1.0)
    assert adv[1] == pytest.approx([1.410220], abs=1e-5)
    assert adv[0] == pytest.approx([-0.797081 - 0.613139, -0.613139], abs=1e-5)


def test_progress_rows_must_match_turns_and_failed_are_refused():
    with pytest.raises(ValueError, match="progress has 1 values"):
        assign([traj(1.0, turns=2)], [[0.1]])
    with pytest.raises(ValueError, match="failed"):
        assign([traj(1.0, failed=True)], [[0.1]])
