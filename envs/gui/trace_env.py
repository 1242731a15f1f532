"""``turngym/GUITrace-v0``: offline GUI steps from recorded traces; no browser at training time.

Observation (reset, and after each step in trace mode): a user message with the goal, the history
(the gold instructions of the earlier steps: teacher forcing), the screen size, then the screen as
``observation`` says (:mod:`envs.gui.screens`): ``"screenshot"`` (default; UI-R1 / GUI-R1 / GUI-G1 /
InfiGUI-R1) the screenshot as an ``image_url`` part (a data URL, or with ``images="file"`` a
``file://`` reference to the stored PNG); ``"a11y"`` (WebArena-style text agents) no image, the
recorded element list (ids, roles, names, boxes) and, in trace mode from the second screen on, what
changed since the screen before; ``"both"`` the two (``a11y=True``, deprecated, is ``"both"``).
``step_instruction=True`` adds the step's low-level instruction (AndroidControl's "low" setting;
False is "high").  Actions: the tools of :mod:`envs.gui.actions`, written as ``reply_format`` says
(:mod:`envs.gui.replies`: a bare tool call, or GUI-R1's ``<think>…</think><answer>call</answer>``).

* ``mode="step"`` (default): one task is one step, scored on the first valid action call by
  :func:`envs.gui.reward.score` (GUI-R1: 0.8 accuracy + 0.2 format; InfiGUI-R1 click tolerance).
  A reply that is not a valid call (bad syntax, bad arguments) gets the error message and, with
  ``retries`` (default 1), another try; the format part is then 0, so a retry earns at most 0.8.
  Out of tries: truncated, outcome 0.  (``retries=0`` is GUI-R1's single shot; gymnasium's checker
  objects to an episode that a bad first reply truncates, so it is not the default.)  With
  ``reply_format="think_answer"`` the format part is 1 only for a well-formed think/answer reply
  whose answer is a valid call: right action 1.0, right action without the think block 0.8, a call
  outside the answer or a malformed reply 0 (not a valid action: the error, and a retry as above).
* ``mode="trace"``: one task is a whole trace, one reply per step; whatever the reply, the next
  observation is the gold next screen.  Outcome: the mean step reward; ``success`` when every step
  is right.  Per-step parts are in ``info["reward_parts"]`` and ``info["step_rewards"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envs.core import ToolEnv
from envs.gui.actions import SYSTEM_INTRO, GUIActions, intro_for
from envs.gui.replies import ReplyFormat, check_reply_format
from envs.gui.reward import GUIAction, score
from envs.gui.screens import observation_mode, screen_content, screen_diff
from envs.tasks import Split, Task
from tools.content import image_file_part, image_part

ZERO = {"format": 0.0, "type": 0.0, "accuracy": 0.0, "reward": 0.0}


def history_text(goal: str, history: list[str]) -> str:
    """The start of every trace screen message: the goal and the earlier steps (the near-miss teacher keys on it)."""
    return f"Goal: {goal}\nPrevious actions:\n" + ("\n".join(f"{i}. {h}" for i, h in enumerate(history, 1)) or "(none)") + "\n"


class GUITraceEnv(ReplyFormat, GUIActions, ToolEnv):
    family = "gui-trace"
    default_max_turns = 1
    max_observation_chars = 30_000
    system_intro = SYSTEM_INTRO

    def __init__(self, split: Split = "train", tasks: Any = None, mode: str = "step", observation: str | None = None,
                 images: str = "data_url", step_instruction: bool = False, retries: int = 1, max_turns: int | None = None,
                 render_mode: str | None = None, data_root: str | None = None, reply_format: str = "tool_call", a11y: bool | None = None):
        self.observation = observation_mode(observation, a11y, "screenshot")
        self.reply_format = check_reply_format(reply_format)
        if mode not in ("step", "trace"):
            raise ValueError(f"mode must be 'step' or 'trace', got {mode!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if max_turns is not None:  # step mode: the tries; trace mode has one turn per recorded step
            if mode == "trace":
                raise ValueError("max_turns: trace mode takes one turn per recorded step; it cannot be set")
            if max_turns < 1:
                raise ValueError(f"max_turns must be >= 1, got {max_turns}")
            retries = max_turns - 1
        if images not in ("data_url", "file"):
            raise ValueError(f"images must be 'data_url' or 'file', got {images!r}")
        if tasks is None:
            from envs.gui.traces import load_trace_tasks

            tasks = load_trace_tasks(data_root, mode=mode)
        super().__init__(tasks, split=split, max_turns=1, render_mode=render_mode)
        self.mode, self.images, self.step_instruction, self.retries = mode, images, step_instruction, retries
        self.system_intro = self.format_intro(intro_for(self.observation))
        self.data_root = Path(getattr(tasks, "data_root", data_root or "."))

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        self.steps = task.data["steps"] if self.mode == "trace" else [task.data["step"]]
        self.max_turns = len(self.steps) if self.mode == "trace" else 1 + self.retries
        self.index = 0
        self.bad_replies = 0
        self.step_parts: list[dict[str, float]] = []

    def task_prompt(self, task: Task) -> str | list[dict[str, Any]]:
        return self._screen(0)

    def _screen(self, index: int) -> str | list[dict[str, Any]]:
        step = self.steps[index]
        text = history_text(self.task.prompt, step["history"])
        if self.step_instruction:
            text += f"Next step: {step['instruction']}\n"
        text += f"The screen is {step['width']}x{step['height']} pixels. What is the next action?"
        path = self.data_root / step["image"]

        def a11y() -> str:  # the recorded element list; in trace mode from the second screen on, the change from the one before
            if index == 0:
                return step["a11y"]
            before = self.steps[index - 1]
            return f"{step['a11y']}\n{screen_diff(before['elements'], step['elements'], before['scroll'], step['scroll'])}"

        return screen_content(self.observation, text, lambda: image_file_part(path) if self.images == "file" else image_part(path.read_bytes()), a11y)

    def state_key(self) -> str:
        return json.dumps([self.task.id if self.task else None, getattr(self, "index", 0)])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(self._meta(), steps=len(self.steps), reply_format=self.reply_format, observation=self.observation)
        return obs, info

    def _meta(self) -> dict[str, Any]:
        return {"app": self.task.meta.get("app"), "theme": self.task.meta.get("theme"), "kind": self.task.meta.get("kind")}

    # ----- scoring ------------------------------------------------------------------------
    def act(self, action: GUIAction) -> str:
        step = self.steps[self.index]
        self._score(score(action, GUIAction.model_validate(step["action"]), (step["width"], step["height"]), step["elements"]))
        return "Action recorded."

    def _score(self, parts: dict[str, float]) -> None:
        if (self.mode == "step" and self.bad_replies) or not self.well_formed:  # valid only on a retry, or not think/answer: no format credit
            parts["format"] = 0.0
            parts["reward"] = round(0.8 * parts["accuracy"], 6)
        self.step_parts.append(parts)
        self.index += 1
        if self.index == len(self.steps):
            rewards = [p["reward"] for p in self.step_parts]
            extra: dict[str, Any] = {"reward_parts": parts, "step_rewards": rewards}
            if self.mode == "trace":
                extra["trace_parts"] = self._mean_parts()
            self.finish(sum(rewards) / len(rewards), **extra)
            if self.mode == "trace":
                self._result["success"] = all(p["accuracy"] == 1.0 for p in self.step_parts)

    def _mean_parts(self) -> dict[str, float]:
        keys = ("format", "type", "accuracy", "reward")
        return {k: round(sum(p[k] for p in self.step_parts) / len(self.step_parts), 6) for k in keys}

    def step(self, action: Any):
        before = self.index
        obs, reward, terminated, truncated, info = self._reply_step(action, super().step)
        if self.index == before and self._result is None:
            # not a valid action call (bad syntax, bad arguments)
            self.bad_replies += 1
            if self.mode == "trace":  # the step scores 0 and, teacher-forced, the trace moves on
                self.step_parts.append(dict(ZERO))
                self.index += 1
            info["reward_parts"] = dict(ZERO)
        else:
            info["reward_parts"] = self.step_parts[-1]
        if truncated:  # out of tries (step) or the last step was not a valid call (trace: still its mean)
            rewards = [p["reward"] for p in self.step_parts] or [0.0]
            reward = sum(rewards) / len(rewards)
            info.update(outcome=reward, success=False, step_rewards=rewards)
            if self.mode == "trace":
                info["trace_parts"] = self._mean_parts()
        elif not terminated and self.index != before and self.index < len(self.steps):
            screen = self.capped({"role": "user", "content": self._screen(self.index)})
            obs.append(screen)
            self._transcript.append(screen)
        return obs, reward, terminated, truncated, info
