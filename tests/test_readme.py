"""The README's "register your own environment" example runs verbatim and stays short."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- example: register.*?-->\s*```python\n(.*?)```", text, re.DOTALL)
    assert m, "README lost its register example"
    return m.group(1)


def test_example_is_at_most_60_lines():
    assert len(readme_example().strip().splitlines()) <= 60


def test_example_runs_verbatim_in_a_fresh_interpreter(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_example_imports_no_agents():
    assert "agents" not in readme_example()


def test_example_env_passes_the_checker_cleanly_and_its_oracle_solves_it(tmp_path):
    script = tmp_path / "example_more.py"
    script.write_text(readme_example() + """
import asyncio
from agents import Episode, RandomPolicy, make_policy, rollout
from agents.evaluation import summarize
from envs.checker import check_multiturn
from envs.registry import task_set
results = check_multiturn(lambda: gym.make("turngym/Multiply-v0"))
assert all(r.ok for r in results), results
assert results[0].name == "gymnasium" and results[0].detail == "", results[0].detail  # no warning (render_fps)
assert task_set("Multiply-v0").sizes() == {"train": 2, "val": 1, "test": 1}
make = lambda: gym.make("turngym/Multiply-v0", split="train")
eps = [Episode(task_id=t, seed=0) for t in TASKS.ids("train")]
assert summarize(asyncio.run(rollout(make, make_policy("oracle", env="Multiply-v0"), eps))).success_rate == 1.0
assert summarize(asyncio.run(rollout(make, RandomPolicy(seed=1), eps))).success_rate == 0.0
""")
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
