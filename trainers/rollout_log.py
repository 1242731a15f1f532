"""Training rollouts on disk: ``RUN/rollouts/step_NNNN.jsonl``, what ``turngym view RUN`` shows.

One line per trajectory a step trained on, group after group (a group: the G samples of one task,
infrastructure failures already left out), written by :func:`agents.trajectory.write_jsonl`
(images once, by reference, in ``RUN/rollouts/images/``), with two keys added to each line:

* ``"credit"``: ``{method name: [one advantage per turn]}``, the values the learner used;
* ``"signals"`` (only when the method needed some): this trajectory's row of each computed
  signal under its :class:`~trainers.credit.Signals` field name, ``{"answer_logprobs": [...],
  "progress": [...], "entropy": [...]}``, so the viewer can recompute signal-based methods.

The file of a step is replaced whole (a temp file, then ``os.replace``), so a resumed run that
repeats a step leaves one file for it; :func:`truncate_rollouts` drops the files of steps after the
one a run (re)starts from, as the metrics log does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from agents.trajectory import write_jsonl

if TYPE_CHECKING:
    from agents.trajectory import Trajectory
    from trainers.credit.base import Signals

ROLLOUTS = "rollouts"
_STEP_FILE = re.compile(r"^step_(\d+)\.jsonl$")


def rollout_path(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / ROLLOUTS / f"step_{step:04d}.jsonl"


def signal_rows(signals: Signals | None, size: int) -> list[dict[str, list[float]]]:
    """Per trajectory of a group of ``size``: ``{field: its row}`` for every signal that was computed."""
    rows: list[dict[str, list[float]]] = [{} for _ in range(size)]
    for f in fields(signals) if signals is not None else ():
        value = getattr(signals, f.name)
        if value is None:
            continue
        if len(value) != size:
            raise ValueError(f"signals.{f.name} has {len(value)} rows for a group of {size}")
        for row, v in zip(rows, value):
            row[f.name] = [float(x) for x in v]
    return rows


def write_step_rollouts(run_dir: str | os.PathLike, step: int, groups: Sequence[Sequence[Trajectory]],
                        credit: Mapping[str, Sequence[Sequence[Sequence[float]]]],
                        signals: Sequence[Signals | None] | None = None) -> Path:
    """Write step ``step``'s groups with their per-turn ``credit`` (per method, per group) and ``signals`` (per group)."""
    path = rollout_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    signals = list(signals) if signals is not None else [None] * len(groups)
    extras = []
    for k, group in enumerate(groups):
        for i, (traj, sig) in enumerate(zip(group, signal_rows(signals[k], len(group)))):
            record: dict = {"credit": {}}
            for name, per_group in credit.items():
                row = [float(a) for a in per_group[k][i]]
                if len(row) != len(traj.turns):
                    raise ValueError(f"{name} credit of {traj.task_id}/{traj.sample} has {len(row)} values for {len(traj.turns)} turns")
                record["credit"][name] = row
            if sig:
                record["signals"] = sig
            extras.append(record)
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.jsonl.tmp")  # beside it: write_jsonl stores images in the same folder
    try:
        write_jsonl(tmp, [t for g in groups for t in g])
        with tmp.open(encoding="utf-8") as src, path.with_suffix(".part").open("w", encoding="utf-8") as out:
            for line, extra in zip(src, extras, strict=True):
                out.write(json.dumps({**json.loads(line), **extra}, ensure_ascii=False) + "\n")
        os.replace(path.with_suffix(".part"), path)
    finally:
        tmp.unlink(missing_ok=True)
        path.with_suffix(".part").unlink(missing_ok=True)
    return path


def truncate_rollouts(run_dir: str | os.PathLike, step: int) -> None:
    """Remove the files of steps after ``step`` (a fresh start: ``step = 0``)."""
    folder = Path(run_dir) / ROLLOUTS
    for path in folder.glob("step_*.jsonl") if folder.is_dir() else ():
        m = _STEP_FILE.match(path.name)
        if m and int(m.group(1)) > step:
            path.unlink(missing_ok=True)
