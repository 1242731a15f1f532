"""TextWorld-v0: real TextWorld games, built offline into a temporary data home (skipped without the [textworld] extra).

The module builds five coin-collector games (levels 1, 2 for train/val; level 3 for test) and one
cooking game, ~15-25 s in all; every test plays those.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envs.textworld.games import textworld_unavailable

pytestmark = pytest.mark.skipif(textworld_unavailable() is not None, reason=str(textworld_unavailable()))

from envs.tasks import ListTaskSet, Task  # noqa: E402
from envs.textworld.data import DIFFICULTIES, game_spec, load_textworld_tasks  # noqa: E402
from envs.textworld.env import TextWorldEnv  # noqa: E402
from envs.textworld.games import GameSpec, clean_text, ensure_game, game_dir  # noqa: E402
from envs.textworld.oracle import Detours, RandomAdmissible, plan  # noqa: E402
from tools import ToolInfrastructureError, call  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A private data home for the module (the games are built into it once)."""
    root = tmp_path_factory.mktemp("twhome")
    old = os.environ.get("TURNGYM_HOME")
    os.environ["TURNGYM_HOME"] = str(root)
    yield root
    if old is None:
        os.environ.pop("TURNGYM_HOME", None)
    else:
        os.environ["TURNGYM_HOME"] = old


@pytest.fixture(scope="module")
def tasks(home):
    """Two train, one val and two test tasks of coin-1 (the first of each split in the full task set)."""
    full = load_textworld_tasks("coin-1")
    picked = [full.get(i) for split, n in (("train", 2), ("val", 1), ("test", 2)) for i in full.ids(split)[:n]]
    return ListTaskSet(picked)


def make_env(tasks, split="test", **kwargs) -> TextWorldEnv:
    return TextWorldEnv(split=split, tasks=tasks, **kwargs)


def play(env, commands, task_id):
    obs, info = env.reset(options={"task": task_id})
    steps = [env.step(call("command", text=c)) for c in commands]
    return info, steps


def test_splits_are_disjoint_by_seed_game_and_setting():
    for name, spec in DIFFICULTIES.items():
        full = load_textworld_tasks(name)
        keys = {split: {game_spec(name, split, i).key() for i in range(full.size(split))} for split in ("train", "val", "test")}
        seeds = {split: {t.data["game"]["seed"] for t in full.iter(split)} for split in ("train", "val", "test")}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            assert not keys[a] & keys[b] and not seeds[a] & seeds[b], (name, a, b)
        train_settings = {json.dumps(s, sort_keys=True) for s in spec.train}
        assert not any(json.dumps(s, sort_keys=True) in train_settings for s in spec.test), name  # test settings unseen in train
    assert {t.data["game"]["settings"]["level"] for t in load_textworld_tasks("coin-1").iter("test")} == {3}


def test_builds_are_deterministic_and_cached(home, tmp_path, monkeypatch):
    spec = GameSpec(challenge="coin", settings={"level": 2}, seed=0)
    path, meta = ensure_game(spec)
    assert meta["walkthrough"][-1] == "take coin" and meta["max_score"] == 1
    monkeypatch.setenv("TURNGYM_HOME", str(tmp_path))
    again, _ = ensure_game(spec)
    assert again != path and again.read_bytes() == path.read_bytes()
    assert (again.parent / "game.json").read_bytes() == (path.parent / "game.json").read_bytes()


def test_no_game_file_shared_between_splits(tasks):
    env = make_env(tasks)
    files = {}
    for split in ("train", "val", "test"):
        for task_id in tasks.ids(split):
            env.reset(options={"task": task_id})
            files.setdefault(split, set()).add((game_dir(GameSpec(**env.task.data["game"])) / "game.z8").read_bytes())
    assert not files["train"] & files["test"] and not files["val"] & files["test"] and not files["train"] & files["val"]


def test_oracle_wins_every_test_game_and_random_is_well_below(tasks):
    env = make_env(tasks)
    for task_id in tasks.ids("test"):
        obs, reset = env.reset(options={"task": task_id})
        assert reset["answer"] is None and reset["walkthrough"]
        for turn in range(env.max_turns):
            obs, reward, terminated, truncated, info = env.step(plan(turn, reset))
            if terminated or truncated:
                break
        assert terminated and reward == 1.0 and info["success"] and info["outcome"] == 1.0
    wins = 0
    for task_id in tasks.ids("test"):
        for seed in range(5):
            wins += run_player(env, RandomAdmissible(seed=seed), task_id)[-1][4]["success"]
    assert wins <= 5  # of 10 episodes; the oracle wins all


