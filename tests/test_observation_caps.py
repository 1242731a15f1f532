"""A 1 MB argument to a family's tools comes back capped, with a visible cut marker (SQL and Search)."""

import json

import pytest

from envs.search.env import SearchEnv
from envs.sql.env import SQLEnv

MEGABYTE = "q" * 1_000_000


def call(tool_name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"


def _only_message(env, action):
    (message,), reward, terminated, truncated, info = env.step(action)
    return message, reward, terminated


def _assert_capped(message, limit, head):
    content = message["content"]
    assert content.startswith(head), content[:200]
    assert len(content) == limit and content.endswith(" more characters]")
    n_cut = int(content.rsplit("[cut: ", 1)[1].split(" ")[0])
    return n_cut


def test_sql_submit_of_a_megabyte_query_is_capped(sql_tasks):
    env = SQLEnv(tasks=sql_tasks, split="train")
    env.reset(seed=0)
    message, reward, terminated = _only_message(env, call("submit_sql", query=MEGABYTE))
    head = "Submitted, but the query failed: SQL error: "
    n_cut = _assert_capped(message, env.max_observation_chars, head)
    assert env.max_observation_chars == 8_000 and n_cut > 990_000  # the whole query was echoed before the cap
    assert terminated and reward == 0.0
    env.close()


def test_sql_query_tool_and_a_smaller_per_env_cap(sql_tasks):
    env = SQLEnv(tasks=sql_tasks, split="train", max_observation_chars=500)
    env.reset(seed=0)
    message, _, terminated = _only_message(env, call("execute_sql", query=f"SELECT '{MEGABYTE}'"))
    _assert_capped(message, 500, "")
    assert not terminated
    env.close()


@pytest.fixture(scope="module")
def search_tasks():
    from envs.search.data import load_search_tasks

    return load_search_tasks()


def test_search_open_of_a_megabyte_id_is_capped(search_tasks):
    env = SearchEnv(tasks=search_tasks, split="train")
    env.reset(seed=0)
    message, _, terminated = _only_message(env, call("open", doc_id=MEGABYTE))
    n_cut = _assert_capped(message, 8_000, "Error: no article with id ")
    assert n_cut > 990_000 and not terminated
    env.close()


def test_search_answer_and_search_with_a_megabyte_argument_stay_within_the_cap(search_tasks):
    env = SearchEnv(tasks=search_tasks, split="train", max_observation_chars=1_000)
    env.reset(seed=0)
    message, _, _ = _only_message(env, call("search", query=MEGABYTE))
    assert len(message["content"]) <= 1_000
    message, reward, terminated = _only_message(env, call("answer", text=MEGABYTE))
    assert len(message["content"]) <= 1_000 and terminated and reward == 0.0
    env.close()
