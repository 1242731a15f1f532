"""``Trajectory``: one episode as data, serializable to JSONL for replay, inspection and training.

``messages`` holds the env's first observation (system + user); each :class:`Turn` holds the
assistant's action, the env's new messages, the step reward and the step info.  Token-level
fields come from token-level policies (vLLM, HF) and stay None otherwise: ``prompt_ids`` (the
rendered first observation with the generation prompt), then per turn the sampled
``token_ids`` with their rollout ``logprobs`` and the ``observation_ids`` the template added
after them.  Their concatenation is the exact sequence the policy saw; :meth:`Trajectory.token_ids`,
:meth:`~Trajectory.loss_mask`, :meth:`~Trajectory.rollout_logprobs` and
:meth:`~Trajectory.turn_spans` give it flat.  ``finish_reason`` says why the episode ended:
``stop`` (the env terminated it), ``max_turns`` (truncated), ``length`` (no context left) or
``error`` (``failed``).  Each turn records the ``policy_version`` (weights version) that sampled it;
:attr:`Trajectory.policy_versions` lists them (more than one: weights changed mid-episode).
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
    token_ids: list[int] | None = None  # the completion's ids exactly as sampled
    logprobs: list[float] | None = None  # rollout logprob of each sampled id
    finish_reason: str = "stop"  # the completion's: stop | length | error
    observation_ids: list[int] | None = None  # template tokens after the completion (mask 0)
    policy_version: int | None = None  # the weights version that sampled this turn (token policies)


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
    prompt_ids: list[int] | None = None  # token-level policies only
    finish_reason: str | None = None  # stop | max_turns | length | error

    @property
    def has_tokens(self) -> bool:
        return self.prompt_ids is not None and all(t.token_ids is not None and t.observation_ids is not None for t in self.turns)

    def _pieces(self) -> Iterator[tuple[list[int], int, list[float] | None]]:
        if not self.has_tokens:
            raise ValueError("this trajectory has no token data (it came from a text-only policy)")
        yield self.prompt_ids, 0, None
        for t in self.turns:
            yield t.token_ids, 1, t.logprobs
            yield t.observation_ids, 0, None

    def token_ids(self) -> list[int]:
        """The whole sequence: prompt, then each turn's sampled ids and observation ids."""
        return [i for ids, _, _ in self._pieces() for i in ids]

    def loss_mask(self) -> list[int]:
        """1 on sampled tokens, 0 on prompt and observation tokens."""
        return [m for ids, m, _ in self._pieces() for _ in ids]

    def rollout_logprobs(self) -> list[float]:
        """The sampler's logprob on sampled tokens, 0.0 elsewhere."""
        out: list[float] = []
        for ids, _, lps in self._pieces():
            out += list(lps) if lps is not None else [0.0] * len(ids)
        return out

    def turn_spans(self) -> list[tuple[int, int]]:
        """[start, end) of each turn's sampled ids in :meth:`token_ids`."""
        spans, pos = [], 0
        for ids, m, _ in self._pieces():
            if m:
                spans.append((pos, pos + len(ids)))
            pos += len(ids)
        return spans

    def prefix_ids(self, turn: int) -> list[int]:
        """The ids the policy saw before sampling turn ``turn`` (``turn == len(turns)``: all)."""
        spans = self.turn_spans()
        return self.token_ids()[: spans[turn][0]] if turn < len(spans) else self.token_ids()

    @property
    def policy_versions(self) -> list[int]:
        """The distinct weights versions that sampled this episode's turns, ascending (empty: untracked)."""
        return sorted({t.policy_version for t in self.turns if t.policy_version is not None})

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
