"""Learning on a real family: SmolLM2-135M-Instruct, held-out test success before training, after SFT
on the oracle's train trajectories, and after a short GRPO run.

    .venv/bin/python bench/learn.py --preset smollm2-sql --test-tasks 40 --sft-steps 60 --rl-steps 10

Two runs of ``trainers.loop.train`` under ``--out``: ``base`` (no SFT, 0 RL steps: just the held-out
evaluation of the untouched model; a finished one that evaluated the same way is reused) and ``trained``
(SFT, then RL).  Prints the three success
rates with their standard errors and the RL run's mean seconds per step and time split.  On a
2-core CPU this is slow (SmolLM2's GRPO step is minutes there): keep it small, or use a GPU
(``--set device=cuda --set rollout=hf``).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import yaml

from trainers.config import load_config
from trainers.loop import train
from trainers.metrics import read_metrics


def stderr(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n else 0.0


# what the base model's held-out evaluation depends on; training-only fields (optimizer, batch sizes) do not matter
EVAL_FIELDS = ("env", "test_split", "model", "rollout", "sampling", "max_turns", "test_tasks", "eval_temperature",
               "seed", "device", "dtype")


def _finished(run: Path, config) -> bool:
    """Whether ``run`` holds a finished evaluation equivalent to ``config``'s (same EVAL_FIELDS)."""
    saved = run / "config.yaml"
    if not ((run / "summary.json").exists() and saved.exists()):
        return False
    before = type(config).model_validate(yaml.safe_load(saved.read_text()))
    return all(getattr(before, f) == getattr(config, f) for f in EVAL_FIELDS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smollm2-sql")
    ap.add_argument("--test-tasks", type=int, default=40)
    ap.add_argument("--sft-steps", type=int, default=60)
    ap.add_argument("--rl-steps", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-learn"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra key=value config overrides")
    args = ap.parse_args()
    common = [f"test_tasks={args.test_tasks}", "eval_every=0", "checkpoint_every=0", *args.overrides]
    base_cfg = load_config(preset=args.preset, overrides=[*common, "sft=null", "steps=0", f"out_dir={args.out / 'base'}"])
    base_dir, base_s = args.out / "base", 0.0
    if _finished(base_dir, base_cfg):  # the untouched model's evaluation is slow and does not change: reuse it
        print(f"reusing the base model's evaluation in {base_dir}")
    else:
        shutil.rmtree(base_dir, ignore_errors=True)
        began = time.perf_counter()
        train(base_cfg)
        base_s = time.perf_counter() - began
    shutil.rmtree(args.out / "trained", ignore_errors=True)
    began = time.perf_counter()
    trained = train(load_config(preset=args.preset, overrides=[
        *common, f"sft.steps={args.sft_steps}", f"steps={args.rl_steps}", f"out_dir={args.out / 'trained'}"]))
    trained_s = time.perf_counter() - began
    base = json.loads((base_dir / "summary.json").read_text())["test"]
    summary = json.loads((trained / "summary.json").read_text())
    rows = [("base model", base), (f"after SFT ({args.sft_steps} steps)", summary["sft_test"]),
            (f"after SFT + RL ({args.rl_steps} steps)", summary["test"])]
    print(f"\n{args.preset}: held-out {base['split']} success ({base['env']}, {args.test_tasks} tasks, greedy)")
    for name, res in rows:
        p, n = res["success_rate"], res["episodes"] - res["failed"]
        print(f"  {name:<28} {p:6.3f} ± {stderr(p, n):.3f}   mean reward {res['mean_reward']:.3f}  failed {res['failed']}")
    steps = read_metrics(trained)
    if steps:
        mean = lambda k: sum(r.get(k, 0.0) for r in steps) / len(steps)  # noqa: E731
        total = sum(mean(k) for k in ("time/rollout", "time/credit", "time/train", "time/sync"))
        print(f"  RL: {total:.1f} s/step = rollout {mean('time/rollout'):.1f} + credit {mean('time/credit'):.2f} "
              f"+ train {mean('time/train'):.1f} + sync {mean('time/sync'):.2f}; rollout {mean('rollout_tokens_per_s'):.0f} tok/s")
    print(f"  wall: base run {base_s:.0f} s, SFT+RL run {trained_s:.0f} s (shared CPU: noisy)")


if __name__ == "__main__":
    main()
