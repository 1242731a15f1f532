"""What a GUI env shows of a screen, set by ``observation``:

* ``"screenshot"``: the screenshot as an ``image_url`` part (with the text around it).  The format of
  UI-R1, GUI-R1, GUI-G1 and InfiGUI-R1, which train vision-language models on screenshots.
* ``"a11y"``: text only, no image part (the message content is one string): the element list (id,
  role, name, value, box ``x,y,w,h`` in screen pixels) and, from the second screen of an episode
  on, what changed since the screen before (:func:`screen_diff`).  The format of WebArena-style
  text agents that read the accessibility tree; a text model trains on it with the usual trainer.
* ``"both"``: the screenshot and that text (SeeAct-style agents that get both).

AndroidControl's "high" and "low" settings are not an observation: they are GUITrace-v0's
``step_instruction`` (False: the goal only, "high"; True: the step's own instruction too, "low").
``a11y=True`` / ``a11y=False``, the envs' former switch, still work as aliases of ``"both"`` and
``"screenshot"`` (with a ``DeprecationWarning``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from tools.content import text_part

OBSERVATIONS = ("screenshot", "a11y", "both")


def observation_mode(observation: str | None, a11y: bool | None, default: str) -> str:
    """The observation setting from ``observation`` or the deprecated ``a11y`` flag; a bad value raises."""
    if a11y is not None:
        if observation is not None:
            raise ValueError(f"observation={observation!r} and the deprecated a11y={a11y!r} are both given; give observation only")
        warnings.warn("a11y= is deprecated: use observation='both' (was a11y=True) or observation='screenshot' (a11y=False)",
                      DeprecationWarning, stacklevel=3)
        return "both" if a11y else "screenshot"
    observation = default if observation is None else observation
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {', '.join(map(repr, OBSERVATIONS))}, got {observation!r}")
    return observation


def element_line(e: dict[str, Any]) -> str:
    """``- [save-note] button 'Save' value='x' box=33,303,109,31`` (no value shown when it is empty)."""
    value = f" value={e['value']!r}" if e.get("value") not in (None, "") else ""
    return f"- [{e['id']}] {e['role']} {e['name']!r}{value} box={','.join(map(str, e['box']))}"


def screen_diff(before: list[dict[str, Any]], after: list[dict[str, Any]], scroll_before: list[int] | None = None,
                scroll_after: list[int] | None = None) -> str:
    """What changed from the screen ``before`` to the screen ``after``, one line per change, in a fixed order.

    A scroll (when both offsets are given and differ), then ``added`` for each element that appeared (as
    in the list, box included, in screen order), ``removed`` for each that went (id, role, name, in the
    order of the screen before), ``changed`` for each kept element whose value or name changed (in screen
    order).  Words, not +/-: the element list's lines already start with "- ".
    Boxes that merely moved are not listed: the element list has the new ones.  Ids are unique on a
    screen (the apps' ``data-tg`` ids, MiniWoB's refs)."""
    old = {e["id"]: e for e in before}
    new = {e["id"]: e for e in after}
    lines = []
    if scroll_before is not None and scroll_after is not None and list(scroll_before) != list(scroll_after):
        lines.append(f"page scrolled from {scroll_before[0]},{scroll_before[1]} to {scroll_after[0]},{scroll_after[1]}")
    lines += ["added " + element_line(e)[2:] for e in after if e["id"] not in old]
    lines += [f"removed [{e['id']}] {e['role']} {e['name']!r}" for e in before if e["id"] not in new]
    for e in after:
        o = old.get(e["id"])
        if o is None:
            continue
        for key in ("value", "name"):
            if (o.get(key) or "") != (e.get(key) or ""):
                lines.append(f"changed [{e['id']}] {key} {o.get(key) or ''!r} -> {e.get(key) or ''!r}")
    return "Changes since the last screen:" + ("".join(f"\n{line}" for line in lines) if lines else " none")


def screen_content(observation: str, head: str, image: Callable[[], dict[str, Any]], a11y: Callable[[], str]) -> str | list[dict[str, Any]]:
    """A screen message's content: ``head`` (the text before the screen), then the screen as ``observation`` says.

    ``image`` and ``a11y`` are called only when the setting shows them (no PNG is encoded for a11y)."""
    if observation == "a11y":
        return f"{head}\n{a11y()}"
    parts = [text_part(head), image()]
    if observation == "both":
        parts.append(text_part(a11y()))
    return parts
