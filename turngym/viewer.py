"""``turngym view RUN_DIR``: one static HTML file that shows a run's trajectories and their credit.

Input: every trajectory JSONL under ``RUN_DIR`` (or one ``.jsonl`` file); ``metrics.jsonl`` and
lines that are not trajectories are skipped.  Samples of one task in one file form a group.

Credit shown per turn, per method:
* every registered method that needs no model signal (grpo, rloo, drgrpo, gigpo, otc, ...) is
  recomputed from the group itself;
* a method that needs signals (igpo, spa, empg) is computed when every record of the group
  carries them in a ``"signals"`` key (``{"answer_logprobs": [...], "progress": [...],
  "entropy": [...]}``, this trajectory's row);
* advantages the trainer recorded in a ``"credit"`` key (``{"method": [per-turn values]}``) are
  shown as they are.

Output: ``viewer.html`` (no network, no CDN: data and script inline; images stay data URLs) with
filters for task, outcome and method; the initial filter can be given in the URL fragment,
e.g. ``viewer.html#task=t1&outcome=success&method=igpo``.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agents.trajectory import Trajectory
from trainers.credit import Signals, credit_methods, get_credit

_SIGNAL_FIELDS = {"answer_probe": "answer_logprobs", "progress": "progress", "entropy": "entropy"}


def _records(path: Path) -> Iterable[tuple[dict[str, Any], Trajectory]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                if not isinstance(raw, dict) or "turns" not in raw or "task_id" not in raw:
                    continue
                yield raw, Trajectory.model_validate(raw)
            except ValueError:
                continue


def load_run(run: str | Path) -> list[tuple[str, dict[str, Any], Trajectory]]:
    """(source file, raw record, trajectory) for every trajectory line under ``run``."""
    run = Path(run).resolve()
    if not run.exists():
        raise FileNotFoundError(f"no run folder or file {str(run)!r}")
    files = [run] if run.is_file() else sorted(p for p in run.rglob("*.jsonl") if p.name != "metrics.jsonl")
    base = run.parent if run.is_file() else run
    return [(str(p.relative_to(base)), raw, traj) for p in files for raw, traj in _records(p)]


def _folder(run: str | Path, source: str) -> Path:
    run = Path(run).resolve()
    return ((run.parent if run.is_file() else run) / source).parent


def group_credit(records: list[tuple[dict[str, Any], Trajectory]], methods: list[str]) -> dict[str, list[list[float]] | None]:
    """Per method, one list of per-turn values per record (None where the method cannot be computed)."""
    out: dict[str, list[list[float]] | None] = {}
    ok_idx = [i for i, (_, t) in enumerate(records) if not t.failed and t.turns]
    kept = [records[i][1] for i in ok_idx]
    for name in methods:
        method = get_credit(name)
        fields = [_SIGNAL_FIELDS[n] for n in sorted(method.needs)]
        if not kept:
            out[name] = None
            continue
        rows = [records[i][0].get("signals") or {} for i in ok_idx]
        if any(f not in r for f in fields for r in rows):
            out[name] = None
            continue
        try:
            values = method.assign(kept, Signals(**{f: [r[f] for r in rows] for f in fields}))
        except (ValueError, TypeError, KeyError):
            out[name] = None
            continue
        full: list[list[float]] = [[] for _ in records]
        for i, v in zip(ok_idx, values):
            full[i] = [round(float(x), 4) for x in v]
        out[name] = full
    return out


def _inline_image(url: str, folder: Path) -> str:
    """A data URL for an image stored by reference beside the JSONL (``images/<sha256>.png``)."""
    if url.startswith(("data:", "http:", "https:")):
        return url
    path = Path(url.removeprefix("file://"))
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        return url
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _content(content: Any, folder: Path) -> list[dict[str, str]]:
    """Message content as parts the page shows: text, or an image as a data URL (the page stays one file)."""
    if isinstance(content, str):
        return [{"text": content}]
    parts = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "image_url":
            url = part.get("image_url", {})
            parts.append({"image": _inline_image(url.get("url", "") if isinstance(url, dict) else str(url), folder)})
        elif isinstance(part, dict):
            parts.append({"text": str(part.get("text", ""))})
    return parts


def _calls(action: str) -> list[str]:
    from tools import parse_action

    parsed = parse_action(action, max_calls=None)
    return [f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in parsed.calls]


def build_view_data(run: str | Path, methods: list[str] | None = None) -> dict[str, Any]:
    loaded = load_run(run)
    methods = methods or credit_methods()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (src, _, traj) in enumerate(loaded):
        groups[(src, traj.task_id)].append(i)
    credit: dict[int, dict[str, list[float]]] = defaultdict(dict)
    for idx in groups.values():
        per_method = group_credit([(loaded[i][1], loaded[i][2]) for i in idx], methods)
        for name, rows in per_method.items():
            if rows is not None:
                for i, row in zip(idx, rows):
                    if row:
                        credit[i][name] = row
    trajectories = []
    for i, (src, raw, traj) in enumerate(loaded):
        folder = _folder(run, src)
        for name, row in (raw.get("credit") or {}).items():
            credit[i][f"{name} (recorded)"] = [round(float(x), 4) for x in row]
        trajectories.append({
            "id": i, "source": src, "task": traj.task_id, "sample": traj.sample, "env": traj.env_id,
            "outcome": traj.outcome, "success": traj.success, "failed": traj.failed, "error": traj.error,
            "finish": traj.finish_reason, "group_size": len(groups[(src, traj.task_id)]),
            "messages": [{"role": m.get("role", ""), "parts": _content(m.get("content"), folder)} for m in traj.messages],
            "turns": [{"action": t.action, "calls": _calls(t.action), "reward": t.reward, "valid": t.info.get("valid_action", True),
                       "observation": [{"role": m.get("role", ""), "parts": _content(m.get("content"), folder)} for m in t.observation]}
                      for t in traj.turns],
            "credit": credit.get(i, {}),
        })
    shown = sorted({m for t in trajectories for m in t["credit"]})
    return {"run": str(run), "methods": shown, "trajectories": trajectories}


def render_html(data: dict[str, Any]) -> str:
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # no early </script>
    from turngym.viewer_page import PAGE

    return PAGE.replace("__TITLE__", html.escape(f"turngym view: {data['run']}")).replace("__DATA__", payload)


def write_viewer(run: str | Path, out: str | Path | None = None, methods: list[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Write the page; returns its path and the data it shows."""
    data = build_view_data(run, methods)
    run = Path(run)
    out = Path(out) if out else (run if run.is_dir() else run.parent) / "viewer.html"
    out.write_text(render_html(data), encoding="utf-8")
    return out, data