def run_player(env, player, task_id):
    obs, info = env.reset(options={"task": task_id})
    messages, steps = list(obs), []
    for _ in range(env.max_turns):
        action = player.act(messages, [])
        messages.append({"role": "assistant", "content": action})
        step = env.step(action)
        messages += step[0]
        steps.append(step)
        if step[2] or step[3]:
            break
    return steps


def test_observations_list_admissible_commands_when_asked(tasks):
    task_id = tasks.ids("test")[0]
    listed = make_env(tasks).reset(options={"task": task_id})[0][1]["content"]
    bare = make_env(tasks, admissible=False).reset(options={"task": task_id})[0][1]["content"]
    assert "Admissible commands: " in listed and "look" in listed.split("Admissible commands: ")[1]
    assert "Admissible commands" not in bare and listed.startswith(bare)
    assert "$$" not in bare and ">" not in bare  # banner, prompt and status line removed


def test_state_key_is_the_game_state_not_the_path(tasks):
    env = make_env(tasks)
    task_id = tasks.ids("test")[0]  # level 3: go, go, take coin
    info, _ = play(env, [], task_id)
    route = info["walkthrough"]
    start = info["state_key"]
    _, steps = play(env, ["look", "inventory"], task_id)
    assert steps[-1][4]["state_key"] == start  # looking changes nothing
    back = {"go east": "go west", "go west": "go east", "go north": "go south", "go south": "go north"}[route[0]]
    _, one = play(env, [route[0]], task_id)
    _, three = play(env, [route[0], back, route[0]], task_id)
    assert one[-1][4]["state_key"] == three[-1][4]["state_key"] != start  # same room, same inventory, two paths
    _, walked = play(env, route, task_id)
    keys = [s[4]["state_key"] for s in walked]
    assert keys[-1] != keys[-2] and json.loads(keys[-1])[2] == ["coin"]  # picking the coin up changes it


def test_revisits_count_turns_that_return_to_a_state_already_seen(tasks):
    env = make_env(tasks)
    task_id = tasks.ids("test")[0]  # level 3: go, go, take coin
    info, _ = play(env, [], task_id)
    route = info["walkthrough"]
    back = {"go east": "go west", "go west": "go east", "go north": "go south", "go south": "go north"}[route[0]]
    _, wandered = play(env, [route[0], back, route[0], "look", *route[1:]], task_id)
    assert [s[4]["revisit"] for s in wandered] == [False, True, True, True, False, False]
    _, straight = play(env, route, task_id)
    assert not any(s[4]["revisit"] for s in straight) and straight[-1][4]["success"]
    metrics = TextWorldEnv.episode_metrics([[s[4] for s in wandered], [s[4] for s in straight], [{"turn": 1}]])
    assert metrics == {"revisits": pytest.approx(3 / 2), "revisit_rate": pytest.approx(3 / 9)}  # the flagless episode is left out


def test_bad_input_is_explained_and_costs_a_turn(tasks):
    env = make_env(tasks)
    obs, info = env.reset(options={"task": tasks.ids("test")[0]})
    key = info["state_key"]
    bad = [call("command", text=""), call("command", text="x" * 5000), call("command", text="go east\ngo west"),
           call("command", text="restart"), call("command", text="quit"), '{"name": "command", "arguments": {"text": 5}}',
           call("command", text="\ud800"), "just some words"]
    for turn, action in enumerate(bad, start=1):
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["turn"] == turn and not terminated and reward == 0.0 and info["state_key"] == key
        assert obs[0]["content"].startswith("Error") and len(obs[0]["content"]) < 600
    assert info["tool_errors"] == len(bad) - 1 and info["invalid_actions"] == 1
    obs, *_ = env.step(call("command", text="look"))  # the game still answers
    assert "Error" not in obs[0]["content"]


def test_a_dead_game_is_an_infrastructure_fault(tasks):
    from agents.failures import is_infrastructure_error

    env = make_env(tasks)
    env.reset(options={"task": tasks.ids("test")[0]})
    env._game.close()  # the interpreter went away under the env
    with pytest.raises(ToolInfrastructureError) as caught:
        env.step(call("command", text="look"))
    assert is_infrastructure_error(caught.value) and "stopped" in str(caught.value)


def test_weak_teacher_detours_and_recovers(tasks):
    env = make_env(tasks, split="train")
    for task_id in tasks.ids("train") + tasks.ids("test"):
        steps = run_player(env, Detours(detour_rate=1.0), task_id)
        info = steps[-1][4]
        assert info["success"]
        walkthrough = env._walkthrough
        moves = sum(c.startswith("go ") for c in walkthrough)
        assert len(steps) >= len(walkthrough) + (2 if moves else 0)  # at least one detour where there is an exit
    assert run_player(env, Detours(detour_rate=0.0), tasks.ids("test")[0])[-1][4]["turn"] == 3


