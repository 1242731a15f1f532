"""The ToolEnv contract: reset/step, malformed actions, truncation, info keys (on tests/arith_env.py)."""

import json
import warnings

import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

from agents import (
    RolloutConfig,
)
from agents.scripted import call
from tests.arith_env import TASKS, TRAIN_IDS, ArithEnv
from tools import ToolCall


# ----- the ToolEnv contract -----------------------------------------------------------------------
@pytest.fixture
def env():
    e = ArithEnv(max_turns=3)
    yield e
    e.close()


ADD = call("add", a=2, b=3)


def test_reset_observation_and_info(env):
    obs, info = env.reset(options={"task": "train1"})
    assert [m["role"] for m in obs] == ["system", "user"]
    assert obs[1]["content"] == "What is 70 + 80?"
    assert '"name": "add"' in obs[0]["content"] and "You have at most 3 replies." in obs[0]["content"]
    assert {k: v for k, v in info.items() if k != "state_key"} == {
        "family": "arith", "split": "train", "answer": "150", "task_id": "train1", "turn": 0,
        "invalid_actions": 0, "tool_calls": {}, "tool_errors": 0,
    }
    hash(info["state_key"])


def test_reward_is_zero_until_the_end_and_finish_terminates(env):
    env.reset(options={"task": "train0"})
    obs, reward, terminated, truncated, info = env.step(ADD)
    assert obs == [{"role": "tool", "name": "add", "content": "5"}]
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["valid_action"] is True and info["turn"] == 1 and info["tool_calls"] == {"add": 1}
    assert "answer" not in info and "outcome" not in info
    first_key = info["state_key"]

    obs, reward, terminated, truncated, info = env.step(call("answer", value=110))
    assert obs == [{"role": "tool", "name": "answer", "content": "correct"}]
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["outcome"] == 1.0 and info["success"] is True and info["answer"] == "110"
    assert info["answered"] == 110 and info["truncated_by"] is None
    assert info["tool_calls"] == {"add": 1, "answer": 1} and info["turn"] == 2
    assert info["state_key"] != first_key
    for key in ("task_id", "turn", "valid_action", "invalid_actions", "tool_calls", "tool_errors", "state_key"):
        assert key in info

    with pytest.raises(RuntimeError):
        env.step(ADD)


def test_wrong_answer_terminates_with_zero(env):
    env.reset(options={"task": "train0"})
    _, reward, terminated, truncated, info = env.step(call("answer", value=111))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["outcome"] == 0.0 and info["success"] is False and info["answer"] == "110"


def test_truncated_exactly_at_max_turns(env):
    env.reset(options={"task": "train0"})
    for t in (1, 2):
        _, reward, terminated, truncated, info = env.step(ADD)
        assert (reward, terminated, truncated) == (0.0, False, False), t
        assert "outcome" not in info
    _, reward, terminated, truncated, info = env.step(ADD)
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["outcome"] == 0.0 and info["success"] is False
    assert info["answer"] == "110" and info["truncated_by"] == "max_turns" and info["turn"] == 3
    with pytest.raises(RuntimeError):
        env.step(ADD)


def test_finishing_on_the_last_turn_is_terminated_not_truncated(env):
    env.reset(options={"task": "train0"})
    env.step(ADD)
    env.step(ADD)
    _, reward, terminated, truncated, info = env.step(call("answer", value=110))
    assert (reward, terminated, truncated) == (1.0, True, False) and info["truncated_by"] is None


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        ArithEnv().step(ADD)


def test_invalid_actions_and_tool_errors_are_counted(env):
    env.reset(options={"task": "train0"})
    obs, reward, _, _, info = env.step("I don't know")
    assert obs[0]["role"] == "user" and obs[0]["content"].startswith("Error: no tool call found")
    assert info["valid_action"] is False and info["invalid_actions"] == 1 and info["tool_calls"] == {}
    obs, _, _, _, info = env.step(call("add", a="x", b=1))
    assert obs[0]["role"] == "tool" and obs[0]["content"].startswith("Error: bad arguments for add")
    assert info["valid_action"] is True and info["tool_errors"] == 1 and info["invalid_actions"] == 1
    assert info["tool_calls"] == {"add": 1}


def test_tool_error_does_not_end_the_episode(env):
    env.reset(options={"task": "train0"})
    obs, _, terminated, _, info = env.step(call("answer", value=-5000))
    assert obs == [{"role": "tool", "name": "answer", "content": "Error: that is far too small"}]
    assert not terminated and info["tool_errors"] == 1


@pytest.mark.parametrize("key", ["outcome", "success", "answer", "turn"])
def test_finish_refuses_extras_that_would_overwrite_the_score_or_step_info(env, key):
    env.reset(options={"task": "train0"})
    with pytest.raises(ValueError, match=rf"\['{key}'\] are set by ToolEnv"):
        env.finish(0.0, **{key: 1.0})
    env.finish(0.0, answered=7)  # a family's own keys are fine
    assert env._result == {"outcome": 0.0, "success": False, "answered": 7}


def test_structured_action_keeps_the_call_id(env):
    env.reset(options={"task": "train0"})
    obs, *_ = env.step(ToolCall(name="add", arguments={"a": 1, "b": 1}, id="call_7"))
    assert obs == [{"role": "tool", "name": "add", "content": "2", "tool_call_id": "call_7"}]


def test_options_task_picks_that_task(env):
    for task_id in ["train3", "val0", "test0"]:  # by id, from any split
        _, info = env.reset(options={"task": task_id})
        assert info["task_id"] == task_id and env.task.id == task_id
    _, info = env.reset(options={"task": TASKS.get("train2")})
    assert info["task_id"] == "train2"
    with pytest.raises(KeyError):
        env.reset(options={"task": "nope"})


def test_options_split_draws_from_that_split(env):
    for seed in range(5):
        _, info = env.reset(seed=seed, options={"split": "val"})
        assert info["task_id"] == "val0" and info["split"] == "val"


def test_same_seed_same_task():
    a, b = ArithEnv(), ArithEnv()
    drawn = []
    for seed in range(20):
        ids = {a.reset(seed=seed)[1]["task_id"], b.reset(seed=seed)[1]["task_id"], a.reset(seed=seed)[1]["task_id"]}
        assert len(ids) == 1, seed
        drawn.append(ids.pop())
    assert set(drawn) <= set(TRAIN_IDS)
    assert len(set(drawn)) >= 3  # the seed matters


def test_max_turns_must_be_positive():
    with pytest.raises(ValueError):
        ArithEnv(max_turns=0)


def test_render_ansi_shows_the_transcript():
    env = ArithEnv(render_mode="ansi")
    env.reset(options={"task": "train0"})
    env.step(ADD)
    lines = env.render().splitlines()
    assert "[user] What is 50 + 60?" in lines
    assert f"[assistant] {ADD}" in lines and "[tool] 5" in lines
    assert ArithEnv().render() is None


def test_gymnasium_check_env_passes():
    env = ArithEnv()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env, skip_render_check=True)
    env.close()


def test_action_and_observation_spaces_contain_what_the_env_uses(env):
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.action_space.contains(ADD)
    obs, *_ = env.step(ADD)
    assert env.observation_space.contains(obs)
    assert json.dumps(obs)


@pytest.mark.parametrize("field, value", [("retries", 0), ("concurrency", 0), ("retry_backoff", -1.0)])
def test_rollout_config_rejects_values_that_would_drop_episodes(field, value):
    with pytest.raises(ValidationError, match=field):
        RolloutConfig(**{field: value})
