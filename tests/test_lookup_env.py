"""Lookup-v0: the tools, the reward, the oracle, disjoint splits and anchor states."""

from __future__ import annotations

import pytest

from envs import make
from envs.lookup.data import SIZES, load_lookup_tasks
from envs.lookup.oracle import plan

CALL = '<tool_call>{{"name": "{name}", "arguments": {{"{arg}": "{value}"}}}}</tool_call>'


def lookup(key: str) -> str:
    return CALL.format(name="lookup", arg="key", value=key)


def answer(value: str) -> str:
    return CALL.format(name="answer", arg="value", value=value)


def first_task(kind: str, split: str = "train"):
    tasks = load_lookup_tasks()
    return next(t for t in tasks.iter(split) if t.data["kind"] == kind)


def test_splits_have_their_sizes_and_disjoint_keys():
    tasks = load_lookup_tasks()
    assert tasks.sizes() == SIZES == {"train": 2000, "val": 200, "test": 300}
    keys = {s: {k for t in tasks.iter(s) for k in [*t.data["table"], *t.data["chain"]]} for s in SIZES}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]
    kinds = [t.data["kind"] for t in tasks.iter("train")]
    assert 0.3 < kinds.count("redirect") / len(kinds) < 0.5 and 0.1 < kinds.count("missing") / len(kinds) < 0.3


def test_redirect_task_takes_two_lookups_then_the_code():
    task = first_task("redirect")
    first, second = task.data["chain"]
    env = make("Lookup-v0")
    obs, info = env.reset(options={"task": task.id})
    assert obs[1]["content"] == f'Code of "{first}"?' and info["answer"] == task.answer and info["chain"] == [first, second]
    obs, reward, term, trunc, info = env.step(lookup(first))
    assert obs == [{"role": "tool", "name": "lookup", "content": f'see "{second}"'}] and reward == 0.0 and not term
    assert info["state_key"] == f'["{task.id}", ["{first}"]]'
    obs, *_ = env.step(lookup(second.upper()))  # keys are case-insensitive
    assert obs[0]["content"] == task.answer and len(task.answer) == 3 and task.answer.isdigit()
    obs, reward, term, trunc, info = env.step(answer(f" {task.answer} "))
    assert (reward, term, trunc, info["success"], obs[0]["content"]) == (1.0, True, False, True, "correct")
    assert info["tool_calls"] == {"lookup": 2, "answer": 1}


def test_missing_key_answers_none_and_a_wrong_answer_scores_zero():
    task = first_task("missing")
    env = make("Lookup-v0")
    env.reset(options={"task": task.id})
    obs, *_ = env.step(lookup(task.data["chain"][0]))
    assert obs[0]["content"] == "none" and task.answer == "none"
    _, reward, term, _, info = env.step(answer("123"))
    assert (reward, term, info["success"], info["answered"]) == (0.0, True, False, "123")


def test_bad_calls_cost_a_turn_and_the_episode_truncates():
    env = make("Lookup-v0", max_turns=2)
    env.reset(options={"task": first_task("direct").id})
    obs, reward, term, trunc, info = env.step("the code is 5")
    assert not info["valid_action"] and obs[0]["role"] == "user" and "no tool call" in obs[0]["content"]
    obs, reward, term, trunc, info = env.step(lookup(""))
    assert info["tool_errors"] == 1 and "empty" in obs[0]["content"]
    assert (reward, term, trunc, info["success"]) == (0.0, False, True, False)


def test_two_episodes_in_the_same_anchor_state_share_state_key():
    task = first_task("redirect")
    keys = []
    for order in ([0, 1], [1, 0]):
        env = make("Lookup-v0")
        env.reset(options={"task": task.id})
        for i in order:
            *_, info = env.step(lookup(task.data["chain"][i]))
        keys.append(info["state_key"])
    assert keys[0] == keys[1]


@pytest.mark.parametrize("split", ["train", "test"])
def test_oracle_solves_every_task(split):
    env = make("Lookup-v0", split=split)
    solved = 0
    for task_id in env.tasks.ids(split):
        _, info = env.reset(options={"task": task_id})
        turn, done = 0, False
        while not done:
            _, reward, term, trunc, _ = env.step(plan(turn, info))
            turn, done = turn + 1, term or trunc
        solved += reward == 1.0
    assert solved == SIZES[split]


def _play(env, player, task_id):
    obs, info = env.reset(options={"task": task_id})
    messages, done = list(obs), False
    while not done:
        action = player.act(messages, [])  # hasty reads only the conversation
        obs, reward, term, trunc, info = env.step(action)
        messages += [{"role": "assistant", "content": action}, *obs]
        done = term or trunc
    return reward, info["tool_calls"]


def test_hasty_baseline_guesses_on_a_fixed_half_and_otherwise_plays_like_the_oracle():
    from envs.lookup.oracle import Hasty, guessed_code, guesses_on
    from envs.registry import baseline

    player = baseline("Lookup-v0", "hasty")
    assert isinstance(player, Hasty) and player.guess_rate == 0.5
    env = make("Lookup-v0")
    tasks = list(load_lookup_tasks().iter("train"))[:200]
    guessed = []
    for task in tasks:
        reward, calls = _play(env, player, task.id)
        if calls.get("lookup", 0) == 0:
            guessed.append(task.id)
            assert reward == 0.0 and calls == {"answer": 1}, task.id  # a guess: no lookup, and wrong here
            assert guessed_code(task.data["chain"][0]) != task.answer
        else:
            assert reward == 1.0 and calls == {"lookup": len(task.data["chain"]), "answer": 1}, task.id
    # 110 of the first 200 train tasks (1,008 of all 2,000): sha256("hasty:" + key) below half of 2**64
    assert len(guessed) == 110
    assert guessed == [t.id for t in tasks if guesses_on(t.data["chain"][0])]
    assert sum(guesses_on(t.data["chain"][0]) for t in load_lookup_tasks().iter("train")) == 1008
    never, always = Hasty(guess_rate=0.0), Hasty(guess_rate=1.0)
    assert [_play(env, never, t.id)[0] for t in tasks[:20]] == [1.0] * 20
    assert all(_play(env, always, t.id)[1] == {"answer": 1} for t in tasks[:20])
    with pytest.raises(ValueError, match="guess_rate"):
        Hasty(guess_rate=1.5)
