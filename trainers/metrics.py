"""Watching a run: one JSON line per step in ``metrics.jsonl``, tensorboard scalars, a PNG of the curves.

``MetricsLog(run_dir)`` appends ``{"step": N, ...}`` rows; numeric values also go to tensorboard
(``run_dir/tb``) when the ``tensorboard`` package is installed.  On resume, ``truncate(step)``
drops rows after the checkpoint's step, so a resumed run's file reads as if it never stopped.
``plot_curves(run_dir)`` draws the main curves (reward/success, val success, loss terms, time
split) into ``run_dir/curves.png`` with matplotlib's Agg backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricsLog:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True, name: str = "metrics.jsonl"):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / name
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard not installed: the JSONL still has everything
                self._tb = None

    def truncate(self, step: int) -> None:
        """Keep only rows with ``step <= step`` (resume after a crash)."""
        rows = [r for r in read_metrics(self.path) if r.get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(self.path)

    def log(self, step: int, values: dict[str, Any]) -> None:
        row = {"step": step, **values}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (0, 0 for no values)."""
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


_PANELS = (
    ("outcome", ("reward", "success", "val/success_rate")),
    ("policy", ("approx_kl", "kl_ref", "clip_frac_low", "clip_frac_high", "entropy")),
    ("optimizer", ("loss", "grad_norm")),
    ("seconds per step", ("time/rollout", "time/credit", "time/train", "time/sync")),
)


def plot_curves(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw the run's curves from ``metrics.jsonl``; returns the PNG's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    fig, axes = plt.subplots(1, len(_PANELS), figsize=(5 * len(_PANELS), 3.6))
    for ax, (title, keys) in zip(axes, _PANELS):
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o" if len(points) < 20 else None, markersize=3, label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out) if out else run_dir / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
