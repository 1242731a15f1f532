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
