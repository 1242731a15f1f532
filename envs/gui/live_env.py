"""``turngym/GUI-v0``: live episodes on the synthetic apps in headless Chromium.

Reset loads the task's app (a fresh page realm) and shows the goal with the first screen; after
every executed action the tool answers in text (what happened) and a user message carries the new
screen as ``observation`` says (:mod:`envs.gui.screens`): ``"both"`` (default) the screenshot as an
``image_url`` part and the element list with ids and boxes; ``"screenshot"`` the image only;
``"a11y"`` text only (no screenshot is even taken): the element list and, after the first screen,
what changed since the screen shown before (added, removed, changed value, scroll).  ``a11y=True``
/ ``False`` (deprecated) mean ``"both"`` / ``"screenshot"``.  ``reply_format="think_answer"``
acts only on the call inside ``<answer>…</answer>`` (:mod:`envs.gui.replies`).  Actions: :mod:`envs.gui.actions`; ``click(element)`` scrolls the element
into view first, ``click(x, y)`` clicks the screen as it is.  ``complete()`` ends the episode:
outcome 1 when the app state meets every success condition of the goal, else 0.  Truncated after
``max_turns`` (default 15) replies, outcome 0.  ``info["goal_met"]`` says after every step whether
the state meets the goal now (a progress signal; the outcome still needs ``complete()``).

One browser per process (:func:`envs.gui.browser.browser_lease`), one page per env, reused across
episodes; nothing starts before the first ``reset``.  A browser fault (crash, time-out) raises
``ToolInfrastructureError``: the rollout records the episode as failed, never as the policy's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from envs.core import ToolEnv
from envs.gui import page as P
from envs.gui.actions import SYSTEM_INTRO, GUIActions, intro_for
from envs.gui.apps import goal_met, render_app
from envs.gui.replies import ReplyFormat, check_reply_format
from envs.gui.reward import GUIAction
from envs.gui.screens import observation_mode, screen_content, screen_diff
from envs.tasks import Split, Task, TaskSet
from tools import ToolError
from tools.calls import ToolInfrastructureError
from tools.content import image_part
from tools.text import sendable


class GUIEnv(ReplyFormat, GUIActions, ToolEnv):
    family = "gui"
    default_max_turns = 15
    max_observation_chars = 30_000
    system_intro = SYSTEM_INTRO

    def __init__(self, split: Split = "train", tasks: TaskSet | None = None, max_turns: int | None = None, observation: str | None = None,
                 viewport: tuple[int, int] = (800, 600), render_mode: str | None = None, reply_format: str = "tool_call",
                 a11y: bool | None = None):
        self.observation = observation_mode(observation, a11y, "both")
        self.reply_format = check_reply_format(reply_format)
        if tasks is None:
            from envs.gui.tasks import load_live_tasks

            tasks = load_live_tasks()
        if not (200 <= viewport[0] <= 4000 and 200 <= viewport[1] <= 4000):
            raise ValueError(f"viewport must be between 200 and 4000 pixels a side, got {viewport}")
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode)
        self.viewport = tuple(viewport)
        self.system_intro = self.format_intro(intro_for(self.observation))
        self._lease: Any = None
        self._session: str | None = None
        self._state: Any = None
        self._shown: dict[str, Any] | None = None  # the observation of the screen shown last (the diff starts there)

    # ----- browser ------------------------------------------------------------------------
    def _browser(self, new_page_ok: bool = False) -> Any:
        """The running browser; a page for this env is opened at episode start (``new_page_ok``).
        A page lost mid-episode (browser restarted, page reclaimed) is an infrastructure fault."""
        from envs.gui.browser import browser_lease

        if self._lease is None:
            self._lease = browser_lease()
        try:
            browser = self._lease.get()
            if self._session is None or self._session not in browser.pages:
                if not new_page_ok:
                    raise RuntimeError("this env's page was lost mid-episode (the browser restarted or the page was reclaimed)")
                self._session = browser.new_page(*self.viewport)
            return browser
        except Exception as e:
            raise ToolInfrastructureError(f"the browser is unavailable: {type(e).__name__}: {e}") from e

    def _run(self, fn: Any, *args: Any) -> Any:
        browser = self._browser()
        try:
            return browser.call(fn, browser.page(self._session), *args)
        except P.ActionRefused:
            raise
        except Exception as e:
            raise ToolInfrastructureError(f"the browser failed: {type(e).__name__}: {e}") from e

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        d = task.data
        app_page, _ = render_app(d["app"], d["seed"], d["theme"])
        self._browser(new_page_ok=True)
        self._run(P.load, app_page.html())
        self._observe()

    def _observe(self) -> None:
        self._obs = self._run(P.observe, self.observation != "a11y")  # a11y: no screenshot taken
        self._state = self._obs["state"]

    def task_prompt(self, task: Task) -> str | list[dict[str, Any]]:
        return self._screen(f"Goal: {task.prompt}\nThe screen is {self.viewport[0]}x{self.viewport[1]} pixels.", first=True)

    def _screen(self, head: str, first: bool = False) -> str | list[dict[str, Any]]:
        """The current screen as a message content; it becomes the screen the next diff starts from."""
        obs, shown = self._obs, None if first else self._shown

        def a11y() -> str:
            text = P.a11y_text(obs["elements"], obs["scroll"])
            return text if shown is None else f"{text}\n{screen_diff(shown['elements'], obs['elements'], shown['scroll'], obs['scroll'])}"

        content = screen_content(self.observation, head, lambda: image_part(obs["png"]), a11y)
        self._shown = obs
        return content

    def state_key(self) -> str:
        digest = hashlib.sha256(json.dumps(self._state, sort_keys=True).encode()).hexdigest()[:16]
        return json.dumps([self.task.id if self.task else None, digest])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        d = self.task.data
        info.update(app=d["app"], theme=d["theme"], kind=d["kind"], plan=d["plan"], goal_met=goal_met(self._state, d["expect"]),
                    reply_format=self.reply_format)
        return obs, info

    def step(self, action: Any):
        acted = self._calls.total() if self.task is not None else 0
        obs, reward, terminated, truncated, info = self._reply_step(action, super().step)
        info["goal_met"] = goal_met(self._state, self.task.data["expect"])
        if self._calls.total() > acted and not (terminated or truncated) and info.get("valid_action"):
            screen = self.capped({"role": "user", "content": self._screen("The screen now:")})
            obs.append(screen)
            self._transcript.append(screen)
        return obs, reward, terminated, truncated, info

    # ----- actions ------------------------------------------------------------------------
    def act(self, action: GUIAction) -> str:
        if action.type == "complete":
            met = goal_met(self._run(P.state), self.task.data["expect"])
            self.finish(1.0 if met else 0.0, goal_met=met)
            return "Episode complete." if met else "Episode complete; the goal was not reached."
        for what, text in (("the element id", action.element), ("the text", action.text)):
            if text is not None:
                sendable(text, what)  # the browser driver's JSON cannot carry a lone surrogate; a keyboard types no NUL
        try:
            if action.type == "click":
                text = self._run(P.click_element, action.element) if action.element else self._run(P.click_point, *action.point)
            elif action.type == "type":
                text = self._run(P.type_text, action.text)
            elif action.type == "scroll":
                text = self._run(P.scroll, action.direction)
            elif action.type == "press":
                text = self._run(P.press, action.key)
            elif action.type == "select":
                text = self._run(P.select_option, action.element, action.text)
            else:
                text = "Waited."
        except P.ActionRefused as e:
            raise ToolError(str(e)) from None
        finally:
            self._observe()
        return text

    def close(self) -> None:
        super().close()
        if self._lease is not None:
            from envs.gui.browser import SERVICE_KEY
            from envs.services import info

            if self._session is not None and (info(SERVICE_KEY) or {}).get("running"):
                try:
                    self._lease.get().close_page(self._session)
                except Exception:  # noqa: BLE001, S110 - the browser is gone already
                    pass
            self._lease.release()
            self._lease, self._session = None, None
