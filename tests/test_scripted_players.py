"""Scripted players have one registration, ``register(..., oracle=..., baselines=...)``, and every
lookup reads it; the removed ``register_oracle`` fails naming that form (issue 23, item 2)."""

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import turngym  # noqa: F401  (registers the built-in envs)
from envs.registry import family_oracle, oracle_for, register
from tests.arith_env import TASKS, ArithEnv
from tests.test_registry import _write_plugin
from tools import call
from turngym.cli import app

ROOT = Path(__file__).resolve().parent.parent
NEW_FORM = r"register_oracle was removed: pass oracle= to turngym\.register\(\.\.\.\)"


@pytest.mark.parametrize("module", ["agents", "agents.scripted", "envs", "envs.registry", "turngym"])
def test_register_oracle_is_gone_and_names_the_new_form(module):
    with pytest.raises(ImportError, match=NEW_FORM):
        exec(f"from {module} import register_oracle", {})
    with pytest.raises(ImportError, match=NEW_FORM):
        importlib.import_module(module).register_oracle("arith", lambda turn, info: "")
    assert not hasattr(importlib.import_module(module), "no_such_name")  # other names: a plain AttributeError


def test_a_plugin_in_the_old_form_fails_to_load_naming_the_new_form(tmp_path):
    for package, body in (("old_import_plugin", "from agents import register_oracle\n"),
                          ("old_call_plugin", "import agents\nagents.register_oracle('old', lambda turn, info: '')\n")):
        _write_plugin(tmp_path, package, body + "def register_all():\n    pass\n", f"{package} = {package}:register_all")
    code = textwrap.dedent("""
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import turngym
        for w in caught:
            print(w.message)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    for package in ("old_import_plugin", "old_call_plugin"):
        line = next((x for x in done.stdout.splitlines() if package in x), "")
        assert "register_oracle was removed: pass oracle= to turngym.register(...)" in line, done.stdout


class SumEnv(ArithEnv):
    family = "plugin-sum"

    def __init__(self, split="train", tasks=None, **kw):  # eval hands the registered task set: it is TASKS
        super().__init__(split=split, **kw)


def sum_plan(turn, info):
    return call("answer", value=int(info["answer"]))


def test_the_oracle_registered_with_the_env_plays_in_eval_and_by_family(tmp_path):
    register("PluginSum-v0", SumEnv, tasks=TASKS, oracle=sum_plan, override=True)
    assert oracle_for("PluginSum-v0") is sum_plan and family_oracle("plugin-sum") is sum_plan  # one source
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "PluginSum-v0", "--policy", "oracle", "--split", "train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["episodes"] == 4 and results["success_rate"] == 1.0
