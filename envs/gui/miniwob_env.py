"""``turngym/MiniWoB-v0``: MiniWoB++ (the ``miniwob`` 1.1.0 package's gymnasium envs) under the GUI
family's tool-call actions and observations.

A task is one MiniWoB task name and seed (``miniwob-<name>-<seed>``); the instruction is the
task's utterance.  Observation: the utterance, then the screen as ``observation`` says
(:mod:`envs.gui.screens`): ``"both"`` (default) the 160x210 task screenshot as an ``image_url`` part
and the element list (MiniWoB ``ref`` ids, tag, text, box); ``"screenshot"`` the image only;
``"a11y"`` text only: the element list and, after the first screen, what changed since the screen
shown before.  ``a11y=True`` / ``False`` (deprecated) mean ``"both"`` / ``"screenshot"``;
``reply_format="think_answer"`` acts only on the call inside ``<answer>…</answer>``.  Actions map onto MiniWoB's
action space: ``click(x, y)`` -> ``CLICK_COORDS``, ``click(element=ref)`` -> ``CLICK_ELEMENT``,
``type`` -> ``TYPE_TEXT`` (into the focused field), ``press`` -> ``PRESS_KEY``, ``scroll`` ->
``SCROLL_UP/DOWN_COORDS`` at the screen centre, ``wait`` -> ``NONE``; ``select`` is refused (click
the option instead).  The episode ends when MiniWoB says the task is done (outcome 1 when its raw
reward is > 0, else 0; the raw reward is in ``info["miniwob_reward"]``), on ``complete()`` before
that (outcome 0), or after ``max_turns``.

Splits: ``train`` and ``val`` are seeds (0.. and 1000..) of :data:`TRAIN_TASKS`; ``test`` is
:data:`TEST_TASKS`, tasks never seen in training.  One MiniWoB gymnasium env (its own Selenium
Chromium) is kept per task name in use, at most ``max_open`` at a time; all close with the env.
"""

from __future__ import annotations

import io
import os
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from envs.core import ToolEnv
from envs.gui.actions import SYSTEM_INTRO, GUIActions, intro_for
from envs.gui.replies import ReplyFormat, check_reply_format
from envs.gui.reward import GUIAction
from envs.gui.screens import element_line, observation_mode, screen_content, screen_diff
from envs.tasks import ListTaskSet, Split, Task, TaskSet
from tools import ToolError
from tools.calls import ToolInfrastructureError
from tools.content import image_part
from tools.text import sendable

TRAIN_TASKS = ("click-test", "click-test-2", "click-button", "click-link", "focus-text", "enter-text", "click-checkboxes", "login-user")
TEST_TASKS = ("click-option", "enter-password", "focus-text-2", "click-dialog", "enter-text-2", "click-button-sequence")
SEEDS = {"train": (0, 20), "val": (1000, 5), "test": (2000, 10)}


def miniwob_unavailable() -> str | None:
    from envs.gui.browser import chromium_path

    if chromium_path() is None or not os.path.exists("/usr/bin/chromedriver"):
        return "MiniWoB needs Debian chromium and chromium-driver (/usr/bin/chromedriver); run scripts/setup.d/40-browser.sh"
    try:
        import miniwob  # noqa: F401
    except ImportError:
        return "miniwob is not installed (pip install 'turngym[gui]')"
    return None


def miniwob_tasks() -> ListTaskSet:
    tasks = []
    for split, names in (("train", TRAIN_TASKS), ("val", TRAIN_TASKS), ("test", TEST_TASKS)):
        start, count = SEEDS[split]
        for name in names:
            for seed in range(start, start + count):
                tasks.append(Task(id=f"miniwob-{name}-{seed}", split=split, prompt=f"MiniWoB++ task {name}", data={"name": name, "seed": seed}))
    return ListTaskSet(tasks)


