"""Oracles for the GUI envs (privileged: they read the reset info's ground truth).

* ``trace_plan`` (GUITrace-v0): replays the gold action of each step (clicks by point);
* ``live_plan`` (GUI-v0): the goal's plan from the reset info, clicking by element id (the env
  scrolls an element into view), then ``complete()``;
* ``miniwob_plan`` (MiniWoB-v0): scripted solutions for the tasks listed in
  :data:`MINIWOB_SOLVED`, from the utterance and the elements of the reset info.
"""

from __future__ import annotations

import json
from typing import Any

from envs.gui.actions import to_call
from tools import call


def trace_plan(turn: int, info: dict[str, Any]) -> str:
    gold = json.loads(info["answer"])
    if isinstance(gold, dict):
        return to_call(gold)
    return to_call(gold[min(turn, len(gold) - 1)])


def live_plan(turn: int, info: dict[str, Any]) -> str:
    steps = []
    for st in info["plan"]:
        if st["action"] == "click":
            steps.append(call("click", element=st["element"]))
        elif st["action"] == "type":
            steps.append(call("type", text=st["text"]))
        elif st["action"] == "press":
            steps.append(call("press", key=st["key"]))
        elif st["action"] == "select":
            steps.append(call("select", element=st["element"], value=st["value"]))
    steps.append(call("complete"))
    return steps[min(turn, len(steps) - 1)]
