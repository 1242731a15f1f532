"""Credit methods side by side: the same env, budget, SFT start, tasks, seeds and evaluation; one report.

``compare(config, methods, seeds, out)`` (``methods``: names, ``{name: settings}`` or a
:class:`trainers.compare_config.CompareConfig`; per-method settings in :mod:`trainers.compare_config`):

1. Every method's config is built and validated first (unknown methods, bad per-method settings, a
   method the env cannot give a signal for: an error naming the field before anything trains), and
   every run folder that already exists is checked against its planned config (below).
2. When ``config.sft`` is set, the supervised warm start runs once per seed (``train`` with
   ``steps=0``, the per-method fields at their defaults: SFT, then the held-out evaluation of the SFT
   model); the loop writes its weights to ``out/sft/seed<S>/model`` and every method of that seed
   starts RL from that model, so the methods differ only in the RL phase.
3. For every method and seed: ``trainers.loop.train`` with the method's config, ``seed=<S>``,
   ``out_dir=out/<method>/seed<S>``.
4. The report (:mod:`trainers.compare_report`): curves, final held-out success, the paired statistics
   against the baseline (:mod:`trainers.compare_stats`), episodes to a target per seed (censored when
   never reached), area under the val curve per run, and the manipulation checks
   (:mod:`trainers.compare_checks`).

Resume: each run folder holds the resolved ``config.yaml`` (written by the loop) and
``compare_run.json`` (its ``config_hash``).  A folder whose stored config differs from the planned
one is refused, naming every differing field (``out_dir`` aside; ``steps`` counts: a run is not
stretched to another budget); a matching finished run (``summary.json``) is reused, a matching
unfinished one resumes from its newest checkpoint (or restarts when it has none).  The same holds
for the shared SFT runs.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainers.compare_config import PER_METHOD, CompareConfig, as_compare_config, plan_methods
from trainers.compare_stats import censored_median, curve_auc, episodes_to_target, holm, paired_differences, paired_summary
from trainers.config import ConfigError, TrainConfig
from trainers.metrics import read_metrics

TIME_KEYS = {"rollout": ("time/rollout",), "signals": ("time/credit",), "train": ("time/train", "time/sync")}
MARKER = "compare_run.json"


class RunMismatch(ValueError):
    """A run folder holds a run of another config: compare neither reuses nor resumes it."""


def _train(config: TrainConfig, resume: bool, console=None) -> Path:
    from trainers.loop import train

    return train(config, resume=resume, console=console)


# -- run folders: hash-checked reuse and resume ---------------------------------------------------
def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": value}`` (lists and scalars are leaves)."""
    if not isinstance(data, Mapping) or (prefix and not data):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_diff(stored: Mapping[str, Any], planned: Mapping[str, Any], ignore: Sequence[str] = ("out_dir",)) -> list[str]:
    """``field (run: X, now: Y)`` for every dotted field whose value differs."""
    a, b = flatten(stored), flatten(planned)
    return [f"{k} (run: {a.get(k, '<unset>')!r}, now: {b.get(k, '<unset>')!r})"
            for k in sorted(set(a) | set(b)) if k not in ignore and a.get(k, "<unset>") != b.get(k, "<unset>")]


def own_sft_start(stored: Any, planned: Any, run: Path) -> bool:
    """Whether a run's stored start ``OLD/sft/seed<S>/model`` and the planned ``OUT/sft/seed<S>/model`` are
    both the SFT model of the compare folder the run lives in (``OUT/<method>/seed<S>``): a folder moved
    or copied whole (another machine, a study that reuses another's runs) keeps its runs.  Only when that
    SFT run is already finished: it is hash-checked in its own folder, and was not trained anew here."""
    if not (isinstance(stored, str) and isinstance(planned, str)):
        return False
    old, new = Path(stored).parts, Path(planned)
    return (len(old) >= 3 and old[-3:] == new.parts[-3:] and old[-3] == "sft" and new.parent.parent.parent == run.parent.parent
            and (new.parent / "summary.json").exists())  # that SFT run finished before: not one trained anew here


