"""``turngym/Lookup-v0``: find a key's code with ``lookup``, then ``answer`` it.

A small env a ~1-3 M parameter model learns on a CPU in minutes (short prompts, 1-3 turns,
tools that matter), for showing that training works.  See :mod:`envs.lookup.data` for the
tasks.  Tools:

* ``lookup(key)``: the table's entry for ``key``: a code (``417``), a redirect (``see "bazo"``,
  look that key up next) or ``none``;
* ``answer(value)``: ends the episode; outcome 1.0 when ``value`` (trimmed, lower-cased) equals
  the task's answer (the code, or ``none`` for a missing key), else 0.0.

``info`` adds ``kind`` (direct | redirect | missing) and, on reset, ``chain`` (the keys to look
up; for the oracle only).  ``state_key`` is the task id with the set of keys looked up so far:
episodes of one task that have learned the same entries share an anchor state.
"""

from __future__ import annotations

import json
from typing import Any

from envs.core import ToolEnv
from envs.tasks import Split, Task, TaskSet
from tools import ToolError, tool


class LookupEnv(ToolEnv):
    family = "lookup"
    default_max_turns = 4

    def __init__(self, split: Split = "train", tasks: TaskSet | None = None, max_turns: int | None = None,
                 render_mode: str | None = None):
        if tasks is None:
            from envs.lookup.data import load_lookup_tasks

            tasks = load_lookup_tasks()
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode)

    def system_prompt(self) -> str:
        # One line on purpose: a tiny model pays for every prompt token on every turn.
        return "Use lookup(key) until you get a code, then answer(value)."

    def start_task(self, task: Task) -> None:
        self._looked_up: set[str] = set()

    def state_key(self) -> str:
        return json.dumps([self.task.id if self.task else None, sorted(getattr(self, "_looked_up", ()))])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(kind=self.task.data["kind"], chain=list(self.task.data["chain"]))
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        info["kind"] = self.task.data["kind"]
        return obs, reward, terminated, truncated, info

    @tool
    def lookup(self, key: str) -> str:
        """The entry for key: a code, 'see "OTHER"' (look OTHER up next) or 'none'."""
        key = key.strip().lower()
        if not key:
            raise ToolError("Error: key is empty.")
        self._looked_up.add(key)
        return self.task.data["table"].get(key, "none")

    @tool(ends_episode=True)
    def answer(self, value: str) -> str:
        """Give the code (or none) and end the episode."""
        correct = str(value).strip().lower() == self.task.answer
        self.finish(1.0 if correct else 0.0, answered=str(value))
        return "correct" if correct else "wrong"
