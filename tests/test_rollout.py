"""agents/ (rollout, trajectories, replay, evaluation, scripted policies) and the ToolEnv contract,
on a small in-test arithmetic env."""

import asyncio
import json
import warnings
from math import comb

import pytest
from gymnasium.utils.env_checker import check_env
from pydantic import ValidationError

from agents import (
    Episode,
    OraclePolicy,
    RandomPolicy,
    RolloutConfig,
    SamplingParams,
    Trajectory,
    Turn,
    read_jsonl,
    register_oracle,
    replay,
    rollout,
    write_jsonl,
)
from agents.evaluation import choose_episodes, pass_at_k, summarize
from agents.scripted import call, oracle_action
from envs.core import ToolEnv
from envs.tasks import ListTaskSet, Task
from tools import ToolCall, ToolError, tool

# Sums are >= 100 so that RandomPolicy (integers in [-2, 20]) can never answer correctly.
PAIRS = {"train": [(50, 60), (70, 80), (90, 95), (100, 1)], "val": [(55, 66)], "test": [(77, 88)]}
TASKS = ListTaskSet(
    [
        Task(id=f"{split}{i}", split=split, prompt=f"What is {a} + {b}?", answer=str(a + b), data={"a": a, "b": b})
        for split, pairs in PAIRS.items()
        for i, (a, b) in enumerate(pairs)
    ]
)
TRAIN_IDS = ["train0", "train1", "train2", "train3"]


