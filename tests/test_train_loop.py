"""The training loop end to end on Lookup-v0 with the tiny model: run folder, eval files, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.evaluation import Summary  # noqa: E402
from trainers.config import load_config  # noqa: E402
from trainers.metrics import MetricsLog, plot_curves, read_metrics  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["steps=4", "tasks_per_step=2", "group_size=4", "eval_every=2", "eval_tasks=3", "test_tasks=4", "checkpoint_every=1",
         "max_turns=3", "sampling.max_tokens=33", "sft.steps=3", "sft.max_tasks=40", "sft.batch_size=4", "micro_batch=8",
         "credit=empg"]  # EMPG's entropy bonus moves the weights even while every reward is still 0
TIMING = ("time/", "_per_s", "seconds")


def test_metrics_log_truncates_on_resume_and_plots(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=False)
    for step in range(1, 5):
        log.log(step, {"reward": step / 4, "success": float(step > 2), "time/rollout": 0.5})
    log.truncate(2)
    log.log(3, {"reward": 0.3})
    assert [(r["step"], r["reward"]) for r in read_metrics(tmp_path)] == [(1, 0.25), (2, 0.5), (3, 0.3)]
    png = plot_curves(tmp_path)
    assert png == tmp_path / "curves.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _config(tmp_path: Path, name: str) -> Path:
    cfg = load_config(preset="demo", overrides=[*SMALL, f"out_dir={tmp_path / name}"])
    return cfg.dump(tmp_path / f"{name}.yaml")


def _run(config: Path, *extra: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainers.loop", str(config), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not any(t in k for t in TIMING)} for r in rows]


@pytest.mark.slow
def test_run_killed_mid_way_resumes_to_the_same_metrics(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    straight = _run(_config(tmp_path, "straight"), env=env)
    _, err = straight.communicate(timeout=900)
    assert straight.returncode == 0, err[-3000:]

    killed_cfg = _config(tmp_path, "killed")
    proc = _run(killed_cfg, env=env)
    marker = tmp_path / "killed" / "checkpoints" / "step_2" / "manifest.json"
    deadline = time.monotonic() + 900
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(read_metrics(tmp_path / "killed")) < 5  # it really stopped part-way (rows: step 0's evaluation, then steps)

    resumed = _run(killed_cfg, "--resume", env=env)
    _, err = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, err[-3000:]

    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "killed")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [0, 1, 2, 3, 4]  # 0: the evaluation before RL
    assert set(a[0]) == {"step", "episodes"} | {k for k in a[2] if k.startswith("val/")}
    assert _comparable(a) == _comparable(b)
    a, b = a[1:], b[1:]
    assert all(r["grad_norm"] > 0 for r in a)  # the optimizer really stepped: its state had to be restored
    assert [r["policy_version"] for r in b] == [2, 3, 4, 5]  # SFT's push is version 1, then one per step
    test_a = json.loads((tmp_path / "straight" / "test" / "results.json").read_text())
    test_b = json.loads((tmp_path / "killed" / "test" / "results.json").read_text())
    assert test_a == test_b
    assert set(test_a) == {"env", "split", "policy", *Summary.model_fields}  # what `turngym eval` writes
    assert (test_a["env"], test_a["split"], test_a["episodes"]) == ("turngym/Lookup-v0", "test", 4)
    for name in ("config.yaml", "curves.png", "summary.json", "sft.jsonl", "eval_sft/results.json", "test/trajectories.jsonl"):
        assert (tmp_path / "killed" / name).exists(), name
