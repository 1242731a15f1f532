"""IGPO: information-gain turn rewards, pooled group z-score, discounted sums (hand-computed)."""

import math

import pytest

from tests.credit_trajs import traj
from trainers.credit import Signals, get_credit
from trainers.signals import drop_failed

ln = math.log


def assign(group, probes, **kw):
    return get_credit("igpo", **kw).assign(group, Signals(answer_logprobs=probes))


def test_samples_of_different_lengths_are_pooled_not_normalized_per_turn_index():
    # A: p = .1, .4, .5 -> r = [.3, .1, 1]; B answers at once: r = [0].
    # Pooled [.3, .1, 1, 0]: mean .35, population std sqrt(.1525) = .390512.
    group = [traj(1.0, turns=3), traj(0.0, turns=1, sample=1)]
    adv = assign(group, [[ln(.1), ln(.4), ln(.5)], [ln(.1)]])
    z = [-0.05 / 0.390512, -0.25 / 0.390512, 0.65 / 0.390512, -0.35 / 0.390512]
    assert adv[0] == pytest.approx([z[0] + z[1] + z[2], z[1] + z[2], z[2]], abs=1e-5)
    assert adv[1] == pytest.approx([z[3]], abs=1e-5)
    assert adv[0] == pytest.approx([0.896258, 1.024295, 1.664479], abs=1e-5)
    # per-index normalization would have compared B's answer turn with A's first search only,
    # giving B's turn (0 - .15) / .15 = -1 exactly; the pooled value is -0.896258.
    assert adv[1][0] == pytest.approx(-0.896258, abs=1e-5)


def test_equal_outcomes_still_separate_turns_by_information_gain_and_zero_gain_counts():
    # both succeed; A's first turn taught nothing (gain exactly 0, kept in the statistics).
    # r: A [0, 1], B [.4, 1]; pooled mean .6, population std sqrt(.18) = .424264.
    group = [traj(1.0, turns=2), traj(1.0, turns=2, sample=1)]
    adv = assign(group, [[ln(.2), ln(.2)], [ln(.2), ln(.6)]])
    assert adv[0] == pytest.approx([-0.471405, 0.942809], abs=1e-5)
    assert adv[1] == pytest.approx([0.471405, 0.942809], abs=1e-5)


def test_all_equal_rewards_give_zero_advantage():
    group = [traj(1.0, sample=i) for i in range(4)]
    assert assign(group, [[ln(.3)]] * 4) == [[0.0]] * 4


def test_one_turn_trajectories_are_outcome_z_scores():
    # r = outcomes [1, 0]: mean .5, population std .5 -> +-1 (the probe before the answer is unused)
    group = [traj(1.0), traj(0.0, sample=1)]
    adv = assign(group, [[ln(.9)], [ln(.1)]])
    assert adv == [[pytest.approx(1.0, abs=1e-5)], [pytest.approx(-1.0, abs=1e-5)]]
    # a lone value: std := 1, advantage 0
    assert assign([traj(1.0)], [[0.0]]) == [[0.0]]


def test_truncated_episode_last_turn_gets_the_outcome_it_earned():
    # A cut after 2 turns (outcome 0): r = [.25 - .5, 0]; B: r = [.75 - .5, 1].
    # pooled [-.25, 0, .25, 1]: mean .25, population std sqrt(.21875) = .467707.
    group = [traj(0.0, turns=2, truncated=True), traj(1.0, turns=2, sample=1)]
    adv = assign(group, [[ln(.5), ln(.25)], [ln(.5), ln(.75)]])
    assert adv[0] == pytest.approx([-1.603567, -0.534522], abs=1e-5)
    assert adv[1] == pytest.approx([1.603567, 1.603567], abs=1e-5)


