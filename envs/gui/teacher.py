"""GUITrace-v0's weak teacher, the ``near-miss`` baseline: SFT data that is right most of the time.

A baseline player sees what a model sees (the conversation), not the reset info.  Like TextWorld's
``detours`` (which finds the walkthrough from the game's intro), it finds the recorded step from the
screen message, here its goal and history, and the screen itself where two steps share those
(:func:`envs.gui.trace_env.history_text`), then plays the step's gold action, except on a fixed share
``miss_rate`` of the click and select steps (drawn from a hash of the step id, so the same step is
always missed or always right) where it picks a wrong but plausible element: the clickable element of
the same role nearest to the gold one (any clickable one for a click when none shares the role; a
select misses only onto another list).  A screen that lists element ids (``observation="a11y"`` or
``"both"``) is clicked by id, a screenshot-only one by the element's centre.  Where the system
prompt asks for ``<think>…</think><answer>…</answer>`` it writes that, the step's instruction (or
the wrong element's name) as the thinking.  With the default 0.3 it is right on 143 of the 165
recorded train steps (87 %).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from envs.gui.actions import to_call
from envs.gui.replies import think_answer
from envs.gui.trace_env import history_text
from envs.tasks import SPLITS
from tools import call
from tools.content import content_text, decode_image_url, image_urls

_HEAD = re.compile(r"(Goal: .*?\nPrevious actions:\n.*?\n)(?:Next step: |The screen is )", re.DOTALL)


def _draw(key: str) -> float:
    """A fixed number in [0, 1) per key."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32


def _centre(box: list[float]) -> list[float]:
    return [box[0] + box[2] / 2, box[1] + box[3] / 2]


def plausible_wrong(step: dict[str, Any]) -> dict[str, Any] | None:
    """The element a near miss picks instead of the gold one (see the module docstring), or None."""
    gold = step["action"]
    role = next((e["role"] for e in step["elements"] if e["id"] == gold.get("element")), None)
    others = [e for e in step["elements"] if e.get("clickable") and e["id"] != gold.get("element")]
    pool = [e for e in others if e["role"] == role] or ([] if gold["type"] == "select" else others)
    point = gold.get("point") or _centre(gold["box"])
    return min(pool, key=lambda e: (math.dist(_centre(e["box"]), point), e["id"]), default=None)


class NearMiss:
    """The gold action of the recorded step, with a wrong-but-plausible element on ``miss_rate`` of clicks and selects."""

    name = "near-miss"

    def __init__(self, miss_rate: float = 0.3, data_root: str | None = None):
        if not 0.0 <= miss_rate <= 1.0:
            raise ValueError(f"miss_rate must lie in [0, 1], got {miss_rate}")
        self.miss_rate, self.data_root = miss_rate, data_root
        self._steps: dict[str, list[tuple[str, dict[str, Any]]]] | None = None

    def index(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        """Recorded steps of every split by the text they open with: ``history_text`` -> [(step id, step)]."""
        if self._steps is None:
            from envs.gui.traces import load_trace_tasks

            tasks, steps = load_trace_tasks(self.data_root, mode="trace"), {}
            for split in SPLITS:
                for task in tasks.iter(split):
                    for step in task.data["steps"]:
                        steps.setdefault(history_text(task.prompt, step["history"]), []).append((f"{task.id}/{step['index']}", step))
            self._steps = steps
        return self._steps

    def find(self, messages: list[dict[str, Any]]) -> tuple[str, dict[str, Any], str] | None:
        """(step id, recorded step, screen text) of the last screen in ``messages``, or None."""
        for m in reversed(messages):
            text = content_text(m["content"]) if m.get("role") == "user" else ""
            head = _HEAD.match(text)
            if head is None:
                continue
            found = self.index().get(head.group(1), [])
            shown = [(sid, step) for sid, step in found if _shows(step, m["content"], text)]
            return (*(shown or found)[0], text) if found else None
        return None

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        found = self.find(messages)
        if found is None:  # not a GUITrace screen: nothing to imitate
            return call("complete")
        sid, step, text = found
        gold, think = dict(step["action"]), step["instruction"]
        if gold["type"] in ("click", "select") and _draw(f"near-miss:{sid}") < self.miss_rate:
            wrong = plausible_wrong(step)
            if wrong is not None:
                gold.update(element=wrong["id"], box=wrong["box"], point=_centre(wrong["box"]))
                think = f"Click {wrong['name']!r}" if gold["type"] == "click" else f"Choose {gold.get('text')!r} in {wrong['name']!r}"
        by_element = f"[{gold.get('element')}]" in text  # the screen lists ids: a text agent names the element
        action = to_call(gold, by_element=by_element)
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        return think_answer(think, action) if "<answer>" in content_text(system) else action


def _shows(step: dict[str, Any], content: Any, text: str) -> bool:
    """Whether a screen message shows this recorded step: its element list, or its screenshot (by content hash)."""
    if step["a11y"] in text:
        return True
    for url in image_urls(content):
        if url.startswith("file://"):
            if Path(url).name == Path(step["image"]).name:
                return True
        elif hashlib.sha256(decode_image_url(url)[1]).hexdigest()[:24] == Path(step["image"]).stem:
            return True
    return False
