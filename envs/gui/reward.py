"""The step reward of GUI-R1, with InfiGUI-R1's click tolerance.

    reward = 0.8 * accuracy + 0.2 * format

* ``format`` is 1 when the reply is exactly one call of a known action with valid arguments; with
  GUITrace-v0's ``reply_format="think_answer"`` also only when the reply is ``<think>…</think>`` then
  ``<answer>call</answer>`` (:mod:`envs.gui.replies`; the env sets the part to 0 otherwise).
* ``accuracy`` needs the action type to match the gold one, then:

  - click: the predicted point lies inside the gold box enlarged 1.2x about its centre, or within
    ``0.04 * max(width, height)`` pixels of the gold point (InfiGUI-R1's evaluation).  A click given
    as an element id hits when the id is the gold element, else its box centre is the point;
  - type: token F1 of the text with the gold text >= 0.5 (GUI-R1);
  - select: the gold element (by id, or a point as for click) and value F1 >= 0.5;
  - scroll: the same direction;  press: the same key (names normalized: "return" is Enter);
  - wait, complete: the type alone.

The parts go to ``info["reward_parts"]``: ``format``, ``type``, ``accuracy``, ``reward``, plus
``text_f1`` (type, select) and ``distance`` (click: pixels from the gold point) where they apply.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel

ActionType = Literal["click", "type", "scroll", "press", "select", "wait", "complete"]
BOX_SCALE = 1.2
POINT_TOLERANCE = 0.04
F1_THRESHOLD = 0.5


class GUIAction(BaseModel):
    """One GUI action, predicted or gold.  ``box`` is ``[x, y, w, h]``; ``point`` is ``[x, y]``."""

    type: ActionType
    point: list[float] | None = None
    element: str | None = None
    box: list[float] | None = None
    text: str | None = None
    direction: str | None = None
    key: str | None = None


def token_f1(pred: str, gold: str) -> float:
    p, g = re.findall(r"\w+", pred.lower()), re.findall(r"\w+", gold.lower())
    if not p and not g:
        return 1.0
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def in_scaled_box(point: list[float], box: list[float], scale: float = BOX_SCALE) -> bool:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return abs(point[0] - cx) <= w * scale / 2 and abs(point[1] - cy) <= h * scale / 2


def _point_of(pred: GUIAction, elements: list[dict[str, Any]]) -> list[float] | None:
    if pred.point is not None:
        return pred.point
    for e in elements:
        if e["id"] == pred.element:
            x, y, w, h = e["box"]
            return [x + w / 2, y + h / 2]
    return None


def _hits(pred: GUIAction, gold: GUIAction, size: tuple[int, int], elements: list[dict[str, Any]], parts: dict[str, float]) -> bool:
    if pred.element is not None and pred.element == gold.element:
        parts["distance"] = 0.0
        return True
    point = _point_of(pred, elements)
    if point is None:
        return False
    gold_point = gold.point or ([gold.box[0] + gold.box[2] / 2, gold.box[1] + gold.box[3] / 2] if gold.box else None)
    if gold_point is not None:
        parts["distance"] = round(math.dist(point, gold_point), 2)
        if parts["distance"] <= POINT_TOLERANCE * max(size):
            return True
    return gold.box is not None and in_scaled_box(point, gold.box)


def normalize_key(key: str | None) -> str:
    from envs.gui.page import KEYS

    k = (key or "").strip().lower().replace(" ", "").replace("_", "")
    return KEYS.get(k, k)


def score(pred: GUIAction | None, gold: GUIAction, size: tuple[int, int], elements: list[dict[str, Any]] = ()) -> dict[str, float]:
    """Reward parts for one step; ``pred`` None means the reply was not a valid action call."""
    parts: dict[str, float] = {"format": float(pred is not None), "type": 0.0, "accuracy": 0.0}
    if pred is not None and pred.type == gold.type:
        parts["type"] = 1.0
        if gold.type == "click":
            ok = _hits(pred, gold, size, list(elements), parts)
        elif gold.type in ("type", "select"):
            parts["text_f1"] = round(token_f1(pred.text or "", gold.text or ""), 4)
            ok = parts["text_f1"] >= F1_THRESHOLD and (gold.type == "type" or _hits(pred, gold, size, list(elements), parts))
        elif gold.type == "scroll":
            ok = (pred.direction or "").lower() == (gold.direction or "").lower()
        elif gold.type == "press":
            ok = normalize_key(pred.key) == normalize_key(gold.key)
        else:
            ok = True
        parts["accuracy"] = float(ok)
    parts["reward"] = round(0.8 * parts["accuracy"] + 0.2 * parts["format"], 6)
    return parts