def run_state(run: Path, config: TrainConfig) -> str:
    """``"fresh"``, ``"resume"`` or ``"done"`` for ``run`` under ``config``; :class:`RunMismatch` naming
    the differing fields when the folder holds a run of another config."""
    import yaml

    stored = run / "config.yaml"
    marker = run / MARKER
    if stored.exists():
        planned = config.model_dump(mode="json")
        found = yaml.safe_load(stored.read_text(encoding="utf-8")) or {}
        if own_sft_start(found.get("model"), planned.get("model"), run):
            found["model"] = planned["model"]  # a moved or copied compare folder: the same start, its own copy
        diff = config_diff(found, planned)
        if diff:
            raise RunMismatch(f"{run} holds a run of another config; differing fields: {'; '.join(diff)}. "
                              "Delete the folder or choose another --out (compare does not mix configs)")
    elif marker.exists():
        found = json.loads(marker.read_text()).get("config_hash")
        if found != config.config_hash():
            raise RunMismatch(f"{run} holds a run of another config (config_hash {found}, now {config.config_hash()}; "
                              "no config.yaml to name the fields); delete the folder or choose another --out")
    elif (run / "checkpoints").exists():
        raise RunMismatch(f"{run} holds checkpoints but no config.yaml; delete the folder or choose another --out")
    if (run / "summary.json").exists():
        return "done"
    has_checkpoint = (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir())
    return "resume" if has_checkpoint else "fresh"


def ensure_run(config: TrainConfig, console=None) -> tuple[str, float | None]:
    """Train, resume or reuse the run of ``config`` (in ``config.out_dir``); (what was done, wall s of a fresh run)."""
    run = Path(config.out_dir)
    state = run_state(run, config)
    if state == "done":
        return state, None
    run.mkdir(parents=True, exist_ok=True)
    (run / MARKER).write_text(json.dumps({"config_hash": config.config_hash(), "steps": config.steps}))
    t0 = time.perf_counter()
    _train(config, resume=state == "resume", console=console)
    return state, (time.perf_counter() - t0 if state == "fresh" else None)


def _update(config: TrainConfig, **updates: Any) -> TrainConfig:
    return config.model_copy(update=updates)  # seed, out_dir, model (a folder that may not exist yet) and sft: no re-validation


def sft_config(config: TrainConfig, seed: int, out: Path) -> TrainConfig:
    """The shared SFT run of ``seed``: no RL steps, the per-method fields at their defaults."""
    defaults = TrainConfig.model_fields
    return _update(config, steps=0, seed=seed, out_dir=str(out / "sft" / f"seed{seed}"),
                   **{k: defaults[k].get_default(call_default_factory=True) for k in PER_METHOD})


def shared_sft(config: TrainConfig, seed: int, out: Path, console=None) -> tuple[Path | None, float | None]:
    """Train (or reuse, when its config matches) the SFT warm start of ``seed``; (model folder, its held-out success)."""
    if config.sft is None:
        return None, None
    cfg = sft_config(config, seed, out)
    run = Path(cfg.out_dir)
    ensure_run(cfg, console)
    model_dir = run / "model"
    if not (model_dir / "config.json").exists():
        raise RuntimeError(f"the SFT run {run} left no model folder {model_dir}")
    results = run / "eval_sft" / "results.json"
    return model_dir, (json.loads(results.read_text())["success_rate"] if results.exists() else None)


def run_config(config: TrainConfig, method: str, seed: int, out: Path, model_dir: Path | None) -> TrainConfig:
    updates: dict[str, Any] = {"seed": seed, "out_dir": str(out / method / f"seed{seed}")}
    if model_dir is not None:
        updates.update(model=str(model_dir), sft=None)  # the merged SFT model; a LoRA config gets a fresh adapter on it
    return _update(config, **updates)


