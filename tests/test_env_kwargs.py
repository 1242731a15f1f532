"""``env_kwargs``: the arguments a run makes its env with, everywhere (the tasks, rollouts, SFT data,
evaluations), e.g. another TextWorld difficulty.  Checked on the Vault family, whose ``rooms`` argument
chooses the task set (Vault3-v0 made with rooms=6 has Vault6-v0's tasks)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from envs import make
from envs.registry import task_set
from trainers.config import ConfigError, load_config


def _ids(tasks, split="test"):
    return list(tasks.ids(split))


def test_task_set_follows_the_arguments_that_choose_tasks():
    three, six = task_set("Vault3-v0"), task_set("Vault6-v0")
    assert _ids(three) != _ids(six)
    assert _ids(task_set("Vault3-v0", rooms=6)) == _ids(six)
    # arguments that never choose tasks need no env built, and change nothing
    assert _ids(task_set("Vault3-v0", max_turns=5, split="val")) == _ids(three)


def test_a_run_makes_its_env_tasks_evaluations_and_sft_data_with_env_kwargs():
    from trainers.loop import env_setup
    from trainers.sft import scripted_trajectories

    cfg = load_config(preset="demo", overrides=["env=Vault3-v0", "sft=null", "env_kwargs.rooms=6", "max_turns=30"])
    kwargs, tasks = env_setup(cfg)
    assert kwargs == {"rooms": 6, "max_turns": 30}
    assert _ids(tasks) == _ids(task_set("Vault6-v0"))
    env = make("Vault3-v0", split="train", tasks=tasks, **kwargs)
    assert env.rooms == 6 and env.max_turns == 30
    env.close()
    trajs = scripted_trajectories("Vault3-v0", "oracle", "train", 2, env_kwargs=kwargs)
    assert [t.task_id for t in trajs] == _ids(tasks, "train")[:2]
    assert all(t.outcome == 1.0 for t in trajs)


def test_env_kwargs_that_the_env_rejects_fail_naming_the_field(tmp_path):
    from trainers.loop import env_setup
    from turngym.cli import app

    cfg = load_config(preset="demo", overrides=["env=Vault3-v0", "sft=null", "env_kwargs.roms=6"])
    with pytest.raises(ConfigError, match=r"^env_kwargs: .*Vault3-v0.*roms"):
        env_setup(cfg)
    with pytest.raises(ConfigError, match=r"env_kwargs: sets \['max_turns', 'split'\]"):
        load_config(preset="demo", overrides=["env=Vault3-v0", "sft=null", "env_kwargs.split=val", "env_kwargs.max_turns=3"])
    res = CliRunner().invoke(app, ["train", "--preset", "demo", "--set", "env=Vault3-v0", "--set", "sft=null", "--set", "env_kwargs.roms=6",
                                   "--out", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert "config error" in res.output and "env_kwargs" in res.output


def test_eval_takes_env_arguments(tmp_path):
    from turngym.cli import app

    res = CliRunner().invoke(app, ["eval", "Vault3-v0", "--env-arg", "rooms=6", "-n", "3", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    import json

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["success_rate"] == 1.0
    ids = [json.loads(line)["task_id"] for line in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert set(ids) <= set(_ids(task_set("Vault6-v0")))
    bad = CliRunner().invoke(app, ["eval", "Vault3-v0", "--env-arg", "rooms", "-n", "1", "--out", str(tmp_path / "b")])
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output


def test_check_env_takes_env_arguments():
    from turngym.cli import app

    res = CliRunner().invoke(app, ["check-env", "Vault3-v0", "--env-arg", "rooms=6", "--fuzz", "20"])
    assert res.exit_code == 0, res.output
    bad = CliRunner().invoke(app, ["check-env", "Vault3-v0", "--env-arg", "roms=6", "--fuzz", "20"])
    assert bad.exit_code != 0 and "roms" in bad.output
