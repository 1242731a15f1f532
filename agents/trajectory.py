"""``Trajectory``: one episode as data, serializable to JSONL for replay, inspection and training.

``messages`` holds the env's first observation (system + user); each :class:`Turn` holds the
assistant's action, the env's new messages, the step reward and the step info.  Token-level
fields (ids, logprobs, loss mask) come from policies that can give them and stay None otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class Turn(BaseModel):
    action: str
    observation: list[dict[str, Any]]
    reward: float
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: str = "stop"


class Trajectory(BaseModel):
    env_id: str
    task_id: str
    split: str
    seed: int | None = None
    sample: int = 0  # index among the samples drawn for the same task (pass@k)
    policy: str = ""
    messages: list[dict[str, Any]]
    turns: list[Turn] = Field(default_factory=list)
    reset_info: dict[str, Any] = Field(default_factory=dict)
    failed: bool = False  # the policy or env failed: the episode is not a sample of the policy
    error: str | None = None
    wall_time: float = 0.0

    @property
    def final_info(self) -> dict[str, Any]:
        return self.turns[-1].info if self.turns else {}

    @property
    def outcome(self) -> float:
        return float(self.final_info.get("outcome", 0.0))

    @property
    def success(self) -> bool:
        return bool(self.final_info.get("success", False))

    @property
    def total_reward(self) -> float:
        return sum(t.reward for t in self.turns)

    @property
    def ended(self) -> bool:
        return bool(self.turns) and (self.turns[-1].terminated or self.turns[-1].truncated)

    @property
    def invalid_actions(self) -> int:
        return sum(not t.info.get("valid_action", True) for t in self.turns)

    @property
    def tool_calls(self) -> int:
        return sum(self.final_info.get("tool_calls", {}).values())

    def conversation(self) -> list[dict[str, Any]]:
        """The whole chat: first observation, then each action and its answer."""
        out = list(self.messages)
        for turn in self.turns:
            out.append({"role": "assistant", "content": turn.action})
            out.extend(turn.observation)
        return out


def write_jsonl(path: str | Path, trajectories: Iterable[Trajectory]) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for traj in trajectories:
            f.write(traj.model_dump_json() + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> Iterator[Trajectory]:
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield Trajectory.model_validate_json(line)