def test_reward_is_the_normalised_score_and_a_lost_game_terminates(home):
    spec = game_spec("cooking-1", "test", 0)
    task = Task(id="cook", split="test", prompt="", data={"game": spec.model_dump()})
    env = TextWorldEnv(split="test", tasks=ListTaskSet([task]), max_turns=15)
    obs, info = env.reset(options={"task": "cook"})
    assert info["max_score"] == 3
    taken = next(c for c in info["walkthrough"] if c.startswith("take "))
    food = taken.removeprefix("take ").split(" from ")[0]
    obs, reward, terminated, truncated, info = env.step(call("command", text=taken))
    assert info["score"] == 1 and not terminated
    obs, reward, terminated, truncated, info = env.step(call("command", text=f"eat {food}"))
    assert terminated and info["lost"] and not info["success"] and reward == pytest.approx(1 / 3) == info["outcome"]
    obs, info = env.reset(options={"task": "cook"})
    results = [env.step(call("command", text=command)) for command in info["walkthrough"]]
    assert [r[2] for r in results] == [False] * (len(results) - 1) + [True]
    assert results[-1][1] == 1.0 and results[-1][4]["success"] and results[-1][4]["score"] == 3


def test_user_game_files_load_by_path(tasks, tmp_path):
    env = make_env(tasks)
    env.reset(options={"task": tasks.ids("test")[0]})
    built = game_dir(GameSpec(**env.task.data["game"]))
    folder = tmp_path / "my games"
    (folder / "tw").mkdir(parents=True)
    shutil.copy(built / "game.z8", folder / "tw" / "quest.z8")
    shutil.copy(built / "game.json", folder / "tw" / "quest.json")
    mine = TextWorldEnv(games=folder, split="val")
    assert mine.tasks.size("val") == 1 and mine.max_turns == 100
    obs, info = mine.reset(seed=0)
    assert info["walkthrough"] == env._walkthrough and "Admissible commands" in obs[1]["content"]
    for command in info["walkthrough"]:
        result = mine.step(call("command", text=command))
    assert result[2] and result[4]["success"] and result[1] == 1.0
    plain = tmp_path / "plain"  # the story file alone: Jericho plays it, without TextWorld's score and facts
    plain.mkdir()
    shutil.copy(built / "game.z8", plain / "story.z8")
    bare = TextWorldEnv(games=plain, split="test", admissible=False)
    obs, info = bare.reset(seed=0)
    assert info["walkthrough"] == [] and "-= " in obs[1]["content"]
    moved = bare.step(call("command", text=env._walkthrough[0]))[4]["state_key"]
    assert moved != info["state_key"] and bare.step(call("command", text="look"))[4]["state_key"] == moved
    for command in env._walkthrough[1:]:
        result = bare.step(call("command", text=command))
    assert result[2] and result[4]["success"] and result[1] == 1.0  # the end read from Inform's banner
    (tmp_path / "old.ulx").write_bytes(b"Glul")
    with pytest.raises(ValueError, match="Glulx"):
        TextWorldEnv(games=tmp_path / "old.ulx")


def test_check_env_passes(tasks):
    from envs.checker import check_multiturn

    results = check_multiturn(lambda: make_env(tasks), n_fuzz=100)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_clean_text_drops_banner_prompt_and_menu():
    raw = ("  ________  __\n |  \\  $$\n\nWelcome! Go east.\n\n\n\n-= Vault =-\nA vault.\n\n"
           ">                                      -= Vault =-0/1")
    assert clean_text(raw) == "Welcome! Go east.\n\n-= Vault =-\nA vault."
    end = "You win.\n\n     *** The End ***\n\nWould you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command?\n> x"
    assert clean_text(end) == "You win.\n\n*** The End ***"


def test_turngym_imports_and_lists_without_textworld():
    code = ("import sys; sys.modules['textworld'] = None\n"
            "import turngym, envs\n"
            "from envs.registry import task_set, make\n"
            "print(task_set('TextWorld-v0').sizes())\n"
            "try:\n    make('TextWorld-v0').reset(seed=0)\nexcept ImportError as e:\n    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "{'train': 160, 'val': 40, 'test': 100}" in out.stdout and "refused: TextWorld-v0 needs the [textworld] extra" in out.stdout


def test_igpo_refuses_an_env_without_answer():
    from trainers.credit.igpo import IGPO

    with pytest.raises(ValueError, match="TextWorld-v0 declares no answer probe template"):
        IGPO.env_kwargs("TextWorld-v0", {})
