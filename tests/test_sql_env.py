"""The SQL env end to end on the built-in databases: splits, tools, limits, rewards, oracle."""

import asyncio
import hashlib
import random

import gymnasium as gym
import pytest

import turngym  # noqa: F401
from agents import Episode, OraclePolicy, RandomPolicy, rollout
from agents.evaluation import summarize
from agents.scripted import call
from envs.checker import check_multiturn, fuzz_actions
from envs.sql.env import SQLEnv


def db_ids(tasks, split):
    return {tasks.get(t).data["db_id"] for t in tasks.ids(split)}


def test_test_databases_are_held_out(sql_tasks):
    train, val, test = (db_ids(sql_tasks, s) for s in ("train", "val", "test"))
    assert len(train) >= 8 and val == train
    assert "chinook" in test and len(test - {"chinook"}) >= 3
    assert not test & train
    chinook = [t for t in sql_tasks.ids("test") if t.startswith("chinook/")]
    assert len(chinook) >= 40


def test_every_kind_of_question_is_in_every_split(sql_tasks):
    for split in ("train", "val", "test"):
        kinds = {sql_tasks.get(t).data["kind"] for t in sql_tasks.ids(split)}
        assert kinds == {"select", "join", "aggregate", "group_having", "order_limit", "nested"}, split


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_oracle_solves_every_task(sql_tasks, split):
    episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(sql_tasks.ids(split))]
    trajs = asyncio.run(rollout(lambda: SQLEnv(split=split, tasks=sql_tasks), OraclePolicy(), episodes))
    failures = [(t.task_id, t.final_info.get("submitted_sql")) for t in trajs if not t.success]
    assert not failures, failures[:5]
    assert summarize(trajs).invalid_action_rate == 0.0


def test_random_policy_scores_near_zero(sql_tasks):
    episodes = [Episode(task_id=t, seed=i) for i, t in enumerate(sql_tasks.ids("test"))]
    trajs = asyncio.run(rollout(lambda: SQLEnv(split="test", tasks=sql_tasks), RandomPolicy(seed=0), episodes))
    summary = summarize(trajs)
    assert summary.failed == 0
    assert summary.success_rate <= 0.02
    assert summary.invalid_action_rate > 0.1


def test_thousand_fuzzed_actions_never_raise_and_are_explained(sql_tasks):
    env = SQLEnv(split="train", tasks=sql_tasks)
    env.reset(seed=0)
    fuzz = fuzz_actions(random.Random(1), env.toolbox.names)
    invalid = 0
    for _ in range(1000):
        obs, reward, terminated, truncated, info = env.step(next(fuzz))
        assert obs and all(m["content"].strip() for m in obs)
        invalid += not info["valid_action"]
        if terminated or truncated:
            env.reset()
    assert invalid > 500


def test_check_env_passes_on_every_split(sql_tasks):
    for split in ("train", "val", "test"):
        results = check_multiturn(lambda: gym.make("turngym/SQL-v0", split=split, tasks=sql_tasks), n_fuzz=100)
        assert all(r.ok for r in results), results


@pytest.fixture
def env(sql_tasks):
    env = SQLEnv(split="test", tasks=sql_tasks, query_timeout=0.3, max_rows=5, max_output_chars=300)
    env.reset(options={"task": "chinook/0000"})
    yield env
    env.close()


def step(env, name, **args):
    obs, reward, terminated, truncated, info = env.step(call(name, **args))
    return obs[0]["content"], reward, terminated, info


def test_writes_are_refused_and_the_database_is_unchanged(env, sql_tasks):
    path = sql_tasks.db_path("chinook")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for sql in ["DELETE FROM Track", "DROP TABLE Track", "INSERT INTO Genre VALUES (999, 'x')",
                "CREATE TEMP TABLE t(x)", "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA writable_schema = ON",
                "UPDATE Track SET Name = 'x'"]:
        text, *_ = step(env, "execute_sql", query=sql)
        assert text.startswith("Error: "), (sql, text)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_runaway_query_is_stopped(env):
    text, *_ = step(env, "execute_sql", query="WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r")
    assert text == "Error: query stopped after 0.3 s; simplify it or add filters"


def test_rows_and_output_are_capped(env):
    text, *_ = step(env, "execute_sql", query="SELECT TrackId FROM Track ORDER BY TrackId")
    assert text == "TrackId\n1\n2\n3\n4\n5\n(showing the first 5 rows)"
    text, *_ = step(env, "execute_sql", query="SELECT Name, Composer FROM Track ORDER BY TrackId")
    assert "output cut at 300 characters" in text


def test_sql_errors_are_explained(env):
    assert step(env, "execute_sql", query="SELECT * FROM Nope")[0] == "Error: SQL error: no such table: Nope"
    assert step(env, "execute_sql", query="SELECT 1; SELECT 2")[0].startswith("Error: SQL error: You can only execute one statement")
    assert step(env, "describe_table", table="Nope")[0] == "Error: no table named 'Nope'. Call list_tables to see the tables."


def test_wrong_submission_scores_zero_with_parts(env):
    text, reward, terminated, info = step(env, "submit_sql", query="SELECT Name FROM Genre")
    assert terminated and reward == 0.0 and info["success"] is False
    assert info["reward_parts"]["execution_match"] == 0.0
    assert info["reward_parts"]["syntax_valid"] == 1.0


def test_partial_weight_mixes_syntax_and_schema_overlap(sql_tasks):
    env = SQLEnv(split="test", tasks=sql_tasks, partial_weight=0.5)
    env.reset(options={"task": "chinook/0000"})
    *_, info = env.step(call("submit_sql", query="SELECT Name FROM Genre"))
    parts = info["reward_parts"]
    assert info["outcome"] == pytest.approx(0.5 * (parts["syntax_valid"] + parts["schema_overlap"]) / 2)
    env.reset(options={"task": "chinook/0000"})
    *_, info = env.step(call("submit_sql", query="SELEC nonsense"))
    assert info["reward_parts"]["syntax_valid"] == 0.0 and info["outcome"] < 0.5


def test_bad_config_fails_fast_with_the_field_named(sql_tasks):
    with pytest.raises(ValueError, match="partial_weight"):
        SQLEnv(tasks=sql_tasks, partial_weight=2)
    with pytest.raises(ValueError, match="split"):
        SQLEnv(tasks=sql_tasks, split="dev")
    with pytest.raises(ValueError, match="max_turns"):
        SQLEnv(tasks=sql_tasks, max_turns=-1)
