"""Env ids, gymnasium.make, and third-party envs through the ``turngym.envs`` entry points."""

import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import turngym  # noqa: F401  (registers the built-in envs)
from envs.registry import env_id, register, registered

ROOT = Path(__file__).resolve().parent.parent


def test_env_id_normalizes_and_rejects_bad_ids():
    assert env_id("SQL-v0") == "turngym/SQL-v0"
    assert env_id("turngym/SQL-v0") == "turngym/SQL-v0"
    for bad in ["SQL", "other/SQL-v0", "SQL-v", "-v0", "SQL v0-v1"]:
        with pytest.raises(ValueError, match="turngym/Name-v0"):
            env_id(bad)


def test_builtin_sql_is_registered_with_gymnasium():
    assert "turngym/SQL-v0" in registered()
    assert "turngym/SQL-v0" in gym.registry


def test_register_twice_needs_override():
    register("Twice-v0", "envs.sql.env:SQLEnv")
    with pytest.raises(ValueError, match="already registered"):
        register("Twice-v0", "envs.sql.env:SQLEnv")
    register("Twice-v0", "envs.sql.env:SQLEnv", override=True)


def test_bad_entry_point_fails_fast():
    with pytest.raises(ValueError, match="entry_point"):
        register("Broken-v0", "no_colon_here")


def _write_plugin(root: Path, package: str, body: str, group_line: str) -> None:
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(textwrap.dedent(body))
    dist = root / f"{package}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[turngym.envs]\n{group_line}\n")


def test_third_party_env_registers_through_entry_points(tmp_path):
    _write_plugin(tmp_path, "echo_plugin", """
        import turngym
        from envs import ListTaskSet, Task, ToolEnv
        from tools import tool

        class EchoEnv(ToolEnv):
            family = "echo"
            def __init__(self, split="train", **kw):
                tasks = ListTaskSet([Task(id=f"e/{s}", split=s, prompt="say hi", answer="hi") for s in ("train", "val", "test")])
                super().__init__(tasks, split=split, **kw)
            @tool(ends_episode=True)
            def say(self, text: str) -> str:
                '''Say something.'''
                self.finish(float(text == self.task.answer))
                return "ok"

        def register_all():
            turngym.register("Echo-v0", EchoEnv, description="echo plugin")
    """, "echo = echo_plugin:register_all")
    _write_plugin(tmp_path, "broken_plugin", "raise RuntimeError('boom')\n", "broken = broken_plugin:nothing")
    code = textwrap.dedent("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import gymnasium as gym, turngym
        assert any("broken" in str(w.message) for w in caught), [str(w.message) for w in caught]
        env = gym.make("turngym/Echo-v0", split="test")
        obs, info = env.reset(seed=0)
        assert info["task_id"] == "e/test"
        *_, info = env.step('<tool_call>{"name": "say", "arguments": {"text": "hi"}}</tool_call>')
        assert info["success"] is True
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# ----- scripted players: oracles and baselines registered with the env ----------------------------
class ZeroPlayer:
    """A baseline that always answers 0 (it never sees the answer)."""

    name = "answer-zero"

    def act(self, messages, tools):
        from tools import call

        return call("answer", value=0)


def _arith_plan(turn, info):
    from tools import call

    return call("answer", value=int(info["answer"]))


def test_registered_oracle_and_baselines_are_found_through_the_env():
    import asyncio

    from agents import Episode, OraclePolicy, ScriptedPolicy, make_policy, rollout
    from agents.evaluation import summarize
    from tests.arith_env import TRAIN_IDS, ArithEnv

    register("ArithPlayers-v0", ArithEnv, oracle=_arith_plan, baselines={"answer-zero": ZeroPlayer}, override=True)
    oracle = make_policy("oracle", env="ArithPlayers-v0")
    assert isinstance(oracle, OraclePolicy) and oracle.plan is _arith_plan and oracle.privileged
    zero = make_policy("answer-zero")  # the one env that has it
    assert isinstance(zero, ScriptedPolicy) and zero.name == "answer-zero" and not zero.privileged
    eps = [Episode(task_id=t, seed=0) for t in TRAIN_IDS]
    by_oracle = asyncio.run(rollout(ArithEnv, oracle, eps))
    assert [len(t.turns) for t in by_oracle] == [1, 1, 1, 1] and summarize(by_oracle).success_rate == 1.0
    by_zero = asyncio.run(rollout(ArithEnv, zero, eps))
    assert [t.turns[0].info["answered"] for t in by_zero] == [0, 0, 0, 0] and summarize(by_zero).success_rate == 0.0


def test_unknown_or_missing_players_fail_fast_naming_what_exists():
    from agents import make_policy

    register("NoPlayers-v0", "tests.arith_env:ArithEnv", override=True)
    with pytest.raises(ValueError, match="turngym/NoPlayers-v0 registers no oracle"):
        make_policy("oracle", env="NoPlayers-v0")
    with pytest.raises(ValueError, match=r"unknown policy 'answer-only'.*turngym/Search-v0: answer-only, search-only"):
        make_policy("answer-only", env="NoPlayers-v0")
    with pytest.raises(ValueError, match="no env 'turngym/Nowhere-v0'"):
        make_policy("oracle", env="Nowhere-v0")
    with pytest.raises(ValueError, match="oracle must be 'module:attr' or a callable"):
        register("BadOracle-v0", "tests.arith_env:ArithEnv", oracle="no_colon")
    with pytest.raises(ValueError, match="baseline name 'random' is taken"):
        register("BadBaseline-v0", "tests.arith_env:ArithEnv", baselines={"random": ZeroPlayer})


def test_only_privileged_policies_are_handed_the_reset_info():
    from agents import Completion, OraclePolicy, RandomPolicy
    from tests.arith_env import episodes, run

    seen = {}

    def recording(cls):
        class Recording(cls):
            async def generate(self, requests, sampling):
                seen.setdefault(cls.__name__, []).extend(r.info for r in requests)
                if cls is OraclePolicy:
                    return await super().generate(requests, sampling)
                return [Completion(text="no call") for _ in requests]

        return Recording

    run(recording(OraclePolicy)(), episodes(["train1"]))
    run(recording(RandomPolicy)(seed=0), episodes(["train1"]))
    assert [info["answer"] for info in seen["OraclePolicy"]] == ["150", "150"]  # add, then answer
    assert seen["RandomPolicy"] == [{}] * 4  # max_turns=4 replies, none of them shown the answer


def test_list_sizes_come_from_the_registered_task_set_without_building_the_env():
    from envs.registry import task_set
    from tests.arith_env import TASKS

    def refuse(**kwargs):
        raise AssertionError("the env was constructed")

    register("TasksOnly-v0", refuse, tasks=lambda: TASKS, override=True)
    assert task_set("TasksOnly-v0").sizes() == {"train": 4, "val": 1, "test": 1}
