"""The GUI action tools every GUI env offers, as one mixin: ``click(x, y)`` or ``click(element)``,
``type(text)``, ``scroll(direction)``, ``press(key)``, ``select(element, value)``, ``wait()`` and
``complete()``.  Each tool validates its arguments, builds a :class:`GUIAction` and hands it to the
env's :meth:`GUIActions.act`, whose text answer is the tool's result.  ``to_call`` turns a gold
action back into the call text a model would write (the oracles use it)."""

from __future__ import annotations

from typing import Any, Literal

from envs.gui.reward import GUIAction
from tools import ToolError, call, tool

SYSTEM_INTRO = (
    "You operate a graphical user interface to reach a goal. After each action you see the screen again: a screenshot "
    "(coordinates are screenshot pixels, origin at the top left) and, when given, a list of the screen's elements with "
    "their ids and boxes (x, y, width, height). Act with one tool call per reply: click a point or an element, type into "
    "the focused field, scroll, press a key, choose a value in a list, wait, and call complete() once the goal is reached."
)
A11Y_INTRO = (
    "You operate a graphical user interface to reach a goal. After each action you see the screen again as text: its "
    "elements with their ids, roles, names, values and boxes (x, y, width, height in screen pixels, origin at the top "
    "left), and what changed since the screen before. Act with one tool call per reply: click an element by its id (or a "
    "point), type into the focused field, scroll, press a key, choose a value in a list, wait, and call complete() once "
    "the goal is reached."
)


def intro_for(observation: str) -> str:
    """The intro for an ``observation`` setting (:mod:`envs.gui.screens`): a11y mentions no screenshot."""
    return A11Y_INTRO if observation == "a11y" else SYSTEM_INTRO


class GUIActions:
    """Mixin: the action tools; a subclass implements ``act``."""

    max_type_chars = 500  # a person types a field, not a book; MiniWoB allows 64

    def act(self, action: GUIAction) -> str:
        raise NotImplementedError

    @tool
    def click(self, x: int | None = None, y: int | None = None, element: str | None = None) -> str:
        """Click a point of the screen, or an element by its id.

        Args:
            x: Horizontal position in screenshot pixels (give x and y, or element).
            y: Vertical position in screenshot pixels.
            element: The id of an element from the element list, like "save-note".
        """
        if element is not None and (x is not None or y is not None):
            raise ToolError("give either x and y, or element, not both")
        if element is None and (x is None or y is None):
            raise ToolError("click needs both x and y (screen pixels), or an element id")
        return self.act(GUIAction(type="click", point=None if element else [float(x), float(y)], element=element))

    @tool
    def type(self, text: str) -> str:
        """Type text into the field that has the focus (click the field first).

        Args:
            text: The text to type.
        """
        if len(text) > self.max_type_chars:
            raise ToolError(f"the text is too long ({len(text):,} characters; at most {self.max_type_chars} per type call)")
        return self.act(GUIAction(type="type", text=text))

    @tool
    def scroll(self, direction: Literal["up", "down", "left", "right"]) -> str:
        """Scroll the page by about half a screen.

        Args:
            direction: up, down, left or right.
        """
        return self.act(GUIAction(type="scroll", direction=direction))

    @tool
    def press(self, key: str) -> str:
        """Press a key: Enter, Tab, Escape, Backspace, Delete, Space, ArrowUp/Down/Left/Right, Home, End, PageUp, PageDown.

        Args:
            key: The key's name.
        """
        from envs.gui.page import ActionRefused, normalize_key

        try:
            normalize_key(key)
        except ActionRefused as e:
            raise ToolError(str(e)) from None
        return self.act(GUIAction(type="press", key=key))

    @tool
    def select(self, element: str, value: str) -> str:
        """Choose a value in a drop-down list.

        Args:
            element: The list's element id.
            value: The option to choose, as shown.
        """
        return self.act(GUIAction(type="select", element=element, text=value))

    @tool
    def wait(self) -> str:
        """Wait a moment and look at the screen again."""
        return self.act(GUIAction(type="wait"))

    @tool(ends_episode=True)
    def complete(self) -> str:
        """Say that the goal is reached; this ends the episode."""
        return self.act(GUIAction(type="complete"))


def to_call(action: dict[str, Any] | GUIAction, by_element: bool = False) -> str:
    """The tool call that performs a (gold) action; clicks by point unless ``by_element``."""
    a = action if isinstance(action, GUIAction) else GUIAction.model_validate(action)
    if a.type == "click":
        if by_element or a.point is None:
            return call("click", element=a.element)
        return call("click", x=round(a.point[0]), y=round(a.point[1]))
    if a.type == "type":
        return call("type", text=a.text or "")
    if a.type == "select":
        return call("select", element=a.element, value=a.text or "")
    if a.type == "scroll":
        return call("scroll", direction=a.direction)
    if a.type == "press":
        return call("press", key=a.key)
    return call(a.type)
