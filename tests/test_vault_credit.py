"""``oracle-ctg``: progress credit from the env's true cost-to-go, with hand-computed numbers, on real Vault trajectories."""

from __future__ import annotations

import math

import pytest

from credit_trajs import traj
from trainers.credit import get_credit
from trainers.credit.oracle_ctg import OracleCTG, costs_to_go, ctg_turn_rewards


def with_costs(t, costs):
    """``t`` with c_0 in its reset info and c_1..c_T in its step infos."""
    t.reset_info["cost_to_go"] = costs[0]
    for turn, c in zip(t.turns, costs[1:], strict=True):
        turn.info["cost_to_go"] = c
    return t


def test_turn_rewards_are_the_progress_and_the_outcome_last():
    assert ctg_turn_rewards([3, 2, 1, 0], 1.0) == [1.0, 1.0, 1.0]
    assert ctg_turn_rewards([3, 4, 3, 2], 0.0) == [-1.0, 1.0, 0.0]  # a dead end, back, then out of budget
    assert ctg_turn_rewards([3, 3], 0.0) == [0.0]  # a one-turn episode: only the outcome


def test_hand_computed_group():
    # K = 2, budget 3: A goes right, right, answers (c 3 -> 0, R = 1); B takes the decoy, backs out,
    # goes right and is cut (c 3 -> 4 -> 3 -> 2, R = 0).  Turn rewards pooled: [1, 1, 1, -1, 1, 0]:
    # mean 0.5, population std sqrt(3.5 / 6) = 0.763763.
    a = with_costs(traj(1.0, turns=3, sample=0), [3, 2, 1, 0])
    b = with_costs(traj(0.0, turns=3, sample=1, truncated=True), [3, 4, 3, 2])
    std = math.sqrt(3.5 / 6) + 1e-6
    up, down, mid = 0.5 / std, -1.5 / std, -0.5 / std
    adv = get_credit("oracle-ctg").assign([a, b])
    assert adv[0] == pytest.approx([up, up, up]) and adv[1] == pytest.approx([down, up, mid])
    assert adv[1][0] == pytest.approx(-1.963958, abs=1e-5) and adv[0][0] == pytest.approx(0.654652, abs=1e-5)
    summed = OracleCTG(gamma=1.0).assign([a, b])  # gamma 1: IGPO's sum over later turns
    assert summed[0] == pytest.approx([3 * up, 2 * up, up]) and summed[1] == pytest.approx([down + up + mid, up + mid, mid])


def test_a_group_that_all_made_the_same_progress_gets_zero():
    group = [with_costs(traj(1.0, turns=3, sample=i), [3, 2, 1, 0]) for i in range(4)]
    assert get_credit("oracle-ctg").assign(group) == [[0.0] * 3] * 4


def test_missing_cost_to_go_is_refused_naming_the_env():
    t = traj(1.0, turns=2)
    with pytest.raises(ValueError, match=r"turngym/Test-v0 gives none in reset info"):
        get_credit("oracle-ctg").assign([t])
    t.reset_info["cost_to_go"] = 2
    t.turns[0].info["cost_to_go"] = 1
    with pytest.raises(ValueError, match=r"turngym/Test-v0 gives none in turn 2's step info"):
        costs_to_go(t)
    failed = with_costs(traj(0.0, turns=1, failed=True), [1, 1])
    with pytest.raises(ValueError, match="failed"):
        get_credit("oracle-ctg").assign([failed])
    with pytest.raises(ValueError, match="gamma"):
        OracleCTG(gamma=2.0)


def test_compare_refuses_an_env_without_cost_to_go_before_any_run():
    # the hook `turngym compare` calls for every method before anything trains (trainers.compare_config)
    assert OracleCTG.env_kwargs("Vault3-v0", {"gamma": 0.5}) == {"gamma": 0.5}
    with pytest.raises(ValueError, match="turngym/Lookup-v0 does not record info\\['cost_to_go'\\]"):
        OracleCTG.env_kwargs("Lookup-v0", {})


def test_on_decoy_teacher_trajectories_detours_get_negative_credit():
    from trainers.sft import scripted_trajectories

    group = scripted_trajectories("Vault3-v0", "decoy", "train", n=16, env_kwargs={"max_turns": 6})
    assert {t.success for t in group} == {True, False}  # budget 6 affords one detour of the teacher's
    adv = get_credit("oracle-ctg").assign(group)
    by_door: dict[object, list[float]] = {}
    for t, row in zip(group, adv):
        for turn, a in zip(t.turns[:-1], row[:-1]):
            by_door.setdefault(turn.info["door"], []).append(a)
    assert max(by_door["decoy"]) < 0 < min(by_door["right"])
    assert min(by_door[None]) > 0  # back() out of a dead end is progress too
