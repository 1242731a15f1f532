"""GiGPO: episode z-score plus step advantages within anchor-state groups (hand-computed)."""

import pytest

from tests.credit_trajs import traj
from trainers.credit import get_credit
from trainers.credit.gigpo import anchor_keys, step_rewards


def assign(group, **kw):
    return get_credit("gigpo", **kw).assign(group)


def build_group():
    a = traj(1.0, turns=2, states=["S1", "S2"])  # S0 -> S1 -> answers right
    b = traj(0.0, turns=3, valid=[False, True, True], states=["S0", "S1", "S3"], truncated=True, sample=1)  # bad call, S1, cut
    c = traj(0.0, turns=1, states=["S4"], sample=2)  # answers wrong at once
    return [a, b, c]


def test_anchor_state_is_the_state_before_the_action():
    a, b, _ = build_group()
    assert anchor_keys(a) == ["S0", "S1"]
    assert anchor_keys(b) == ["S0", "S0", "S1"]
    assert step_rewards(b) == pytest.approx([-0.1, 0.0, 0.0])


def test_hand_computed_group_with_different_lengths_groups_by_state_not_turn_index():
    # A^E: R = [1, 0, 0], mean 1/3, unbiased std sqrt(1/3) -> [1.154701, -.577350, -.577350]
    # returns (gamma .95): A [.95, 1], B [-.1, 0, 0], C [0]
    # anchor S0 = {A1 .95, B1 -.1, B2 0, C1 0}: mean .2125, unbiased std .493921 -> [1.493153, -.632692, -.430230, -.430230]
    # anchor S1 = {A2 (turn index 1) 1, B3 (turn index 2) 0}: -> [.707107, -.707107]
    adv = assign(build_group())
    assert adv[0] == pytest.approx([2.647853, 1.861808], abs=1e-5)
    assert adv[1] == pytest.approx([-1.210042, -1.007581, -1.284457], abs=1e-5)
    assert adv[2] == pytest.approx([-1.007581], abs=1e-5)


def test_singleton_anchor_groups_get_no_step_advantage():
    # both start in S0 and return [.95, 1] vs [0, 0] there; their second turns start from S1 and S2: singletons
    group = [traj(1.0, turns=2, states=["S1", "x"]), traj(0.0, turns=2, states=["S2", "y"], sample=1)]
    adv = assign(group)
    a_e, a_s = 0.707107, 0.707107  # +-1/sqrt(2) for both the outcomes and the S0 returns
    assert adv[0] == pytest.approx([a_e + a_s, a_e], abs=1e-5)
    assert adv[1] == pytest.approx([-a_e - a_s, -a_e], abs=1e-5)


def test_one_turn_all_equal_and_omega():
    assert assign([traj(1.0, sample=i) for i in range(3)]) == [[0.0]] * 3
    one = [traj(1.0), traj(0.0, sample=1)]
    assert assign(one) == [pytest.approx([1.414214], abs=1e-5), pytest.approx([-1.414214], abs=1e-5)]
    assert assign(one, omega=0.0) == [pytest.approx([0.707107], abs=1e-5), pytest.approx([-0.707107], abs=1e-5)]


def test_failed_episode_is_refused():
    with pytest.raises(ValueError, match="failed"):
        assign([traj(1.0), traj(0.0, failed=True)])
