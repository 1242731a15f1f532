"""Evaluation (episode choice, pass@k, summaries) and scripted policies (on tests/arith_env.py)."""

from math import comb

import pytest

from agents import (
    OraclePolicy,
    RandomPolicy,
    RolloutConfig,
    Trajectory,
    Turn,
)
from agents.evaluation import choose_episodes, pass_at_k, summarize
from agents.scripted import call, oracle_action
from tests.arith_env import TASKS, TRAIN_IDS, episodes, run


# ----- evaluation ---------------------------------------------------------------------------------
def turn(valid=True, **end) -> Turn:
    info = {"valid_action": valid, **end}
    return Turn(action="x", observation=[], reward=float(end.get("outcome", 0.0)), terminated=bool(end), info=info)


def traj(task_id, turns, failed=False) -> Trajectory:
    return Trajectory(env_id="arith", task_id=task_id, split="test", messages=[], turns=turns, failed=failed)


HAND_BUILT = [
    traj("a", [turn(), turn(outcome=1.0, success=True, tool_calls={"add": 1, "answer": 1})]),
    traj("a", [turn(False), turn(False), turn(outcome=0.0, success=False, tool_calls={"answer": 1})]),
    traj("b", [turn(outcome=0.5, success=False, tool_calls={"answer": 1})]),
    traj("b", [turn(False), turn(False)], failed=True),  # an infrastructure fault: scores 0 unless excluded
    traj("b", [turn(False), turn(), turn(), turn(outcome=1.0, success=True, tool_calls={"add": 2, "answer": 1})]),
]


def test_summarize_exact_values():
    s = summarize(HAND_BUILT)  # by default a failed episode counts as 0 in the headline numbers
    assert s.episodes == 5 and s.tasks == 2 and s.failed == 1 and s.failed_counted_as == "zero"
    assert s.success_rate == 0.4  # 2 of all 5
    assert s.mean_reward == pytest.approx((1.0 + 0.0 + 0.5 + 0.0 + 1.0) / 5)  # 0.5
    assert s.mean_turns == 2.5  # behaviour, over the 4 non-failed: (2 + 3 + 1 + 4) / 4
    assert s.mean_tool_calls == 1.75  # (2 + 1 + 1 + 3) / 4
    assert s.invalid_action_rate == pytest.approx(3 / 10)  # (0 + 2 + 0 + 1) invalid of 10 actions
    # task a: 2 samples, 1 success; task b: 3 samples (the failed one a miss), 1 success.
    # pass@1 = (1/2 + 1/3) / 2 = 5/12; pass@2 = (1 + (1 - C(2,2)/C(3,2))) / 2 = (1 + 2/3) / 2 = 5/6
    assert s.pass_at_k == {1: pytest.approx(5 / 12), 2: pytest.approx(5 / 6)}


def test_summarize_can_exclude_failed_episodes_and_says_so():
    s = summarize(HAND_BUILT, exclude_failed=True)
    assert s.failed == 1 and s.failed_counted_as == "excluded"
    assert s.success_rate == 0.5  # 2 of the 4 non-failed
    assert s.mean_reward == pytest.approx((1.0 + 0.0 + 0.5 + 1.0) / 4)  # 0.625
    assert (s.mean_turns, s.mean_tool_calls) == (2.5, 1.75)
    # Two samples per task, one success each: pass@1 = 1/2, pass@2 = 1 (n - c = 1 < 2).
    assert s.pass_at_k == {1: pytest.approx(0.5), 2: 1.0}


def test_a_failed_episode_cannot_raise_the_score():
    """The reported defect: one solved episode and one failed one read as success_rate 1.0."""
    solved = traj("a", [turn(outcome=1.0, success=True, tool_calls={"answer": 1})])
    failed = traj("b", [turn()], failed=True)
    s = summarize([solved, failed])
    assert (s.episodes, s.failed, s.success_rate, s.mean_reward) == (2, 1, 0.5, 0.5)
    assert summarize([solved, failed], exclude_failed=True).success_rate == 1.0


def test_summarize_one_sample_per_task_has_no_pass_at_k_and_empty_is_zero():
    assert summarize(HAND_BUILT[1:3]).pass_at_k == {}
    empty = summarize([])
    assert empty.model_dump() == {
        "episodes": 0, "tasks": 0, "failed": 0, "failed_counted_as": "zero", "success_rate": 0.0, "mean_reward": 0.0,
        "mean_turns": 0.0, "mean_tool_calls": 0.0, "invalid_action_rate": 0.0, "pass_at_k": {}, "env_metrics": {},
    }