class ArithEnv(ToolEnv):
    family = "arith"
    default_max_turns = 4

    def __init__(self, split="train", max_turns=None, **kw):
        super().__init__(TASKS, split=split, max_turns=max_turns, **kw)
        self.closed = 0

    @tool
    def add(self, a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: The first.
            b: The second.
        """
        return a + b

    @tool(ends_episode=True)
    def answer(self, value: int) -> str:
        """Submit the final answer; ends the episode.

        Args:
            value: The sum.
        """
        if value < -1000:
            raise ToolError("that is far too small")
        correct = value == int(self.task.answer)
        self.finish(1.0 if correct else 0.0, answered=value)
        return "correct" if correct else "wrong"

    def close(self):
        self.closed += 1
        super().close()


def arith_plan(turn: int, info: dict) -> str:
    value = int(info["answer"])
    return call("add", a=value, b=0) if turn == 0 else call("answer", value=value)


register_oracle("arith", arith_plan)


def episodes(ids, **kw):
    return [Episode(task_id=t, seed=i, **kw) for i, t in enumerate(ids)]


def run(policy, eps, config=None, make_env=ArithEnv, **kw):
    return asyncio.run(rollout(make_env, policy, eps, config or RolloutConfig(retry_backoff=0), env_id="arith", **kw))


# ----- rollout ------------------------------------------------------------------------------------
class GatedOracle(OraclePolicy):
    """The oracle, but an episode's task only gets answers once the tasks it waits for have finished."""

    name = "gated-oracle"

    def __init__(self, waits_for: dict[str, str]):
        self.waits_for = waits_for
        self.finished: list[str] = []

    async def generate(self, requests, sampling):
        other = self.waits_for.get(requests[0].info["task_id"])
        while other is not None and other not in self.finished:
            await asyncio.sleep(0.001)
        return await super().generate(requests, sampling)


def test_rollout_returns_trajectories_in_episode_order():
    eps = [Episode(task_id="train2", seed=5), Episode(task_id="train0", seed=6), Episode(task_id="train3", seed=7, sample=1)]
    policy = GatedOracle({"train2": "train0", "train0": "train3"})
    trajs = run(policy, eps, RolloutConfig(concurrency=3), on_done=lambda t: policy.finished.append(t.task_id))
    assert policy.finished == ["train3", "train0", "train2"]  # they finished in reverse ...
    assert [(t.task_id, t.seed, t.sample) for t in trajs] == [("train2", 5, 0), ("train0", 6, 0), ("train3", 7, 1)]  # ... but come back in order
    for t, expected_answer in zip(trajs, ["185", "110", "101"]):
        assert (t.env_id, t.split, t.policy) == ("arith", "train", "gated-oracle")
        assert not t.failed and t.error is None
        assert t.outcome == 1.0 and t.success and t.total_reward == 1.0 and t.ended
        assert len(t.turns) == 2 and t.tool_calls == 2
        assert t.final_info["tool_calls"] == {"add": 1, "answer": 1}
        assert t.final_info["answer"] == expected_answer and t.reset_info["answer"] == expected_answer
        assert [turn.reward for turn in t.turns] == [0.0, 1.0]
        assert [(turn.terminated, turn.truncated) for turn in t.turns] == [(False, False), (True, False)]
        assert t.turns[0].observation == [{"role": "tool", "name": "add", "content": expected_answer}]
        assert t.turns[1].observation == [{"role": "tool", "name": "answer", "content": "correct"}]
        assert t.messages[1] == {"role": "user", "content": TASKS.get(t.task_id).prompt}
        assert t.invalid_actions == 0


class RecordingOracle(OraclePolicy):
    def __init__(self):
        self.requests = []
        self.sampling = []

    async def generate(self, requests, sampling):
        self.requests.extend(requests)
        self.sampling.append(sampling)
        return await super().generate(requests, sampling)


def test_policy_sees_the_growing_conversation_tools_info_and_a_per_sample_seed():
    policy = RecordingOracle()
    (traj,) = run(policy, [Episode(task_id="train1", seed=3, sample=2)])
    first, second = policy.requests
    assert [m["role"] for m in first.messages] == ["system", "user"]
    assert [m["role"] for m in second.messages] == ["system", "user", "assistant", "tool"]
    assert second.messages[2] == {"role": "assistant", "content": call("add", a=150, b=0)}
    assert second.messages == traj.conversation()[:4]
    assert [t["function"]["name"] for t in first.tools] == ["add", "answer"]
    assert first.tools == [s.openai() for s in ArithEnv().toolbox.specs()]
    assert first.info["answer"] == "150" and first.info["family"] == "arith"
    assert [s.seed for s in policy.sampling] == [3002, 3002]  # seed * 1000 + sample


def test_explicit_sampling_seed_is_kept():
    policy = RecordingOracle()
    run(policy, [Episode(task_id="train1", seed=3)], RolloutConfig(sampling=SamplingParams(seed=42)))
    assert {s.seed for s in policy.sampling} == {42}


def test_envs_are_pooled_and_closed():
    made = []

    def make():
        made.append(ArithEnv())
        return made[-1]

    trajs = run(OraclePolicy(), episodes(TRAIN_IDS * 3), RolloutConfig(concurrency=5), make_env=make)
    assert len(trajs) == 12 and all(t.success for t in trajs)
    assert len(made) == 5
    assert [e.closed for e in made] == [1] * 5
    assert len(run(OraclePolicy(), episodes(TRAIN_IDS[:2]), RolloutConfig(concurrency=32), make_env=make)) == 2
    assert len(made) == 7  # never more envs than episodes


def test_trajectories_round_trip_through_jsonl(tmp_path):
    trajs = run(OraclePolicy(), episodes(TRAIN_IDS))
    trajs.append(run(RandomPolicy(seed=1), episodes(["val0"]))[0])
    path = tmp_path / "trajs.jsonl"
    assert write_jsonl(path, trajs) == 5
    back = list(read_jsonl(path))
    assert back == trajs
    assert [t.conversation() for t in back] == [t.conversation() for t in trajs]
    assert len(path.read_text().splitlines()) == 5


def test_replay_of_a_recorded_trajectory_has_no_diffs():
    trajs = run(OraclePolicy(), episodes(TRAIN_IDS)) + run(RandomPolicy(seed=3), episodes(TRAIN_IDS))
    env = ArithEnv()
    for traj in trajs:
        assert replay(env, traj) == []


def test_replay_reports_a_tampered_action():
    (traj,) = run(OraclePolicy(), [Episode(task_id="train0", seed=0)])
    tampered = traj.model_copy(deep=True)
    tampered.turns[0].action = call("add", a=110, b=1)
    diffs = replay(ArithEnv(), tampered)
    assert diffs == [
        {
            "turn": 0,
            "expected": [{"role": "tool", "name": "add", "content": "110"}],
            "got": [{"role": "tool", "name": "add", "content": "111"}],
            "reward": 0.0,
        }
    ]
    wrong_answer = traj.model_copy(deep=True)
    wrong_answer.turns[1].action = call("answer", value=7)
    diffs = replay(ArithEnv(), wrong_answer)
    assert [(d["turn"], d["reward"]) for d in diffs] == [(1, 0.0)]
    assert diffs[0]["got"] == [{"role": "tool", "name": "answer", "content": "wrong"}]


def test_replay_reports_a_different_first_observation():
    (traj,) = run(OraclePolicy(), [Episode(task_id="train0", seed=0)])
    other = traj.model_copy(deep=True)
    other.messages[1]["content"] = "What is 1 + 1?"
    diffs = replay(ArithEnv(), other)
    assert diffs[0]["turn"] == -1 and diffs[0]["got"][1]["content"] == "What is 50 + 60?"


# ----- failures -----------------------------------------------------------------------------------
class FlakyPolicy(OraclePolicy):
    name = "flaky"

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0

    async def generate(self, requests, sampling):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"flaky {self.calls}")
        return await super().generate(requests, sampling)


