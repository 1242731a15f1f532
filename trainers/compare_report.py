"""The comparison report's files: ``report.json``, ``report.md``, ``curves.png`` and ``curves.html``.

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


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Credit methods on {report['env']} ({report['model']})", "",
             f"{report['steps']} RL steps × {report['episodes_per_step']} episodes per step; held-out {report['test_split']} success on "
             f"{report['test_tasks'] or 'all'} tasks at the end; curves: {report['eval_split']} success on {report['eval_tasks'] or 'all'} tasks. "
             f"Baseline {report['baseline']}'s final mean {report['eval_split']} success: {_pct(report['baseline_final_val'])}. "
             f"SFT warm start held-out success per seed: {json.dumps(report['sft_test_success'])}.", "",
             "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(report)]
    lines += ["", "Curves (episodes: mean success over seeds):"]
    for name, m in report["methods"].items():
        lines.append(f"- {name}: " + ", ".join(f"{e}: {100 * v:.1f}%" for e, v, _, _ in m["curve"]))
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