def test_summarize_of_a_real_rollout():
    trajs = run(OraclePolicy(), episodes(TRAIN_IDS, sample=0) + episodes(TRAIN_IDS, sample=1))
    s = summarize(trajs)
    assert (s.episodes, s.tasks, s.failed, s.success_rate, s.mean_reward, s.mean_turns, s.mean_tool_calls) == (8, 4, 0, 1.0, 1.0, 2.0, 2.0)
    assert s.invalid_action_rate == 0.0 and s.pass_at_k == {1: 1.0, 2: 1.0}


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 1, 0.4),
        (5, 2, 2, 1 - comb(3, 2) / comb(5, 2)),  # 0.7
        (3, 0, 1, 0.0),
        (3, 0, 3, 0.0),
        (5, 4, 2, 1.0),  # n - c < k
        (4, 4, 1, 1.0),
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_hand_values():
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_at_k(10, 3, 5) == pytest.approx(0.9166666666666666)


def test_choose_episodes_ids_seeds_samples():
    eps = choose_episodes(TASKS, "train", 3, samples=2, seed=10)
    assert [(e.task_id, e.seed, e.sample) for e in eps] == [
        ("train0", 10, 0), ("train0", 10, 1), ("train1", 11, 0), ("train1", 11, 1), ("train2", 12, 0), ("train2", 12, 1),
    ]
    assert [e.task_id for e in choose_episodes(TASKS, "train", None)] == TRAIN_IDS
    assert [e.seed for e in choose_episodes(TASKS, "train", None)] == [0, 1, 2, 3]
    assert [e.task_id for e in choose_episodes(TASKS, "train", 99)] == TRAIN_IDS
    assert [(e.task_id, e.seed) for e in choose_episodes(TASKS, "test", None, seed=7)] == [("test0", 7)]


def test_choose_episodes_zero_tasks_is_empty():
    assert choose_episodes(TASKS, "train", 0) == []


# ----- scripted policies --------------------------------------------------------------------------
def test_oracle_action_unknown_family_raises_key_error():
    with pytest.raises(KeyError, match="no oracle plan for env family 'nope'"):
        oracle_action(0, {"family": "nope"})
    assert oracle_action(1, {"family": "arith", "answer": "12"}) == call("answer", value=12)


def test_random_policy_scores_zero_and_never_crashes():
    trajs = run(RandomPolicy(seed=0), episodes((TRAIN_IDS * 5)[:20]))
    s = summarize(trajs)
    assert s.episodes == 20 and s.failed == 0
    assert all(t.ended for t in trajs)
    assert s.success_rate == 0.0 and s.mean_reward == 0.0
    assert s.invalid_action_rate > 0.0  # it writes junk some of the time


def test_random_policy_is_seeded():
    a = run(RandomPolicy(seed=4), episodes(TRAIN_IDS), RolloutConfig(concurrency=1))
    b = run(RandomPolicy(seed=4), episodes(TRAIN_IDS), RolloutConfig(concurrency=1))
    assert [[t.action for t in x.turns] for x in a] == [[t.action for t in x.turns] for x in b]


def test_eval_cli_reports_failed_episodes_and_how_they_were_counted(tmp_path, monkeypatch):
    """Every episode fails (no sandbox engine): results.json and the table say so, never hide them."""
    import json

    from typer.testing import CliRunner

    from envs.code import pools
    from sandboxes import SandboxUnavailable
    from turngym.cli import app

    def engine_down(*args, **kwargs):
        raise SandboxUnavailable("no Docker engine reachable (connection refused)")

    monkeypatch.setattr(pools, "service_key", lambda backend: f"test-eval-down:{backend}")
    monkeypatch.setattr(pools, "make_pool", engine_down)
    for flag, counted, label in [([], "zero", "success_rate (failed = 0)"),
                                 (["--exclude-failed"], "excluded", "success_rate (failed excluded)")]:
        out = tmp_path / counted
        result = CliRunner().invoke(app, ["eval", "Code-v0", "--split", "train", "-n", "2", "--out", str(out), *flag],
                                    env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        results = json.loads((out / "results.json").read_text())
        assert (results["episodes"], results["failed"], results["failed_counted_as"], results["success_rate"]) == (2, 2, counted, 0.0)
        assert label in result.output
