"""Outcome credit (GRPO, Dr.GRPO, RLOO) against hand-computed numbers."""

import math

import pytest

from agents.trajectory import Trajectory, Turn
from trainers.credit import credit_methods, get_credit


def traj(reward: float, turns: int = 1) -> Trajectory:
    ts = [Turn(action="a", observation=[], reward=0.0) for _ in range(turns - 1)]
    ts.append(Turn(action="a", observation=[], reward=reward, terminated=True, info={"outcome": reward}))
    return Trajectory(env_id="turngym/X-v0", task_id="t", split="train", messages=[], turns=ts)


def flat(rows):
    return [v for r in rows for v in r]


def test_all_registered():
    assert {"grpo", "drgrpo", "rloo"} <= set(credit_methods())


def test_grpo_uses_the_unbiased_std_and_repeats_on_every_turn():
    group = [traj(1.0, 2), traj(0.0, 1), traj(0.0, 3)]
    # mean 1/3; unbiased var = ((2/3)² + 2·(1/3)²)/2 = 1/3; std = 0.57735
    std = math.sqrt(1 / 3)
    a_hi, a_lo = (2 / 3) / (std + 1e-6), (-1 / 3) / (std + 1e-6)
    out = get_credit("grpo").assign(group)
    assert [len(r) for r in out] == [2, 1, 3]
    assert out[0] == pytest.approx([a_hi, a_hi])
    assert out[1] == pytest.approx([a_lo]) and out[2] == pytest.approx([a_lo] * 3)
    assert a_hi == pytest.approx(1.1547, abs=1e-4)


def test_grpo_equal_rewards_and_single_sample_give_zero():
    assert get_credit("grpo").assign([traj(1.0), traj(1.0, 2)]) == [[0.0], [0.0, 0.0]]
    assert get_credit("grpo").assign([traj(1.0, 2)]) == [[0.0, 0.0]]


def test_drgrpo_subtracts_the_mean_only():
    out = get_credit("drgrpo").assign([traj(1.0), traj(0.0, 2), traj(0.5)])
    assert [len(r) for r in out] == [1, 2, 1]
    assert flat(out) == pytest.approx([0.5, -0.5, -0.5, 0.0])
    assert get_credit("drgrpo").assign([traj(0.7, 3)]) == [[0.0, 0.0, 0.0]]
    assert get_credit("drgrpo").assign([traj(0.3), traj(0.3)]) == [[0.0], [0.0]]


def test_rloo_leave_one_out_baseline():
    out = get_credit("rloo").assign([traj(1.0), traj(0.0, 2), traj(0.5)])
    # 1 - (0 + .5)/2 = .75; 0 - (1 + .5)/2 = -.75; .5 - (1 + 0)/2 = 0
    assert [len(r) for r in out] == [1, 2, 1]
    assert flat(out) == pytest.approx([0.75, -0.75, -0.75, 0.0])
    assert get_credit("rloo").assign([traj(1.0, 2)]) == [[0.0, 0.0]]
    assert get_credit("rloo").assign([traj(1.0), traj(1.0)]) == [[0.0], [0.0]]


def test_reward_is_the_sum_of_step_rewards():
    t = traj(1.0, 2)
    t.turns[0].reward = 0.5  # a shaped intermediate reward counts in R
    out = get_credit("drgrpo").assign([t, traj(0.0)])
    assert [len(r) for r in out] == [2, 1]
    assert flat(out) == pytest.approx([0.75, 0.75, -0.75])


def test_grpo_rejects_a_bad_eps():
    with pytest.raises(ValueError, match="eps"):
        get_credit("grpo", eps=0.0)


def test_every_episode_level_z_score_ranks_the_same_return():
    """GRPO, GiGPO's episode term and the loop's dynamic-sampling filter all use R = Σ step rewards:
    a shaped reward moves them alike (GiGPO's step term off with omega = 0)."""
    from trainers.credit._stats import returns

    shaped = traj(1.0, 2)
    shaped.turns[0].reward = -0.5  # R = 0.5, outcome 1.0
    group = [shaped, traj(1.0), traj(0.0)]
    assert returns(group) == [0.5, 1.0, 0.0]
    grpo = flat(get_credit("grpo").assign(group))
    gigpo = flat(get_credit("gigpo", omega=0.0).assign(group))
    assert gigpo == pytest.approx(grpo, abs=1e-9)
    assert grpo[0] == pytest.approx(0.0, abs=1e-6)  # R = 0.5 is the group mean
