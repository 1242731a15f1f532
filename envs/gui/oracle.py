"""Oracles for the GUI envs (privileged: they read the reset info's ground truth).

* ``trace_plan`` (GUITrace-v0): replays the gold action of each step (clicks by point; by element id
  with ``observation="a11y"``, where the screen has no pixels to point at);
* ``live_plan`` (GUI-v0): the goal's plan from the reset info, clicking by element id (the env
  scrolls an element into view), then ``complete()``;
* ``miniwob_plan`` (MiniWoB-v0): scripted solutions for the tasks listed in
  :data:`MINIWOB_SOLVED`, from the utterance and the elements of the reset info.

Each writes its call inside ``<think>…</think><answer>…</answer>`` when the reset info says the env
takes ``reply_format="think_answer"``.  The weak teacher of GUITrace-v0 (``near-miss``, a baseline,
not privileged) is :class:`envs.gui.teacher.NearMiss`.
"""

from __future__ import annotations

import json
from typing import Any

from envs.gui.actions import to_call
from envs.gui.replies import think_answer
from tools import call


def _written(info: dict[str, Any], action: str) -> str:
    """``action`` as the env's reply format wants it."""
    if info.get("reply_format") != "think_answer":
        return action
    return think_answer("The goal needs this action next.", action)


def trace_plan(turn: int, info: dict[str, Any]) -> str:
    """The gold action: clicks by point, or by element id where the screen is text only (a text agent names the element)."""
    gold = json.loads(info["answer"])
    action = gold if isinstance(gold, dict) else gold[min(turn, len(gold) - 1)]
    return _written(info, to_call(action, by_element=info.get("observation") == "a11y"))


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
    return _written(info, steps[min(turn, len(steps) - 1)])


# ----- MiniWoB++ -------------------------------------------------------------------------------
def _find(elements: list[dict[str, Any]], role: str | None = None, name: str | None = None) -> dict[str, Any] | None:
    for e in elements:
        if (role is None or e["role"] == role) and (name is None or e["name"].strip() == name):
            return e
    return None


def _labelled(elements: list[dict[str, Any]], text: str, role: str) -> dict[str, Any] | None:
    """The ``role`` control inside the same label as the text ``text`` (MiniWoB's checkbox / radio rows)."""
    label = next((e["parent"] for e in elements if e["role"] == "t" and e["name"].strip() == text), None)
    return next((e for e in elements if e["role"] == role and e["parent"] == label), None)


def _fields(info: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in info.get("fields", [])}


def miniwob_steps(info: dict[str, Any]) -> list[str]:
    """The whole scripted solution of a MiniWoB task, from its reset info; [] when none is known."""
    name, els, f = info["task_name"], info["elements"], _fields(info)
    by = lambda e: call("click", element=e["id"]) if e else None  # noqa: E731
    submit = _find(els, "button", "Submit")
    if name == "click-test":
        return [by(_find(els, "button"))]
    if name in ("click-test-2", "click-button"):
        return [by(_find(els, "button", f.get("target")))]
    if name == "click-link":
        return [by(next((e for e in els if e["name"].strip() == f.get("target") and e["role"] in ("span", "a", "t")), None))]
    if name == "focus-text":
        return [by(_find(els, "input_text"))]
    if name == "focus-text-2":
        inputs = [e for e in els if e["role"] == "input_text"]
        index = int("".join(c for c in f.get("target", "1") if c.isdigit()) or 1) - 1
        return [by(inputs[index] if index < len(inputs) else None)]
    if name in ("enter-text", "enter-text-2"):
        text = f.get("target", "")
        if name == "enter-text-2":
            text = f.get("text", "").lower() if f.get("case") == "lower" else f.get("text", "").upper()
        return [by(_find(els, "input_text")), call("type", text=text), by(submit)]
    if name == "enter-password":
        boxes = [e for e in els if e["role"] == "input_password"]
        return [s for b in boxes for s in (by(b), call("type", text=f.get("target", "")))] + [by(submit)]
    if name == "login-user":
        return [by(_find(els, "input_text")), call("type", text=f.get("username", "")), by(_find(els, "input_password")),
                call("type", text=f.get("password", "")), by(_find(els, "button", "Login"))]
    if name == "click-checkboxes":
        targets = [v for k, v in info.get("fields", []) if k.startswith("target")]
        return [by(_labelled(els, t, "input_checkbox")) for t in targets] + [by(submit)]
    if name == "click-option":
        return [by(_labelled(els, f.get("target", ""), "input_radio")), by(submit)]
    if name == "click-dialog":
        return [by(next((e for e in els if e["role"] == "button" and "close" in (e["classes"] + e["name"]).lower()), None))]
    if name == "click-button-sequence":
        return [by(_find(els, "button", "ONE")), by(_find(els, "button", "TWO"))]
    return []


def miniwob_plan(turn: int, info: dict[str, Any]) -> str:
    steps = [s for s in miniwob_steps(info) if s] or [call("complete")]
    return _written(info, steps[min(turn, len(steps) - 1)])
