"""``trainers.compare_stats``: the paired statistics of ``turngym compare`` on hand-made inputs, exact values."""

from __future__ import annotations

import math

import pytest

from trainers.compare_stats import (
    bootstrap_ci,
    censored_median,
    curve_auc,
    episodes_to_target,
    holm,
    paired_differences,
    paired_summary,
    rank_auc,
    sign_flip_p,
)


def test_sign_flip_p_enumerates_every_flip():
    # sums of ±1 ±2 ±3: 6, 4, 2, 0, 0, -2, -4, -6; |sum| >= 6 twice in 8
    assert sign_flip_p([1, 2, 3]) == 0.25
    assert sign_flip_p([0.1] * 6) == 2 / 64  # the smallest p six seeds can give
    assert sign_flip_p([1, -1]) == 1.0  # observed 0: every flip is as extreme
    with pytest.raises(ValueError, match="2\\^n"):
        sign_flip_p([1.0] * 21)


def test_sign_flip_p_counts_the_hand_enumerated_case():
    # |3a - b + c| for a, b, c in ±1: (a = 1) 3, 1, 5, 3; (a = -1) 3, 5, 1, 3: six of eight reach the observed 3
    assert sign_flip_p([3, -1, 1]) == 0.75


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.02]) == [0.02]
    assert holm([]) == []


def test_bootstrap_ci_percentiles():
    assert bootstrap_ci([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2))
    # means of 2 draws from {0, 1}: 0 (p .25), .5, 1 (p .25): the 2.5th and 97.5th percentiles are 0 and 1
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    # 4 draws from {0, 0, 0, 1}: P(mean = 0) = .316 > .025; P(mean = 1) = .0039 < .025 < P(mean >= .75) = .051
    assert bootstrap_ci([0.0, 0.0, 0.0, 1.0]) == (0.0, 0.75)
    assert bootstrap_ci([0.1, 0.3, 0.2], seed=5) == bootstrap_ci([0.1, 0.3, 0.2], seed=5)  # seeded
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_paired_differences_and_summary():
    diffs = paired_differences({0: 0.5, 1: 0.6, 2: None}, {0: 0.4, 1: 0.7, 2: 0.5})
    assert list(diffs) == [0, 1] and diffs[0] == pytest.approx(0.1) and diffs[1] == pytest.approx(-0.1)
    s = paired_summary([0.1, 0.1, 0.1])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.1) and s["ci_low"] == pytest.approx(0.1) and s["ci_high"] == pytest.approx(0.1)
    assert s["p"] == 0.25
    assert paired_summary([])["p"] is None


def test_episodes_to_target_is_censored_not_dropped():
    curve = [(0, 0.1), (8, 0.3), (16, 0.5)]
    assert episodes_to_target(curve, 0.3) == 8
    assert episodes_to_target(curve, 0.9) is None
    assert censored_median([8, None, 16]) == 16  # the censored run counts as +inf
    assert censored_median([8, None, None]) is None  # the median itself is censored: "> budget"
    assert censored_median([8, 16]) == 12.0
    assert censored_median([8, None]) is None


def test_curve_auc_is_mean_success_over_the_budget():
    assert curve_auc([(0, 0.0), (8, 0.5), (16, 0.5)]) == 0.375  # (8 * .25 + 8 * .5) / 16
    assert curve_auc([(0, 0.4)]) == 0.4
    assert curve_auc([]) is None


def test_rank_auc_mann_whitney_with_ties():
    assert rank_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert rank_auc([1.0, 1.0], [1, 0]) == 0.5
    assert rank_auc([0.3, 0.2], [1, 1]) is None
    assert math.isclose(rank_auc([0.9, 0.1], [True, False]), 1.0)