def test_discount_and_logprob_gain():
    # log-prob gain: r = [-1 - -2, .5] = [1, .5]; pooled mean .75 std .25 -> z = [1, -1]
    group = [traj(0.5, turns=2)]
    assert assign(group, [[-2.0, -1.0]], gain="logprob") == [pytest.approx([0.0, -1.0], abs=1e-5)]
    assert assign(group, [[-2.0, -1.0]], gain="logprob", gamma=0.5) == [pytest.approx([0.5, -1.0], abs=1e-5)]


def test_extra_probe_after_the_last_turn_is_ignored_and_missing_ones_fail():
    group = [traj(1.0, turns=2), traj(0.0, turns=2, sample=1)]
    with_extra = assign(group, [[ln(.2), ln(.4), ln(.9)], [ln(.2), ln(.1), ln(.05)]])
    assert with_extra == assign(group, [[ln(.2), ln(.4)], [ln(.2), ln(.1)]])
    with pytest.raises(ValueError, match="need 2 answer probes"):
        assign(group, [[ln(.2)], [ln(.2), ln(.1)]])
    with pytest.raises(ValueError, match="answer_logprobs"):
        get_credit("igpo").assign(group, Signals())


def test_failed_episodes_are_dropped_by_the_helper_and_refused_by_the_method():
    group = [traj(1.0), traj(0.0, sample=1, failed=True), traj(0.0, sample=2)]
    kept, failed = drop_failed(group)
    assert [t.sample for t in kept] == [0, 2] and [t.sample for t in failed] == [1]
    with pytest.raises(ValueError, match="failed"):
        assign(group, [[0.0]] * 3)
    assert assign(kept, [[0.0]] * 2) == [[pytest.approx(1.0, abs=1e-5)], [pytest.approx(-1.0, abs=1e-5)]]


def test_separate_normalization_ranks_outcomes_against_outcomes_and_gains_against_gains():
    # A: p = .1, .4, .5 -> gains [.3, .1], outcome 1; B answers at once: no gain, outcome 0.
    # gains [.3, .1]: mean .2, population std .1 -> [+1, -1]; outcomes [1, 0]: mean .5, std .5 -> [+1, -1].
    group = [traj(1.0, turns=3), traj(0.0, turns=1, sample=1)]
    adv = assign(group, [[ln(.1), ln(.4), ln(.5)], [ln(.1)]], normalize="separate")
    assert adv[0] == pytest.approx([1.0, 0.0, 1.0], abs=1e-5)  # A_t = sum of later normalized rewards
    assert adv[1] == pytest.approx([-1.0], abs=1e-5)


def test_pooled_gives_a_wrong_answer_credit_when_gains_are_mostly_negative_separate_does_not():
    # Three lookups that fetch nothing (p .5 -> .1, wrong answer) and one that helps (p .5 -> .6, right).
    group = [traj(0.0, turns=2, sample=i) for i in range(3)] + [traj(1.0, turns=2, sample=3)]
    probes = [[ln(.5), ln(.1)]] * 3 + [[ln(.5), ln(.6)]]
    # pooled [-.4, 0] x 3 + [.1, 1]: mean -.0125, population std sqrt(.18609375) = .431386:
    # the wrong answers' 0 sits above the mean: +.028976.
    pooled = assign(group, probes)
    assert pooled[0] == pytest.approx([-0.898265 + 0.028976, 0.028976], abs=1e-5)
    assert pooled[3] == pytest.approx([0.260787 + 2.347081, 2.347081], abs=1e-5)
    # separate: outcomes [0, 0, 0, 1] -> -1/sqrt(3), sqrt(3); gains [-.4, -.4, -.4, .1] -> the same.
    sep = assign(group, probes, normalize="separate")
    s = 1 / math.sqrt(3)
    assert sep[0] == pytest.approx([-2 * s, -s], abs=5e-5)  # eps 1e-6 in std + eps: ~5e-6 relative
    assert sep[3] == pytest.approx([2 * math.sqrt(3), math.sqrt(3)], abs=5e-5)


def test_normalize_must_be_pooled_or_separate():
    with pytest.raises(ValueError, match="normalize must be 'pooled' or 'separate'"):
        get_credit("igpo", normalize="outcome")
