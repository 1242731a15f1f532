"""The comparison report's files: ``report.json``, ``report.md``, ``curves.png`` and ``curves.html``.

``report.md`` holds the summary table, then the paired comparison with the baseline (per-seed
differences of final held-out success, their mean, bootstrap 95 % CI, exact sign-flip p and Holm p),
episodes to the target per seed (``> budget`` when never reached: censored, not dropped), the area
under each run's val curve, the manipulation checks per run and each method's settings.

``curves.html`` draws the curves as inline SVG (no script, no CDN) and repeats the table, so it
opens from disk anywhere; ``curves.png`` is the same figure from matplotlib (Agg backend).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, m in report["methods"].items():
        spread = m["test_spread"]
        t = m["time"]
        rows.append([
            name, str(m["seeds"]),
            "n/a" if m["test_mean"] is None else f"{100 * m['test_mean']:.1f} ± {100 * m['test_std']:.1f}",
            "n/a" if spread is None else f"{100 * spread[0]:.1f}–{100 * spread[1]:.1f}",
            "not reached" if m["episodes_to_baseline_final"] is None else f"{m['episodes_to_baseline_final']} ({_pct(m['share_of_budget'])})",
            str(m["episodes"]),
            " / ".join(f"{t.get(k, 0.0):.0f}" for k in ("rollout", "signals", "train", "eval_and_other")), f"{m['wall']:.0f}",
        ])
    return rows


HEADER = ["method", "seeds", "final held-out success % (mean ± std)", "min–max %", "episodes to reach the baseline's final val success",
          "budget (episodes)", "time s: rollout / signals+credit / train / eval+other", "wall s"]


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _difference_row(name: str, p: dict[str, Any]) -> list[str]:
    """method, Δ per seed, mean Δ, 95 % CI, p: one paired comparison (``trainers.compare.build_report``'s)."""
    return [name, ", ".join(f"{s}: {_pp(d)}" for s, d in p["diffs"].items()) or "n/a", _pp(p["mean"]),
            "n/a" if p["ci_low"] is None else f"[{_pp(p['ci_low'])}, {_pp(p['ci_high'])}]", _num(p["p"])]


def paired_lines(report: dict[str, Any]) -> list[str]:
    paired = report.get("paired") or {}
    if not paired:
        return []
    n = max((p["n"] for p in paired.values()), default=0)
    rows = [[*_difference_row(name, p), _num(p.get("p_holm"))] for name, p in paired.items()]
    return ["", f"## Paired against {report['baseline']}: final held-out {report.get('test_split', 'test')} success",
            "", f"Per seed: method − {report['baseline']} in points; mean with a percentile bootstrap 95 % CI "
            f"({report.get('bootstrap_resamples', 10000)} seeded resamples); p: exact two-sided sign-flip permutation test "
            f"(all 2^n flips; with n = {n} seeds no p is below {2 / 2 ** n if n else 1:.3f}); Holm: adjusted across methods.", ""] + \
        _table(["method", "Δ per seed (points)", "mean Δ", "95 % CI", "p", "p (Holm)"], rows)


def over_sft_lines(report: dict[str, Any]) -> list[str]:
    """Each method against its own SFT warm start (the same seed's): did RL raise held-out success at all?"""
    over = report.get("over_sft") or {}
    if not over:
        return []
    rows = [_difference_row(name, p) for name, p in over.items()]
    return ["", f"## Against the SFT warm start: final held-out {report.get('test_split', 'test')} success", "",
            "Per seed: the method's run − the SFT model it started from, in points; CI and p as above (not Holm-adjusted).", ""] + \
        _table(["method", "Δ per seed (points)", "mean Δ", "95 % CI", "p"], rows)


def behaviour_lines(report: dict[str, Any]) -> list[str]:
    """The env's own held-out metrics (e.g. Vault's junction accuracy): mean over seeds, then per seed."""
    names = sorted({k for m in report["methods"].values() for k in m.get("test_env_metrics") or {}})
    if not names:
        return []
    rows = [[method, name, _num(m["test_env_metrics"].get(name)),
             ", ".join(f"{s}: {_num(v.get('env_metrics', {}).get(name))}" for s, v in m.get("per_seed", {}).items())]
            for method, m in report["methods"].items() for name in names]
    return ["", f"## Held-out behaviour: the env's own metrics on {report.get('test_split', 'test')}", ""] + \
        _table(["method", "metric", "mean", "per seed"], rows)


def per_seed_lines(report: dict[str, Any]) -> list[str]:
    if not any(m.get("per_seed") for m in report["methods"].values()):
        return []
    rows, checks = [], []
    for name, m in report["methods"].items():
        seeds = m["per_seed"]
        rows.append([name, ", ".join(f"{s}: {'> ' + str(v['budget']) if v['censored'] else v['episodes_to_target']}" for s, v in seeds.items()),
                     f"{m['reached_target']}/{len(seeds)}",
                     "> budget" if m["episodes_to_target_median"] is None else f"{m['episodes_to_target_median']:.0f}",
                     ", ".join(f"{s}: {_num(v['auc'])}" for s, v in seeds.items()), _num(m["auc_mean"])])
        for s, v in seeds.items():
            c = v.get("checks") or {}
            checks.append([name, s, _pct(c.get("equal_outcome_share")), _pct(c.get("anchor_share")), _pct(c.get("anchor_diverse_share")),
                           "n/a" if c.get("igpo_auc") is None else f"{c['igpo_auc']:.3f} ({c['igpo_turns']} turns)",
                           _num(c.get("igpo_mean_abs_gain"), ".2e"), str(v.get("config_hash") or "n/a")])
    target = report.get("target")
    return ["", f"## Episodes to reach {_pct(target)} {report.get('eval_split', 'val')} success ({report.get('target_source', '')}) and area under the curve",
            "", "Per seed: the first evaluation at or above the target; `> budget`: never reached (censored, counted as +∞ "
            "in the median). AUC: the area under the run's val curve over its episodes (its mean val success).", ""] + \
        _table(["method", "episodes to target per seed", "reached", "median", "AUC per seed", "mean AUC"], rows) + \
        ["", "## Manipulation checks (per run, from its saved rollouts)", "",
         "equal outcomes: groups whose samples all earned the same return (dropped ones included); anchor ≥ 2: decision turns "
         "in a GiGPO anchor group (same state_key within a task's group) of two or more; diverse: of those groups, ones with "
         "different actions; IGPO AUC: information-gain turn rewards (turns 1..T−1) of the first step's rollouts (the SFT "
         "model's) against the episode's success (0.5: no separation); abs gain: their mean magnitude.", ""] + \
        _table(["method", "seed", "equal outcomes", "anchor ≥ 2", "diverse anchors", "IGPO AUC", "mean abs gain", "config hash"], checks)


def settings_lines(report: dict[str, Any]) -> list[str]:
    settings = report.get("settings") or {}
    if not settings:
        return []
    return ["", "## Per-method settings (everything else is the same for all)", ""] + \
        [f"- {m}: credit_kwargs {json.dumps(s['credit_kwargs'])}; loss agg {s['loss']['agg']}"
         f"{' / ' + str(s['loss']['agg_constant']) if s['loss'].get('agg_constant') else ''}; dynamic_sampling {s['dynamic_sampling']}"
         for m, s in settings.items()]


def plan_lines(report: dict[str, Any]) -> list[str]:
    plan = report.get("plan")
    if not plan:
        return ["No plan was fixed before these runs (`compare.plan`): read the results as exploratory.", ""]
    return [f"## Plan (fixed before the runs, {plan['fixed_at']})", "", plan["text"], "", "## Results", ""]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Credit methods on {report['env']} ({report['model']})", "",
             f"{report['steps']} RL steps × {report['episodes_per_step']} episodes per step; held-out {report['test_split']} success on "
             f"{report['test_tasks'] or 'all'} tasks at the end; curves: {report['eval_split']} success on {report['eval_tasks'] or 'all'} tasks. "
             f"Baseline {report['baseline']}'s final mean {report['eval_split']} success: {_pct(report['baseline_final_val'])}. "
             f"SFT warm start held-out success per seed: {json.dumps(report['sft_test_success'])}.", "",
             *plan_lines(report), "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(report)]
    lines += ["", "Curves (episodes: mean success over seeds):"]
    for name, m in report["methods"].items():
        lines.append(f"- {name}: " + ", ".join(f"{e}: {100 * v:.1f}%" for e, v, _, _ in m["curve"]))
    lines += paired_lines(report) + over_sft_lines(report) + behaviour_lines(report) + per_seed_lines(report) + settings_lines(report)
    return "\n".join(lines) + "\n"


def svg_curves(report: dict[str, Any], width: int = 720, height: int = 360) -> str:
    pad = 48
    xs = [e for m in report["methods"].values() for e, *_ in m["curve"]] or [1]
    xmax = max(xs) or 1
    def px(e: float) -> float:
        return pad + (width - 2 * pad) * e / xmax
    def py(v: float) -> float:
        return height - pad - (height - 2 * pad) * v
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<line x1="{pad}" y1="{py(0)}" x2="{width - pad}" y2="{py(0)}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{py(0)}" x2="{pad}" y2="{py(1)}" stroke="#333"/>']
    for k in range(0, 11, 2):
        v = k / 10
        parts.append(f'<text x="{pad - 6}" y="{py(v) + 4}" text-anchor="end">{k * 10}%</text>'
                     f'<line x1="{pad}" y1="{py(v)}" x2="{width - pad}" y2="{py(v)}" stroke="#eee"/>')
    parts.append(f'<text x="{width / 2}" y="{height - 10}" text-anchor="middle">episodes</text>')
    for i, (name, m) in enumerate(report["methods"].items()):
        color = COLORS[i % len(COLORS)]
        if not m["curve"]:
            continue
        band = [(px(e), py(hi)) for e, _, _, hi in m["curve"]] + [(px(e), py(lo)) for e, _, lo, _ in reversed(m["curve"])]
        parts.append(f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in band)}" fill="{color}" opacity="0.12"/>')
        line = " ".join(f"{px(e):.1f},{py(v):.1f}" for e, v, _, _ in m["curve"])
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{width - pad + 4}" y="{py(m["curve"][-1][1]) + 4}" fill="{color}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_png(report: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, m) in enumerate(report["methods"].items()):
        if not m["curve"]:
            continue
        e = [p[0] for p in m["curve"]]
        ax.plot(e, [p[1] for p in m["curve"]], color=COLORS[i % len(COLORS)], label=name, lw=2)
        ax.fill_between(e, [p[2] for p in m["curve"]], [p[3] for p in m["curve"]], color=COLORS[i % len(COLORS)], alpha=0.12)
    ax.set_xlabel("episodes")
    ax.set_ylabel(f"{report['eval_split']} success")
    ax.set_ylim(-0.02, 1.02)  # a curve at 0 or 1 stays visible
    ax.set_xlim(left=0)
    ax.set_title(f"{report['env']}: mean over seeds (band: min–max)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(markdown(report))
    write_png(report, out / "curves.png")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table_rows(report))
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>turngym compare: {html.escape(report["env"])}</title>'
            "<style>body{font:14px sans-serif;margin:20px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>"
            f"</head><body><h1>Credit methods on {html.escape(report['env'])}</h1>{svg_curves(report)}"
            f"<table><tr>{head}</tr>{body}</table><pre>{html.escape(markdown(report))}</pre></body></html>")
    (out / "curves.html").write_text(page, encoding="utf-8")