def png(screenshot: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(screenshot, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def elements(dom: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The DOM elements worth showing: leaves and form controls, as plain JSON."""
    out = []
    for e in dom:
        tag = str(e["tag"])
        if e["ref"] == 1 or (tag in ("div", "p", "form", "span", "label") and not e["text"]):
            continue
        box = [round(float(np.asarray(e[k]).reshape(-1)[0])) for k in ("left", "top", "width", "height")]
        out.append({"id": str(int(e["ref"])), "parent": str(int(e["parent"])), "role": tag, "name": str(e["text"]), "box": box,
                    "value": str(e["value"]), "html_id": str(e["id"]), "classes": str(e["classes"])})
    return out


class MiniWoBEnv(ReplyFormat, GUIActions, ToolEnv):
    family = "miniwob"
    default_max_turns = 10
    max_type_chars = 64  # miniwob.constants.TYPING_MAX_LENGTH
    system_intro = SYSTEM_INTRO

    def __init__(self, split: Split = "train", tasks: TaskSet | None = None, max_turns: int | None = None, observation: str | None = None,
                 max_open: int = 2, render_mode: str | None = None, reply_format: str = "tool_call", a11y: bool | None = None):
        self.observation = observation_mode(observation, a11y, "both")
        self.reply_format = check_reply_format(reply_format)
        super().__init__(tasks or miniwob_tasks(), split=split, max_turns=max_turns, render_mode=render_mode)
        self.max_open = max_open
        self.system_intro = self.format_intro(intro_for(self.observation))
        self._shown: list[dict[str, Any]] | None = None  # the elements of the screen shown last (the diff starts there)
        self._envs: OrderedDict[str, Any] = OrderedDict()
        self._obs: dict[str, Any] = {}
        # MiniWoB's Chromium outlives a process that never closed it: close them when this env is
        # collected or the interpreter exits, even after an exception skipped close().
        weakref.finalize(self, _close_all, self._envs)

    def _env(self, name: str) -> Any:
        if name in self._envs:
            self._envs.move_to_end(name)
            return self._envs[name]
        reason = miniwob_unavailable()
        if reason:
            raise ToolInfrastructureError(reason)
        os.environ.setdefault("MINIWOB_CHROME_BINARY", "/usr/bin/chromium")
        os.environ.setdefault("MINIWOB_CHROMEDRIVER", "/usr/bin/chromedriver")
        import gymnasium as gym
        import miniwob

        gym.register_envs(miniwob)
        while len(self._envs) >= self.max_open:
            _, old = self._envs.popitem(last=False)
            old.close()
        self._envs[name] = gym.make(f"miniwob/{name}-v1").unwrapped
        return self._envs[name]

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        env = self._env(task.data["name"])
        self._obs, _ = env.reset(seed=task.data["seed"])
        self._elements = elements(self._obs["dom_elements"])
        self._reward = None

    def task_prompt(self, task: Task) -> str | list[dict[str, Any]]:
        return self._screen(f"Goal: {self._obs['utterance']}\nThe screen is 160x210 pixels.", first=True)

    def _screen(self, head: str, first: bool = False) -> str | list[dict[str, Any]]:
        """The current screen as a message content; it becomes the screen the next diff starts from."""
        shown, now, screenshot = None if first else self._shown, self._elements, self._obs["screenshot"]

        def a11y() -> str:
            text = "Screen elements (id, tag, text, box = x,y,w,h):\n" + "\n".join(map(element_line, now))
            return text if shown is None else f"{text}\n{screen_diff(shown, now)}"

        content = screen_content(self.observation, head, lambda: image_part(png(screenshot)), a11y)
        self._shown = now
        return content

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(task_name=self.task.data["name"], utterance=self._obs["utterance"], fields=[list(f) for f in self._obs["fields"]],
                    elements=self._elements, reply_format=self.reply_format)
        return obs, info

    def step(self, action: Any):
        acted = self._calls.total()
        obs, reward, terminated, truncated, info = self._reply_step(action, super().step)
        if self._calls.total() > acted and not (terminated or truncated) and info.get("valid_action"):
            screen = self.capped({"role": "user", "content": self._screen("The screen now:")})
            obs.append(screen)
            self._transcript.append(screen)
        return obs, reward, terminated, truncated, info

    def act(self, action: GUIAction) -> str:
        if action.type == "complete":
            self.finish(0.0, miniwob_reward=None)
            return "Episode ended before MiniWoB reported the task done."
        env = self._envs[self.task.data["name"]]
        if action.type == "click" and action.element is not None:
            if not action.element.lstrip("-").isdigit() or action.element not in {e["id"] for e in self._elements}:
                raise ToolError(f"no element [{action.element}]; use an id from the element list")
            mw = env.create_action("CLICK_ELEMENT", ref=int(action.element))
        elif action.type == "click":
            x, y = action.point
            if not (0 <= x < 160 and 0 <= y < 210):
                raise ToolError(f"({x:g}, {y:g}) is outside the 160x210 screen")
            mw = env.create_action("CLICK_COORDS", coords=np.array([x, y], dtype=np.float32))
        elif action.type == "type":  # Selenium's JSON cannot carry a lone surrogate (the call fails), and a NUL is dropped
            mw = env.create_action("TYPE_TEXT", text=sendable(action.text, "the text"))
        elif action.type == "press":
            from envs.gui.reward import normalize_key

            key = f"<{normalize_key(action.key).replace(' ', 'Space')}>"
            keys = list(env.action_space_config.allowed_keys)
            if key not in keys:
                raise ToolError(f"MiniWoB cannot press {action.key!r}; it allows {', '.join(k for k in keys if k.startswith('<'))}")
            mw = env.create_action("PRESS_KEY", key=keys.index(key))
        elif action.type == "scroll":
            if action.direction not in ("up", "down"):
                raise ToolError("MiniWoB scrolls up or down only")
            mw = env.create_action(f"SCROLL_{action.direction.upper()}_COORDS", coords=np.array([80, 105], dtype=np.float32))
        elif action.type == "select":
            raise ToolError("MiniWoB has no select action; click the option instead")
        else:
            mw = env.create_action("NONE")
        try:
            self._obs, reward, done, _, _ = env.step(mw)
        except Exception as e:
            raise ToolInfrastructureError(f"MiniWoB failed: {type(e).__name__}: {e}") from e
        self._elements = elements(self._obs["dom_elements"]) if self._obs.get("dom_elements") is not None else []
        if done:
            self.finish(1.0 if reward > 0 else 0.0, miniwob_reward=float(reward))
            return f"MiniWoB reports the task done (reward {reward:g})."
        return f"Done: {action.type}."

    def close(self) -> None:
        super().close()
        _close_all(self._envs)


def _close_all(envs: OrderedDict[str, Any]) -> None:
    while envs:
        _, env = envs.popitem()
        try:
            env.close()
        except Exception:  # noqa: BLE001, S110 - its browser is gone already
            pass
