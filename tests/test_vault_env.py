"""The Vault family: conformance, rules, cost-to-go, anchor states, held-out splits, the oracle and the decoy teacher."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

from envs import make
from envs.checker import check_multiturn
from envs.registry import baseline, entry
from envs.vault.data import LABELS_PER_SPLIT, SIZES, load_vault_tasks, split_labels
from envs.vault.env import door_counts, oracle_turns
from envs.vault.oracle import Decoy, plan, takes_decoy
from tools import call

VARIANTS = {"Vault2-v0": (2, False), "Vault3-v0": (3, False), "Vault6-v0": (6, False), "VaultKey3-v0": (3, True)}
IDS = list(VARIANTS)


def go(door: str) -> str:
    return call("go", door=door)


def step(env, action):
    obs, reward, term, trunc, info = env.step(action)
    return obs[0]["content"], reward, term, trunc, info


@pytest.mark.parametrize("name", ["Vault3-v0", "VaultKey3-v0"])
def test_env_checker_passes(name):
    results = check_multiturn(lambda: gym.make(f"turngym/{name}", split="val"), n_fuzz=200)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_registered_ids_and_their_chains():
    for name, (rooms, key) in VARIANTS.items():
        found = entry(name)
        assert found.kwargs == {"rooms": rooms, "key": key} and set(found.baselines) == {"decoy"}
        assert found.probe_template == call("answer", code="{answer}")
        env = make(name)
        _, info = env.reset(seed=1)
        assert len(info["answer"]) == rooms == info["rooms"] and info["answer"].isdigit() and info["key"] == key
        assert env.max_turns == oracle_turns(rooms, key) + 2 * rooms  # default budget: one detour per junction


def test_splits_have_their_sizes_and_disjoint_labels():
    labels = split_labels()
    assert {s: len(v) for s, v in labels.items()} == LABELS_PER_SPLIT
    assert not set(labels["train"]) & set(labels["val"]) and not set(labels["train"]) & set(labels["test"])
    assert not set(labels["val"]) & set(labels["test"])
    for rooms in (2, 3, 6):
        tasks = load_vault_tasks(rooms)
        assert tasks.sizes() == SIZES
        seen = {s: {d for t in tasks.iter(s) for room in t.data["rooms"] for d in room["doors"]} for s in SIZES}
        assert all(seen[s] <= set(labels[s]) for s in SIZES)  # every split uses only its own labels
        assert len({t.id for t in tasks.iter("train")} | {t.id for t in tasks.iter("test")}) == SIZES["train"] + SIZES["test"]


def test_a_hand_made_path_with_a_detour_and_a_bad_call():
    env = make("Vault3-v0")
    task = load_vault_tasks(3).get("vault3-train-0000")
    obs, info = env.reset(options={"task": task.id})
    (r1, r2, r3), code = task.data["rooms"], task.answer
    wrong1 = next(d for d in r1["doors"] if d != r1["right"])
    assert obs[1]["content"] == f"Room 1/3. Code -. Doors: {' '.join(r1['doors'])}. Sign: {r1['right']}."
    assert info["cost_to_go"] == 4 and info["route"] == [r1["right"], r2["right"], r3["right"]]
    start = info["state_key"]
    text, *_, info = step(env, go(wrong1))
    assert (text, info["door"], info["place"], info["cost_to_go"]) == ("Dead end.", "decoy", "dead", 5)
    text, *_, info = step(env, go(r1["right"]))  # go in a dead end: a tool error, nothing changes
    assert text == "Error: call back() first. Dead end." and info["tool_errors"] == 1 and info["cost_to_go"] == 5
    text, *_, info = step(env, call("back"))
    assert text == obs[1]["content"] and info["state_key"] == start and info["cost_to_go"] == 4  # the same state again
    text, *_, info = step(env, go(r1["right"].upper()))
    assert text == f"Room 2/3. Code {code[0]}. Doors: {' '.join(r2['doors'])}. Sign: {r2['right']}."
    assert info["door"] == "right" and info["cost_to_go"] == 3
    assert info["state_key"] == f'["{task.id}", 2, "{code[0]}", "room", false]'
    text, *_, info = step(env, go("zzz"))
    assert text.startswith("Error: no door 'zzz' here. Room 2/3.") and info["cost_to_go"] == 3
    step(env, go(r2["right"]))
    text, *_, info = step(env, go(r3["right"]))
    assert text == f"Vault. Code {code}." and info["cost_to_go"] == 1
    text, reward, term, trunc, info = step(env, call("answer", code=f" {code} "))
    assert (text, reward, term, trunc, info["success"], info["cost_to_go"]) == ("correct", 1.0, True, False, True, 0)
    assert info["tool_calls"] == {"go": 6, "back": 1, "answer": 1}


def test_wrong_code_scores_zero_and_the_budget_truncates():
    env = make("Vault2-v0", max_turns=3)
    _, info = env.reset(seed=0)
    *_, info = step(env, go(info["route"][0]))
    text, reward, term, _, info = step(env, call("answer", code="x"))
    assert (text, reward, term, info["success"], info["answered"]) == ("wrong", 0.0, True, False, "x")
    env.reset(seed=0)
    for _ in range(3):
        text, reward, term, trunc, info = step(env, call("back"))
    assert text.startswith("Error: nothing to go back from.") and (reward, term, trunc) == (0.0, False, True)
    assert info["cost_to_go"] == 3 and info["truncated_by"] == "max_turns"


def test_key_variant_locks_room_one_until_the_key_is_fetched():
    env = make("VaultKey3-v0")
    obs, info = env.reset(seed=3)
    right = info["route"][0]
    assert obs[1]["content"].endswith(f"side. Sign: {right}. Key: no.") and "First get the key" in obs[0]["content"]
    costs, keys = [info["cost_to_go"]], [info["state_key"]]
    for action, expect in [(go(right), "Locked. Room 1/3"), (go("side"), "Side room. Key: yes."),
                           (call("back"), "Room 1/3"), (go(right), "Room 2/3")]:
        text, *_, info = step(env, action)
        assert text.startswith(expect), text
        costs.append(info["cost_to_go"])
        keys.append(info["state_key"])
    assert costs == [6, 6, 5, 4, 3]  # the key: two turns of progress that reveal no digit
    assert keys[0] == keys[1] != keys[3] and keys[3].endswith('"room", true]')
    env = make("Vault3-v0")
    env.reset(seed=3)
    assert step(env, go("side"))[0].startswith("Error: no door 'side' here.")  # only the key variant has a side room


@pytest.mark.parametrize("name", IDS)
def test_oracle_solves_every_task_of_every_split_in_cost_to_go_turns(name):
    env = make(name)
    for split in SIZES:
        for task_id in env.tasks.ids(split):
            _, info = env.reset(options={"task": task_id})
            need, turn, done = info["cost_to_go"], 0, False
            while not done:
                _, reward, term, trunc, step_info = env.step(plan(turn, info))
                turn, done = turn + 1, term or trunc
                assert step_info["cost_to_go"] == need - turn
            assert reward == 1.0 and turn == need == oracle_turns(info["rooms"], info["key"]), task_id


def play(env, player, task_id):
    obs, info = env.reset(options={"task": task_id})
    messages, infos, done = list(obs), [], False
    while not done:
        action = player.act(messages, [])
        obs, reward, term, trunc, step_info = env.step(action)
        messages += [{"role": "assistant", "content": action}, *obs]
        infos.append(step_info)
        done = term or trunc
    return reward, infos


def test_decoy_teacher_errs_at_its_rate_and_always_recovers():
    player = baseline("Vault3-v0", "decoy")
    assert isinstance(player, Decoy) and player.decoy_rate == 0.3
    env = make("Vault3-v0")
    tasks = list(load_vault_tasks(3).iter("train"))
    errs = 0
    for task in tasks:
        reward, infos = play(env, player, task.id)
        doors = [i["door"] for i in infos]
        assert reward == 1.0 and doors.count("right") == 3, task.id  # the default budget affords every detour
        errs += doors.count("decoy")
        for t, door in enumerate(doors):  # each detour: back, then the sign's door
            if door == "decoy":
                assert infos[t + 1]["tool_calls"]["back"] >= 1 and doors[t + 2] == "right"
        assert door_counts(infos)["accuracy"] == 3 / (3 + doors.count("decoy"))
    assert errs == 1841 and abs(errs / (3 * len(tasks)) - 0.3) < 0.01  # 1,841 of 6,000 junctions (0.307)
    first = tasks[0].prompt
    assert takes_decoy(first, first, 1.0) and not takes_decoy(first, first, 0.0)
    with pytest.raises(ValueError, match="decoy_rate"):
        Decoy(decoy_rate=-0.1)


def test_decoy_teacher_under_a_tight_budget_succeeds_where_it_never_errs():
    env, player = make("Vault6-v0", max_turns=oracle_turns(6)), Decoy()
    tasks = list(load_vault_tasks(6).iter("train"))[:500]
    wins = sum(play(env, player, t.id)[0] for t in tasks)
    assert 0.07 < wins / len(tasks) < 0.17  # (1 - 0.3)^6 = 0.118: the starvation regime's warm start


def test_decoy_teacher_fetches_the_key_first():
    env = make("VaultKey3-v0")
    for task in list(load_vault_tasks(3).iter("val"))[:50]:
        reward, infos = play(env, Decoy(decoy_rate=0.0), task.id)
        assert reward == 1.0 and [i["door"] for i in infos] == ["side", None, "right", "right", "right", None]


def test_held_out_prompts_show_only_unseen_labels():
    train = {w for t in load_vault_tasks(3).iter("train") for w in re.findall(r"\b[a-z]{3}\b", t.prompt)}
    test = {w for t in load_vault_tasks(3).iter("test") for w in re.findall(r"\b[a-z]{3}\b", t.prompt)}
    assert len(test) > 100 and not train & test


@pytest.mark.parametrize("preset, env_id, rooms, budget", [
    ("vault-saturation", "Vault3-v0", 3, 10), ("vault-starvation", "Vault6-v0", 6, 7), ("vault-control", "Vault2-v0", 2, 3),
])
def test_presets_name_their_regime(preset, env_id, rooms, budget):
    from trainers.config import load_config

    from trainers.compare_config import load_compare

    cfg = load_config(preset=preset)
    assert (cfg.env, cfg.max_turns, cfg.model, cfg.sft.data) == (f"turngym/{env_id}", budget, "tiny-base", "baseline:decoy")
    assert cfg.test_tasks == 500 and cfg.sft.steps == 120
    _, cmp = load_compare(preset=preset)  # the pre-registered comparison: 8 seeds, the plan names its regime
    assert cmp.seeds == 8 and list(cmp.methods) == ["grpo", "gigpo", "igpo", "spa", "oracle-ctg"]
    assert f"Hypothesis ({preset.removeprefix('vault-')})" in cmp.plan
    assert cfg.sft.teacher_kwargs == {"decoy_rate": 0.3} and VARIANTS[env_id] == (rooms, False)
    slack = (budget - oracle_turns(rooms)) // 2  # detours the budget affords
    assert slack == {"vault-saturation": rooms, "vault-starvation": 0, "vault-control": 0}[preset]


def test_evaluations_report_junction_accuracy_and_detours():
    """The family's own metrics reach every evaluation summary (turngym eval, a run's val and test)."""
    from agents import make_policy
    from agents.evaluation import evaluate

    tasks = list(load_vault_tasks(3).iter("test"))[:40]
    doors = [[i["door"] for i in play(make("Vault3-v0"), Decoy(), t.id)[1]] for t in tasks]
    right, decoy = sum(d.count("right") for d in doors), sum(d.count("decoy") for d in doors)
    assert right == 3 * 40 and decoy > 0  # the hand count the summary must reproduce
    res = evaluate(make_policy("decoy", env="Vault3-v0"), "Vault3-v0", "test", 40)
    assert res["env_metrics"] == {"junction_accuracy": pytest.approx(right / (right + decoy)), "detours": pytest.approx(decoy / 40)}
    oracle = evaluate(make_policy("oracle", env="Vault3-v0"), "Vault3-v0", "test", 10)
    assert oracle["env_metrics"] == {"junction_accuracy": 1.0, "detours": 0.0} and oracle["success_rate"] == 1.0
    lookup = evaluate(make_policy("oracle", env="Lookup-v0"), "Lookup-v0", "test", 3)
    assert lookup["env_metrics"] == {}  # a family without its own metrics adds none
