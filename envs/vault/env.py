"""``turngym/Vault<K>-v0``: walk a chain of K rooms to the vault, reading one code digit per room.

Rules (the system prompt states them in one line):

* Every room r = 1..K has two doors, listed in a random order, and a sign naming the right one:
  ``Room 2/3. Code 4. Doors: kel mon. Sign: mon.``  The right door is learnable: it is the label
  the sign names (copy it), and held-out splits use labels never seen in training.
* ``go(door)`` through the right door moves on to room r + 1 and adds room r's digit to the code
  the next room shows; after room K it is the vault: ``Vault. Code 472.``  ``go`` through the other
  door leads into a dead end (``Dead end.``); ``back()`` returns to the room (the same text as
  before: the same state).  A detour costs two turns and teaches nothing.
* ``answer(code)`` ends the episode: outcome 1.0 when the code (trimmed) equals the task's K-digit
  code, else 0.0.  No partial credit per digit, on purpose: the regimes this env is built for are
  defined by groups whose outcomes are all equal (all 1 or all 0), which partial credit would blur.
* The turn budget B is ``max_turns``; the oracle needs K + 1 turns.  By default B = K + 1 + 2K:
  one detour per junction is affordable (the key variant adds the 2 turns of the key).
* Key variant (``key=True``): room 1 also lists a ``side`` door and shows ``Key: no.``; its other
  doors answer ``Locked.`` (then room 1's text) until the key is fetched: ``go(side)`` (``Side room. Key: yes.``), then
  ``back()`` (room 1 now shows ``Key: yes.``).  The key reveals nothing about the code.
* A bad call (an unknown door, ``go`` in a dead end, ``back`` in a room) is a tool error: it costs
  a turn, changes nothing and its message ends with the current state's text.

Observations depend only on the state (room, code so far, dead end or side room, key), never on a
turn counter.  ``info`` adds on every step ``cost_to_go`` (the oracle's number of turns from the
state reached to the end of the episode: 0 once answered), ``room``, ``place`` (room | dead |
side) and ``door`` (what this step's ``go`` did: right | decoy | side | locked, or None); on reset
also ``cost_to_go``, ``route`` (the right doors, for the oracle), ``key`` and ``rooms``.
``state_key`` is ``[task id, room, code so far, place, has key]``: a room revisited after a dead
end has the key it had before, so GiGPO's anchor groups pool the first visit and the return.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from envs.core import ToolEnv
from envs.tasks import Split, Task, TaskSet
from envs.vault.data import room_text, vault_text
from tools import ToolError, tool


def oracle_turns(rooms: int, key: bool = False) -> int:
    """Turns the oracle needs: a ``go`` per room, the answer, and go(side) + back() for the key."""
    return rooms + 1 + (2 if key else 0)


class VaultEnv(ToolEnv):
    family = "vault"
    default_max_turns = 10
    records_cost_to_go = True  # info["cost_to_go"] on reset and every step (the oracle-ctg credit method reads it)

    def __init__(self, split: Split = "train", tasks: TaskSet | None = None, rooms: int = 3, key: bool = False,
                 max_turns: int | None = None, render_mode: str | None = None):
        if tasks is None:
            from envs.vault.data import load_vault_tasks

            tasks = load_vault_tasks(rooms)
        self.rooms, self.key_variant = rooms, bool(key)
        if max_turns is None:
            max_turns = oracle_turns(rooms, self.key_variant) + 2 * rooms
        super().__init__(tasks, split=split, max_turns=max_turns, render_mode=render_mode)

    def system_prompt(self) -> str:
        # One line on purpose: a tiny model pays for every prompt token on every turn.
        rule = "go(door) through the door the sign names; a wrong door is a dead end: back(). At the vault, answer(code)."
        return rule + (" First get the key: go(side), back()." if self.key_variant else "")

    def start_task(self, task: Task) -> None:
        self._plan: list[dict[str, Any]] = task.data["rooms"]
        self._k = len(self._plan)
        self._room, self._place, self._has_key, self._ended = 1, "room", False, False
        self._door: str | None = None

    def task_prompt(self, task: Task) -> str:
        return self.observation()

    # ----- state ----------------------------------------------------------------------------
    def observation(self) -> str:
        """The text of the current state."""
        if self._place == "dead":
            return "Dead end."
        if self._place == "side":
            return "Side room. Key: yes."
        if self._room > self._k:
            return vault_text(self.task.answer)
        spec = self._plan[self._room - 1]
        key = ("yes" if self._has_key else "no") if self.key_variant and self._room == 1 else None
        return room_text(self._room, self._k, self.task.answer[:self._room - 1], spec["doors"], spec["right"], key)

    def state_key(self) -> str:
        if self.task is None or not hasattr(self, "_room"):
            return json.dumps([None])
        return json.dumps([self.task.id, self._room, self.task.answer[:self._room - 1], self._place, self._has_key])

    def cost_to_go(self) -> int:
        """Turns the oracle needs from this state to the end of the episode (0 once answered)."""
        if self._ended:
            return 0
        left = self._k + 2 - self._room  # the go's still to take, and the answer
        if self.key_variant and not self._has_key:
            left += 2
        return left + (self._place != "room")  # back() out of a dead end or the side room

    # ----- the gym API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.update(cost_to_go=self.cost_to_go(), route=list(self.task.data["route"]), key=self.key_variant, rooms=self._k)
        return obs, info

    def step(self, action: Any):
        self._door = None
        obs, reward, terminated, truncated, info = super().step(action)
        info.update(cost_to_go=self.cost_to_go(), room=self._room, place=self._place, door=self._door)
        return obs, reward, terminated, truncated, info

    # ----- tools ----------------------------------------------------------------------------
    def _error(self, reason: str) -> ToolError:
        return ToolError(f"{reason} {self.observation()}")

    @tool
    def go(self, door: str) -> str:
        """Open a door of this room."""
        if self._place != "room":
            raise self._error("call back() first.")
        if self._room > self._k:
            raise self._error("this is the vault: answer(code).")
        door = door.strip().lower()
        if self.key_variant and self._room == 1 and door == "side":
            self._place, self._has_key, self._door = "side", True, "side"
            return self.observation()
        spec = self._plan[self._room - 1]
        if door not in spec["doors"]:
            raise self._error(f"no door {door[:12]!r} here.")
        if self.key_variant and self._room == 1 and not self._has_key:
            self._door = "locked"
            return f"Locked. {self.observation()}"
        if door == spec["right"]:
            self._room, self._door = self._room + 1, "right"
        else:
            self._place, self._door = "dead", "decoy"
        return self.observation()

    @tool
    def back(self) -> str:
        """Leave a dead end or the side room."""
        if self._place == "room":
            raise self._error("nothing to go back from.")
        self._place = "room"
        return self.observation()

    @tool(ends_episode=True)
    def answer(self, code: str) -> str:
        """Give the vault code; ends the episode."""
        self._ended = True
        correct = str(code).strip() == self.task.answer
        self.finish(1.0 if correct else 0.0, answered=str(code)[:40])
        return "correct" if correct else "wrong"

    @staticmethod
    def episode_metrics(step_infos: list[list[dict[str, Any]]]) -> dict[str, float]:
        """``junction_accuracy``: right / (right + decoy) over all ``go`` calls at rooms, pooled over
        episodes (what RL has to raise); ``detours``: decoy doors taken per episode."""
        counts = [door_counts(infos) for infos in step_infos]
        right, decoy = sum(c["right"] for c in counts), sum(c["decoy"] for c in counts)
        return {"junction_accuracy": right / (right + decoy) if right + decoy else float("nan"),
                "detours": decoy / len(counts) if counts else float("nan")}


def door_counts(infos: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per-junction accuracy from step infos: right / (right + decoy) over the ``go`` calls at rooms."""
    doors = [info.get("door") for info in infos]
    right, decoy = doors.count("right"), doors.count("decoy")
    return {"right": right, "decoy": decoy, "accuracy": right / (right + decoy) if right + decoy else float("nan")}
