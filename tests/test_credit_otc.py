"""OTC-GRPO: tool-call shaped outcome rewards, then the GRPO z-score (hand-computed)."""

import math

import pytest

from tests.credit_trajs import traj
from trainers.credit import get_credit
from trainers.credit.otc import tool_reward


def test_tool_reward_cases():
    assert tool_reward(0, 0) == 1.0
    assert tool_reward(2, 0) == pytest.approx(math.cos(2 * math.pi / 5))  # 0.309017
    assert tool_reward(2, 2) == pytest.approx(1.0)
    assert tool_reward(4, 2) == pytest.approx(0.866025, abs=1e-6)  # f = 16/6, sin(2/3 pi)
    assert tool_reward(1, 2) == pytest.approx(0.866025, abs=1e-6)  # f = 4/3, sin(pi/3)
    assert tool_reward(0, 2) == 0.0
    assert tool_reward(5, None) == 1.0


def test_hand_computed_group_of_different_lengths():
    otc = get_credit("otc")
    group = [
        traj(1.0, turns=3, tool_calls={"search": 2, "answer": 1}),  # optimal: n = 2
        traj(1.0, turns=5, tool_calls={"search": 4, "answer": 1}, sample=1),  # correct, twice the calls: .866025
        traj(0.0, turns=2, tool_calls={"search": 1, "answer": 1}, sample=2),  # wrong: 0
    ]
    assert otc.shaped_rewards(group) == pytest.approx([1.0, 0.866025, 0.0], abs=1e-6)
    # mean .622008, unbiased std .542824
    adv = otc.assign(group)
    assert adv == [pytest.approx([0.696342] * 3, abs=1e-5), pytest.approx([0.449532] * 5, abs=1e-5), pytest.approx([-1.145874] * 2, abs=1e-5)]


def test_no_correct_sample_one_turn_and_all_equal():
    otc = get_credit("otc")
    partial = [traj(0.5, success=False, tool_calls={"search": 3}), traj(0.25, success=False, tool_calls={"search": 1}, sample=1)]
    assert otc.shaped_rewards(partial) == [0.5, 0.25]  # no reference count: r_tool = 1
    assert otc.assign([traj(1.0, sample=i) for i in range(3)]) == [[0.0]] * 3
    truncated = [traj(0.0, turns=4, truncated=True, tool_calls={"search": 4}), traj(1.0, tool_calls={"answer": 1}, sample=1)]
    # n = 0 (the correct one answered directly); the truncated one earned 0 anyway -> [0, 1] -> -+.707107
    assert otc.assign(truncated) == [pytest.approx([-0.707107] * 4, abs=1e-5), pytest.approx([0.707107], abs=1e-5)]
