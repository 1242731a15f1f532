"""GUI traces: the oracle plays goals in Chromium and every step is recorded; loaders and the
GUI-R1-style exporter.

A trace record (``records/<split>.jsonl``) is ``{"id", "split", "app", "theme", "template", "goal",
"success", "steps": [step, ...]}``; a step is ``{"index", "instruction", "history", "image",
"width", "height", "elements", "a11y", "focused", "scroll", "action"}`` where ``image`` is a PNG
under ``images/`` named by its content hash (so a screen seen twice is stored once), ``history``
lists the earlier steps' instructions, and ``action`` is the gold :class:`~envs.gui.reward.GUIAction`
(click: point, element, box; type: text and the focused element; select: element, box, point and
the value as text; scroll: direction; press: key; complete).  Before a click or select on an
element outside the viewport the oracle scrolls towards it, and those scrolls are steps too.

Built into ``$TURNGYM_HOME/gui-v1/traces`` (needs Chromium): ``<split>.jsonl`` are whole-trace
tasks, ``steps/<split>.jsonl`` step tasks (one per step, id ``<trace id>/<index>``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from envs.gui import page as P
from envs.gui.apps import goal_met, render_app
from envs.gui.tasks import DATA_VERSION, GUISizes, app_tasks
from envs.tasks import SPLITS, JsonlTaskSet, Task, build_atomically, cache_root

VIEWPORT = (800, 600)
COMPLETE = {"action": "complete", "instruction": "The goal is reached: report completion"}


class TraceSizes(BaseModel):
    """How many traces to record per split (drawn from the live tasks with a fixed seed)."""

    train: int = 48
    val: int = 8
    test: int = 32


async def record_trace(page: Any, task: Task, images: Path) -> dict[str, Any]:
    """Play ``task``'s plan on ``page`` and record every step (runs on the browser's loop)."""
    d = task.data
    app_page, _ = render_app(d["app"], d["seed"], d["theme"])
    await P.load(page, app_page.html())
    steps: list[dict[str, Any]] = []

    async def snap(instruction: str, gold: dict[str, Any], obs: dict[str, Any] | None = None) -> dict[str, Any]:
        obs = obs or await P.observe(page)
        name = hashlib.sha256(obs["png"]).hexdigest()[:24] + ".png"
        if not (images / name).exists():
            (images / name).write_bytes(obs["png"])
        step = {"index": len(steps), "instruction": instruction, "history": [s["instruction"] for s in steps], "image": f"images/{name}",
                "width": obs["width"], "height": obs["height"], "elements": obs["elements"], "a11y": P.a11y_text(obs["elements"], obs["scroll"]),
                "focused": obs["focused"], "scroll": obs["scroll"], "action": gold}
        steps.append(step)
        return step

    for st in [*d["plan"], COMPLETE]:
        kind = st["action"]
        if kind in ("click", "select"):
            for _ in range(20):
                _x, y, _w, h, _vw, vh = await P.element_box(page, st["element"])
                if y >= 0 and y + h <= vh:
                    break
                direction = "down" if y + h > vh else "up"
                await snap(f"Scroll {direction} to find {st['instruction'].split(' ', 1)[1]}", {"type": "scroll", "direction": direction})
                await P.scroll(page, direction)
        obs = await P.observe(page)
        if kind in ("click", "select"):
            box = next(e["box"] for e in obs["elements"] if e["id"] == st["element"])
            gold = {"type": kind, "element": st["element"], "box": box, "point": [box[0] + box[2] / 2, box[1] + box[3] / 2]}
            if kind == "select":
                gold["text"] = st["value"]
        elif kind == "type":
            gold = {"type": "type", "text": st["text"], "element": obs["focused"]}
        elif kind == "press":
            gold = {"type": "press", "key": st["key"]}
        else:
            gold = {"type": "complete"}
        await snap(st["instruction"], gold, obs)
        if kind == "click":
            await P.click_point(page, *gold["point"])
        elif kind == "select":
            await P.select_option(page, st["element"], st["value"])
        elif kind == "type":
            await P.type_text(page, st["text"])
        elif kind == "press":
            await P.press(page, st["key"])
    final = await P.state(page)
    return {"id": task.id, "split": task.split, "goal": task.prompt, "app": d["app"], "theme": d["theme"], "template": d["template"],
            "kind": d["kind"], "success": goal_met(final, d["expect"]), "steps": steps}


def pick_tasks(sizes: TraceSizes, live: GUISizes | None = None) -> list[Task]:
    tasks = app_tasks(live)
    chosen = []
    for split in SPLITS:
        pool = [t for t in tasks if t.split == split]
        random.Random(f"traces:{split}").shuffle(pool)
        chosen += pool[: getattr(sizes, split)]
    return chosen


def build_traces(root: Path, sizes: TraceSizes | None = None, progress: Any = None) -> float:
    """Record traces into ``root`` (atomically); raises if an oracle trace misses its goal."""
    from envs.gui.browser import browser_lease

    def build(tmp: Path) -> None:
        (tmp / "images").mkdir()
        lease = browser_lease()
        try:
            browser = lease.get()
            session = browser.new_page(*VIEWPORT)
            records = []
            for task in pick_tasks(sizes or TraceSizes()):
                rec = browser.call(record_trace, browser.page(session), task, tmp / "images", timeout=120)
                if not rec["success"]:
                    raise RuntimeError(f"the oracle missed the goal of {task.id}: {task.prompt}")
                records.append(rec)
                if progress:
                    progress(rec)
            browser.close_page(session)
        finally:
            lease.release()
        write_trace_tasks(tmp, records)

    return build_atomically(root, build)


def write_trace_tasks(root: Path, records: list[dict[str, Any]]) -> None:
    (root / "records").mkdir(exist_ok=True)
    for split in SPLITS:
        with (root / "records" / f"{split}.jsonl").open("w") as f:
            for rec in records:
                if rec["split"] == split:
                    f.write(json.dumps(rec) + "\n")
    traces, steps = [], []
    for rec in records:
        gold = [s["action"] for s in rec["steps"]]
        meta = {"app": rec["app"], "theme": rec["theme"], "template": rec["template"], "kind": rec["kind"]}
        traces.append(Task(id=rec["id"], split=rec["split"], prompt=rec["goal"], answer=json.dumps(gold), data={"steps": rec["steps"]}, meta=meta))
        for s in rec["steps"]:
            steps.append(Task(id=f"{rec['id']}/{s['index']}", split=rec["split"], prompt=rec["goal"], answer=json.dumps(s["action"]),
                              data={"step": s, "trace": rec["id"], "steps": len(rec["steps"])}, meta=meta))
    JsonlTaskSet.write(root, traces)
    JsonlTaskSet.write(root / "steps", steps)


class TraceTaskSet(JsonlTaskSet):
    """Trace or step tasks that know the data folder their image paths are relative to."""

    def __init__(self, root: str | Path, data_root: str | Path):
        super().__init__(root)
        self.data_root = Path(data_root)


def traces_root() -> Path:
    return cache_root() / DATA_VERSION / "traces"


def traces_built(root: str | Path | None = None) -> bool:
    """Whether the default traces are recorded (their first build opens Chromium)."""
    return (Path(root) if root else traces_root()).joinpath("test.jsonl").exists()


@functools.lru_cache(maxsize=8)
def load_trace_tasks(root: str | Path | None = None, mode: str = "step") -> TraceTaskSet:
    """Step (``mode="step"``) or whole-trace (``"trace"``) tasks; records them first if missing."""
    root = Path(root) if root else traces_root()
    if not traces_built(root):
        build_traces(root)
    return TraceTaskSet(root / "steps" if mode == "step" else root, root)


def export_gui_r1(root: Path, out: Path, split: str = "train") -> int:
    """Write ``out/<split>.jsonl`` + ``out/images/`` in GUI-R1's layout; returns the row count.

    One row per step: ``id``, ``image``, ``width``, ``height``, ``instruction`` (the goal),
    ``step_instruction``, ``history`` (earlier step instructions joined), ``task_type`` ("high"),
    ``gt_action``, ``gt_bbox`` ([x1, y1, x2, y2] pixels, or [] when the action has no target),
    ``gt_point`` ([x, y] or []) and ``gt_input_text`` (the typed text, selected value, scroll
    direction or key; "no input text" otherwise, as GUI-R1 writes it)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    rows = 0
    with (root / "records" / f"{split}.jsonl").open() as src, (out / f"{split}.jsonl").open("w") as dst:
        for line in src:
            rec = json.loads(line)
            for s in rec["steps"]:
                a = s["action"]
                image = out / s["image"]
                if not image.exists():
                    image.write_bytes((root / s["image"]).read_bytes())
                box = a.get("box")
                text = a.get("text") or a.get("direction") or a.get("key") or "no input text"
                dst.write(json.dumps({"id": f"{rec['id']}/{s['index']}", "image": s["image"], "width": s["width"], "height": s["height"], "instruction": rec["goal"],
                                      "step_instruction": s["instruction"], "history": "; ".join(s["history"]), "task_type": "high",
                                      "gt_action": a["type"], "gt_bbox": [box[0], box[1], box[0] + box[2], box[1] + box[3]] if box else [],
                                      "gt_point": a.get("point") or [], "gt_input_text": text}) + "\n")
                rows += 1
    return rows