def test_policy_errors_are_retried():
    policy = FlakyPolicy(failures=2)
    (traj,) = run(policy, [Episode(task_id="train0", seed=0)], RolloutConfig(retries=3, retry_backoff=0))
    assert not traj.failed and traj.error is None
    assert traj.success and len(traj.turns) == 2
    assert policy.calls == 4  # two failures, then one success per turn


def test_policy_that_fails_every_try_gives_a_failed_trajectory():
    policy = FlakyPolicy(failures=2)
    (traj,) = run(policy, [Episode(task_id="train0", seed=0)], RolloutConfig(retries=2, retry_backoff=0))
    assert traj.failed and traj.turns == []
    assert traj.error == "policy failed after 2 tries: RuntimeError: flaky 2"


class DownForOneTask(OraclePolicy):
    async def generate(self, requests, sampling):
        if requests[0].info["task_id"] == "train1":
            raise ConnectionError("server down")
        return await super().generate(requests, sampling)


def test_failed_episodes_are_kept_in_place_not_dropped():
    trajs = run(DownForOneTask(), episodes(TRAIN_IDS), RolloutConfig(retries=3, retry_backoff=0))
    assert [t.task_id for t in trajs] == TRAIN_IDS
    assert [t.failed for t in trajs] == [False, True, False, False]
    assert trajs[1].error == "policy failed after 3 tries: ConnectionError: server down"
    assert trajs[1].turns == [] and trajs[1].outcome == 0.0
    summary = summarize(trajs)
    assert (summary.episodes, summary.failed, summary.success_rate) == (4, 1, 1.0)


class BrokenEnv(ArithEnv):
    def step(self, action):
        if self.turn >= 1:
            raise RuntimeError("boom")
        return super().step(action)


def test_env_step_that_raises_gives_a_failed_trajectory():
    trajs = run(OraclePolicy(), episodes(TRAIN_IDS[:2]), make_env=BrokenEnv)
    for traj in trajs:
        assert traj.failed
        assert traj.error == "env.step raised RuntimeError: boom"
        assert len(traj.turns) == 1  # the turn before the crash is kept


# ----- concurrency --------------------------------------------------------------------------------
class SlowPolicy(OraclePolicy):
    def __init__(self):
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, requests, sampling):
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.1)
        finally:
            self.in_flight -= 1
        return await super().generate(requests, sampling)


def test_episodes_run_concurrently():
    policy = SlowPolicy()
    trajs = run(policy, episodes(TRAIN_IDS * 4), RolloutConfig(concurrency=16))
    assert len(trajs) == 16 and all(t.success and len(t.turns) == 2 for t in trajs)
    # Serial would mean one generate call at a time (32 x 0.1 s); here they overlap.
    assert policy.max_in_flight >= 8


def test_concurrency_is_bounded_by_the_config():
    policy = SlowPolicy()
    trajs = run(policy, episodes(TRAIN_IDS * 2), RolloutConfig(concurrency=3))
    assert all(t.success for t in trajs)
    assert policy.max_in_flight == 3


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
    traj("b", [turn(False), turn(False)], failed=True),  # not a sample of the policy: excluded from the means
    traj("b", [turn(False), turn(), turn(), turn(outcome=1.0, success=True, tool_calls={"add": 2, "answer": 1})]),
]


def test_summarize_exact_values():
    s = summarize(HAND_BUILT)
    assert s.episodes == 5 and s.tasks == 2 and s.failed == 1
    assert s.success_rate == 0.5  # 2 of the 4 non-failed
    assert s.mean_reward == pytest.approx((1.0 + 0.0 + 0.5 + 1.0) / 4)  # 0.625
    assert s.mean_turns == 2.5  # (2 + 3 + 1 + 4) / 4
    assert s.mean_tool_calls == 1.75  # (2 + 1 + 1 + 3) / 4
    assert s.invalid_action_rate == pytest.approx(3 / 10)  # (0 + 2 + 0 + 1) invalid of 10 actions
    # Two samples per task, one success each: pass@1 = 1/2, pass@2 = 1 (n - c = 1 < 2).
    assert s.pass_at_k == {1: pytest.approx(0.5), 2: 1.0}


def test_summarize_one_sample_per_task_has_no_pass_at_k_and_empty_is_zero():
    assert summarize(HAND_BUILT[1:3]).pass_at_k == {}
    empty = summarize([])
    assert empty.model_dump() == {
        "episodes": 0, "tasks": 0, "failed": 0, "success_rate": 0.0, "mean_reward": 0.0, "mean_turns": 0.0,
        "mean_tool_calls": 0.0, "invalid_action_rate": 0.0, "pass_at_k": {},
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
