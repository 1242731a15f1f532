"""Credit methods side by side: the same env, budget (episodes) and seeds for each, one report.

``compare(config, methods, seeds, out)``:

1. When ``config.sft`` is set, the supervised warm start runs once per seed (``train`` with
   ``steps=0``: SFT, then the held-out evaluation of the SFT model) and its weights are written to
   ``out/sft/seed<S>/model``; every method of that seed starts RL from that same model, so the
   methods differ only in the RL phase.
2. For every method and seed: ``trainers.loop.train`` with ``credit=<method>`` (its
   ``credit_kwargs`` only if the method is the config's own), ``seed=<S>``,
   ``out_dir=out/<method>/seed<S>``; everything else (env, steps, tasks × group = episodes per
   step, evaluation cadence) as the config says.
3. The report (``out/report.md``, ``report.json``, ``curves.png``, ``curves.html``): held-out
   success vs episodes (the ``eval_split`` evaluations every ``eval_every`` steps, mean over seeds,
   shaded min-max), final held-out success on ``test_split`` (mean ± sample std over seeds, and
   the min-max spread), the episodes each method needed for its mean curve to reach GRPO's final
   mean ``eval_split`` success (and that as a share of the budget), and wall time per method split
   into rollout / signals+credit / train (+ weight sync) / evaluation and the rest.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainers.config import TrainConfig, validate_config
from trainers.metrics import read_metrics

TIME_KEYS = {"rollout": ("time/rollout",), "signals": ("time/credit",), "train": ("time/train", "time/sync")}


def _variant(config: TrainConfig, **updates: Any) -> TrainConfig:
    data = config.model_dump(mode="json")
    data.update(updates)
    return validate_config(data)


def shared_sft(config: TrainConfig, seed: int, out: Path, console=None) -> tuple[Path | None, float | None]:
    """Train the SFT warm start of ``seed`` once; (model folder, its held-out success) or (None, None)."""
    if config.sft is None:
        return None, None
    from trainers.checkpoint import load_latest
    from trainers.learner import Learner
    from trainers.loop import train

    run = out / "sft" / f"seed{seed}"
    model_dir = run / "model"
    if not (model_dir / "config.json").exists():
        train(_variant(config, steps=0, seed=seed, out_dir=str(run), credit="grpo", credit_kwargs={}), console=console)
        learner = Learner(config.model, device="cpu", lora=config.lora, seed=seed)
        if load_latest(run, learner) is None:
            raise RuntimeError(f"the SFT run {run} left no checkpoint")
        learner.save_weights(model_dir)
    results = run / "eval_sft" / "results.json"
    return model_dir, (json.loads(results.read_text())["success_rate"] if results.exists() else None)


def run_one(config: TrainConfig, method: str, seed: int, out: Path, model_dir: Path | None, console=None) -> dict[str, Any]:
    from trainers.loop import train

    run = out / method / f"seed{seed}"
    updates: dict[str, Any] = {"credit": method, "credit_kwargs": config.credit_kwargs if method == config.credit else {},
                               "seed": seed, "out_dir": str(run)}
    if model_dir is not None:
        updates.update(model=str(model_dir), sft=None)  # the merged SFT model; a LoRA config gets a fresh adapter on it
    summary = run / "summary.json"
    t0 = time.perf_counter()
    if not summary.exists():  # a finished run is reused: compare can be re-run after an interruption
        train(_variant(config, **updates), console=console)
    wall = time.perf_counter() - t0
    return summarize_run(run, wall if wall > 1.0 else None)


def summarize_run(run: Path, wall: float | None = None) -> dict[str, Any]:
    rows = read_metrics(run)
    episodes, curve = 0, []
    times = dict.fromkeys(TIME_KEYS, 0.0)
    for row in rows:
        episodes += int(row.get("episodes", 0))
        if "val/success_rate" in row:
            curve.append((episodes, float(row["val/success_rate"])))
        for name, keys in TIME_KEYS.items():
            times[name] += sum(float(row.get(k, 0.0)) for k in keys)
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    test = (summary.get("test") or {}).get("success_rate")
    if wall is None:
        wall = (run / "summary.json").stat().st_mtime - (run / "config.yaml").stat().st_mtime if summary else sum(times.values())
    times["eval_and_other"] = max(0.0, wall - sum(times.values()))
    return {"run": str(run), "episodes": episodes, "curve": curve, "test_success": test, "time": times, "wall": wall}


def mean_curve(curves: Sequence[Sequence[tuple[int, float]]]) -> list[tuple[int, float, float, float]]:
    """(episodes, mean, min, max) at the evaluation points all seeds share."""
    if not curves:
        return []
    points = sorted(set.intersection(*(set(e for e, _ in c) for c in curves)))
    out = []
    for e in points:
        vals = [v for c in curves for ep, v in c if ep == e]
        out.append((e, statistics.fmean(vals), min(vals), max(vals)))
    return out


def episodes_to_reach(curve: Sequence[tuple[int, float, float, float]], target: float) -> int | None:
    for e, m, _, _ in curve:
        if m >= target - 1e-9:
            return e
    return None


def build_report(results: dict[str, list[dict[str, Any]]], sft_success: dict[int, float | None], baseline: str = "grpo") -> dict[str, Any]:
    methods = {}
    for method, runs in results.items():
        finals = [r["test_success"] for r in runs if r["test_success"] is not None]
        curve = mean_curve([r["curve"] for r in runs])
        methods[method] = {
            "seeds": len(runs), "test_success": finals,
            "test_mean": statistics.fmean(finals) if finals else None,
            "test_std": statistics.stdev(finals) if len(finals) > 1 else 0.0 if finals else None,
            "test_spread": (min(finals), max(finals)) if finals else None,
            "episodes": max((r["episodes"] for r in runs), default=0), "curve": curve,
            "time": {k: statistics.fmean(r["time"][k] for r in runs) for k in runs[0]["time"]} if runs else {},
            "wall": statistics.fmean(r["wall"] for r in runs) if runs else 0.0,
        }
    target = None
    if baseline in methods and methods[baseline]["curve"]:
        target = methods[baseline]["curve"][-1][1]
    for m in methods.values():
        need = episodes_to_reach(m["curve"], target) if target is not None else None
        m["episodes_to_baseline_final"] = need
        m["share_of_budget"] = need / m["episodes"] if need is not None and m["episodes"] else None
    return {"baseline": baseline, "baseline_final_val": target, "sft_test_success": sft_success, "methods": methods}


def compare(config: TrainConfig, methods: Sequence[str], seeds: int, out: str | Path, console=None) -> Path:
    from trainers.credit import credit_methods

    unknown = [m for m in methods if m not in credit_methods()]
    if unknown:
        raise ValueError(f"methods: unknown credit methods {unknown}; known: {credit_methods()}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not config.eval_every:
        raise ValueError("eval_every: must be > 0 for learning curves (held-out success vs episodes)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    sft_success: dict[int, float | None] = {}
    for k in range(seeds):
        seed = config.seed + k
        model_dir, sft_success[seed] = shared_sft(config, seed, out, console)
        for method in methods:
            if console:
                console.print(f"[bold]compare:[/] {method}, seed {seed}")
            results[method].append(run_one(config, method, seed, out, model_dir, console))
    report = build_report(results, sft_success, baseline="grpo" if "grpo" in methods else methods[0])
    report.update(env=config.env, model=config.model, steps=config.steps, episodes_per_step=config.tasks_per_step * config.group_size,
                  eval_split=config.eval_split, eval_tasks=config.eval_tasks, test_split=config.test_split, test_tasks=config.test_tasks)
    from trainers.compare_report import write_report

    write_report(report, out)
    return out