def run_one(config: TrainConfig, method: str, seed: int, out: Path, model_dir: Path | None, console=None) -> dict[str, Any]:
    """Train (resume, reuse) one method's run of ``seed``; its summary with the manipulation checks."""
    from trainers.compare_checks import run_checks

    cfg = run_config(config, method, seed, out, model_dir)
    state, wall = ensure_run(cfg, console)
    summary = summarize_run(Path(cfg.out_dir), wall if wall is not None and wall > 1.0 else None)
    summary.update(method=method, seed=seed, config_hash=cfg.config_hash(), state=state,
                   checks=run_checks(Path(cfg.out_dir), gain=str(cfg.credit_kwargs.get("gain", "prob"))))
    return summary


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
    behaviour = (summary.get("test") or {}).get("env_metrics") or {}  # the env's own metrics (ToolEnv.episode_metrics)
    return {"run": str(run), "episodes": episodes, "curve": curve, "test_success": test, "test_env_metrics": behaviour,
            "time": times, "wall": wall}


# -- the report's numbers -----------------------------------------------------------------------
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
    return episodes_to_target([(e, m) for e, m, *_ in curve], target)


def _mean_metrics(per_run: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the runs that report it (NaN values left out)."""
    names = sorted({k for m in per_run for k in m})
    values = {k: [m[k] for m in per_run if k in m and m[k] == m[k]] for k in names}
    return {k: statistics.fmean(v) for k, v in values.items() if v}


def _seed_of(run: dict[str, Any], index: int) -> int:
    return int(run.get("seed", index))


def build_report(results: dict[str, list[dict[str, Any]]], sft_success: dict[int, float | None], baseline: str = "grpo",
                 target: float | None = None, resamples: int = 10_000, ci_seed: int = 0) -> dict[str, Any]:
    """Per method: the curve, final held-out success, per-seed episodes to ``target`` (default: the
    baseline's final mean val success), AUC per run and checks; per method against the baseline: the
    per-seed differences of final held-out success, their mean, bootstrap CI, sign-flip p and Holm p."""
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
            "test_env_metrics": _mean_metrics([r.get("test_env_metrics") or {} for r in runs]),
        }
    baseline_final = methods[baseline]["curve"][-1][1] if baseline in methods and methods[baseline]["curve"] else None
    goal = target if target is not None else baseline_final
    for method, m in methods.items():
        need = episodes_to_reach(m["curve"], baseline_final) if baseline_final is not None else None
        m["episodes_to_baseline_final"] = need
        m["share_of_budget"] = need / m["episodes"] if need is not None and m["episodes"] else None
        per_seed = {}
        for i, r in enumerate(results[method]):
            reached = episodes_to_target(r["curve"], goal) if goal is not None else None
            per_seed[str(_seed_of(r, i))] = {
                "test_success": r["test_success"], "episodes_to_target": reached, "censored": reached is None,
                "budget": r["episodes"], "auc": curve_auc(r["curve"]), "checks": r.get("checks"),
                "config_hash": r.get("config_hash"), "state": r.get("state"), "env_metrics": r.get("test_env_metrics") or {},
            }
        m["per_seed"] = per_seed
        m["episodes_to_target_median"] = censored_median([s["episodes_to_target"] for s in per_seed.values()]) if goal is not None else None
        m["reached_target"] = sum(not s["censored"] for s in per_seed.values()) if goal is not None else None
        aucs = [s["auc"] for s in per_seed.values() if s["auc"] is not None]
        m["auc_mean"] = statistics.fmean(aucs) if aucs else None
    def against(runs: list[dict[str, Any]], reference: dict[int, float | None]) -> dict[str, Any]:
        """Per-seed differences of final held-out success from ``reference`` (by seed) and their summary."""
        diffs = paired_differences({_seed_of(r, i): r["test_success"] for i, r in enumerate(runs)}, reference)
        return {"diffs": {str(s): d for s, d in diffs.items()}, **paired_summary(list(diffs.values()), resamples=resamples, seed=ci_seed)}

    paired = {}
    if baseline in results:
        base = {_seed_of(r, i): r["test_success"] for i, r in enumerate(results[baseline])}
        paired = {method: against(runs, base) for method, runs in results.items() if method != baseline}
        tested = [m for m in paired if paired[m]["p"] is not None]
        for m, p in zip(tested, holm([paired[m]["p"] for m in tested])):
            paired[m]["p_holm"] = p
    # What RL added to its warm start: each run against the SFT model it started from (same seed).
    starts = {int(s): v for s, v in sft_success.items() if v is not None}
    over_sft = {method: against(runs, starts) for method, runs in results.items()} if starts else {}
    return {"baseline": baseline, "baseline_final_val": baseline_final, "target": goal,
            "target_source": "given" if target is not None else f"{baseline}'s final mean val success",
            "bootstrap_resamples": resamples, "sft_test_success": sft_success, "methods": methods, "paired": paired,
            "over_sft": over_sft}


PLAN_FILE = "plan.json"


def fix_plan(out: Path, plan: str | None) -> dict[str, str] | None:
    """Pre-registration.  The first compare into ``out`` given a plan writes it, with the time, to
    ``OUT/plan.json`` before any run trains; a later call (a resume, more seeds) must give the same
    plan or none.  A plan first given to a folder that already holds runs is refused: it was not
    written before them.  Returns the fixed plan (``{"text", "fixed_at"}``), or None."""
    path = out / PLAN_FILE
    stored = json.loads(path.read_text()) if path.exists() else None
    if plan is None or not plan.strip():
        return stored
    text = plan.strip()
    if stored is not None:
        if stored["text"] != text:
            raise ConfigError(f"compare.plan: differs from the plan fixed in {path} at {stored['fixed_at']}; "
                              "a plan is fixed before the runs (report into a new --out to change it)")
        return stored
    ran = sorted(str(c.parent.relative_to(out)) for c in out.glob("*/seed*/config.yaml")) if out.is_dir() else []
    if ran:
        raise ConfigError(f"compare.plan: {out} already holds runs ({', '.join(ran[:3])}{', ...' if len(ran) > 3 else ''}) "
                          "without a plan; a plan written after them is not a plan (report into a new --out)")
    out.mkdir(parents=True, exist_ok=True)
    fixed = {"text": text, "fixed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(fixed, indent=2) + "\n")
    return fixed


def compare(config: TrainConfig, methods: Sequence[str] | Mapping[str, Any] | CompareConfig, seeds: int | None = None,
            out: str | Path = "runs/compare", console=None) -> Path:
    """Train every method on every seed (reusing and resuming what matches), then write the report into ``out``."""
    cmp = as_compare_config(methods, seeds)
    plans = plan_methods(config, cmp)
    out = Path(out)
    seed_list = [config.seed + k for k in range(cmp.seeds)]
    for seed in seed_list:  # refuse a mismatching folder before anything trains
        model_dir = out / "sft" / f"seed{seed}" / "model" if config.sft is not None else None
        if config.sft is not None:
            run_state(out / "sft" / f"seed{seed}", sft_config(config, seed, out))
        for method, cfg in plans.items():
            run_state(out / method / f"seed{seed}", run_config(cfg, method, seed, out, model_dir))
    plan = fix_plan(out, cmp.plan)  # before anything trains
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in plans}
    sft_success: dict[int, float | None] = {}
    for seed in seed_list:
        model_dir, sft_success[seed] = shared_sft(config, seed, out, console)
        for method, cfg in plans.items():
            if console:
                console.print(f"[bold]compare:[/] {method}, seed {seed}")
            results[method].append(run_one(cfg, method, seed, out, model_dir, console))
    report = build_report(results, sft_success, baseline=cmp.baseline_name(), target=cmp.target,
                          resamples=cmp.bootstrap, ci_seed=cmp.ci_seed)
    report.update(plan=plan, env=config.env, model=config.model, steps=config.steps, episodes_per_step=config.tasks_per_step * config.group_size,
                  eval_split=config.eval_split, eval_tasks=config.eval_tasks, test_split=config.test_split, test_tasks=config.test_tasks,
                  settings={m: {"credit_kwargs": c.credit_kwargs, "loss": c.loss.model_dump(mode="json"),
                                "dynamic_sampling": c.dynamic_sampling} for m, c in plans.items()})
    from trainers.compare_report import write_report

    write_report(report, out)
    return out
