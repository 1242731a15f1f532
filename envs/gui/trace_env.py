"""``turngym/GUITrace-v0``: offline GUI steps from recorded traces; no browser at training time.

Observation (reset, and after each step in trace mode): a user message whose content parts are the
goal, the history (the gold instructions of the earlier steps: teacher forcing), the screen size,
the screenshot as an ``image_url`` part (a data URL, or with ``images="file"`` a ``file://``
reference to the stored PNG) and, with ``a11y=True``, the accessibility text (element ids and
boxes).  ``step_instruction=True`` adds the step's low-level instruction (AndroidControl's "low"
setting).  Actions: the tools of :mod:`envs.gui.actions`.

* ``mode="step"`` (default): one task is one step, scored on the first valid action call by
  :func:`envs.gui.reward.score` (GUI-R1: 0.8 accuracy + 0.2 format; InfiGUI-R1 click tolerance).
  A reply that is not a valid call (bad syntax, bad arguments) gets the error message and, with
  ``retries`` (default 1), another try; the format part is then 0, so a retry earns at most 0.8.
  Out of tries: truncated, outcome 0.  (``retries=0`` is GUI-R1's single shot; gymnasium's checker
  objects to an episode that a bad first reply truncates, so it is not the default.)
* ``mode="trace"``: one task is a whole trace, one reply per step; whatever the reply, the next
  observation is the gold next screen.  Outcome: the mean step reward; ``success`` when every step
  is right.  Per-step parts are in ``info["reward_parts"]`` and ``info["step_rewards"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envs.core import ToolEnv
from envs.gui.actions import SYSTEM_INTRO, GUIActions
from envs.gui.reward import GUIAction, score
from envs.tasks import Split, Task
from tools.content import image_file_part, image_part, text_part

ZERO = {"format": 0.0, "type": 0.0, "accuracy": 0.0, "reward": 0.0}


class GUITraceEnv(GUIActions, ToolEnv):
    family = "gui-trace"
    default_max_turns = 1
    max_observation_chars = 30_000
    system_intro = SYSTEM_INTRO

    def __init__(self, split: Split = "train", tasks: Any = None, mode: str = "step", a11y: bool = False, images: str = "data_url",
                 step_instruction: bool = False, retries: int = 1, max_turns: int | None = None, render_mode: str | None = None,
                 data_root: str | None = None):
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
        self.mode, self.a11y, self.images, self.step_instruction, self.retries = mode, a11y, images, step_instruction, retries
        self.data_root = Path(getattr(tasks, "data_root", data_root or "."))

    # ----- episode ------------------------------------------------------------------------
    def start_task(self, task: Task) -> None:
        self.steps = task.data["steps"] if self.mode == "trace" else [task.data["step"]]
        self.max_turns = len(self.steps) if self.mode == "trace" else 1 + self.retries
        self.index = 0
        self.bad_replies = 0
        self.step_parts: list[dict[str, float]] = []

    def task_prompt(self, task: Task) -> list[dict[str, Any]]:
        return self._screen(self.steps[0])

    def _screen(self, step: dict[str, Any]) -> list[dict[str, Any]]:
        history = "\n".join(f"{i}. {h}" for i, h in enumerate(step["history"], 1)) or "(none)"
        text = f"Goal: {self.task.prompt}\nPrevious actions:\n{history}\n"
        if self.step_instruction:
            text += f"Next step: {step['instruction']}\n"
        text += f"The screen is {step['width']}x{step['height']} pixels. What is the next action?"
        path = self.data_root / step["image"]
        image = image_file_part(path) if self.images == "file" else image_part(path.read_bytes())
        parts = [text_part(text), image]
        if self.a11y:
            parts.append(text_part(step["a11y"]))
        return parts

    def state_key(self) -> str:
        return json.dumps([self.task.id if self.task else None, getattr(self, "index", 0)])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(self._meta(), steps=len(self.steps))
        return obs, info

    def _meta(self) -> dict[str, Any]:
        return {"app": self.task.meta.get("app"), "theme": self.task.meta.get("theme"), "kind": self.task.meta.get("kind")}

    # ----- scoring ------------------------------------------------------------------------
    def act(self, action: GUIAction) -> str:
        step = self.steps[self.index]
        self._score(score(action, GUIAction.model_validate(step["action"]), (step["width"], step["height"]), step["elements"]))
        return "Action recorded."

    def _score(self, parts: dict[str, float]) -> None:
        if self.mode == "step" and self.bad_replies:  # valid only on a retry: no format credit
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
        obs, reward, terminated, truncated, info = super().step(action)
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
            screen = self.capped({"role": "user", "content": self._screen(self.steps[self.index])})
            obs.append(screen)
            self._transcript.append(screen)
        return obs, reward, terminated, truncated, info
