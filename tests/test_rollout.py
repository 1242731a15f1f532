"""The async rollout engine: trajectories, replay, failures, concurrency (on tests/arith_env.py)."""

import asyncio

import pytest

from agents import (
    Episode,
    OraclePolicy,
    RandomPolicy,
    RolloutConfig,
    SamplingParams,
    read_jsonl,
    replay,
    write_jsonl,
)
from agents.evaluation import summarize
from agents.scripted import call
from tests.arith_env import TASKS, TRAIN_IDS, ArithEnv, episodes, run


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
    # ... but come back in order
    assert [(t.task_id, t.seed, t.sample) for t in trajs] == [("train2", 5, 0), ("train0", 6, 0), ("train3", 7, 1)]
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


def test_policy_sees_the_growing_conversation_tools_info_and_a_per_sample_per_turn_seed():
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
    assert [s.seed for s in policy.sampling] == [300200, 300201]  # (seed * 1000 + sample) * 100 + turn


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
    assert (summary.episodes, summary.failed) == (4, 1)  # how a failed episode scores is test_evaluation.py's business


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


def test_an_unknown_task_is_a_failed_record_and_the_other_episodes_survive():
    trajs = run(OraclePolicy(), episodes(["train0", "nope", "train2"]), RolloutConfig(concurrency=1, retry_backoff=0))
    assert [t.failed for t in trajs] == [False, True, False]
    assert [t.outcome for t in trajs][::2] == [1.0, 1.0]
    assert trajs[1].finish_reason == "error" and trajs[1].error.startswith("env.reset raised") and "nope" in trajs[1].error


def test_a_raising_progress_callback_does_not_lose_the_batch():
    def boom(traj):
        raise RuntimeError("display gone")

    with pytest.warns(RuntimeWarning, match="on_done callback raised RuntimeError: display gone"):
        trajs = run(OraclePolicy(), episodes(TRAIN_IDS), on_done=boom)
    assert [t.outcome for t in trajs] == [1.0] * 4
