"""``Trajectory``: one episode as data, serializable to JSONL for replay, inspection and training.

``messages`` holds the env's first observation (system + user); each :class:`Turn` holds the
assistant's action, the env's new messages, the step reward and the step info.  Token-level
fields come from token-level policies (vLLM, HF) and stay None otherwise: ``prompt_ids`` (the
rendered first observation with the generation prompt), then per turn the sampled
``token_ids`` with their rollout ``logprobs`` and the ``observation_ids`` the template added
after them.  Their concatenation is the exact sequence the policy saw; :meth:`Trajectory.token_ids`,
:meth:`~Trajectory.loss_mask`, :meth:`~Trajectory.rollout_logprobs` and
:meth:`~Trajectory.turn_spans` give it flat.  ``finish_reason`` says why the episode ended:
``stop`` (the env terminated it), ``max_turns`` (truncated), ``length`` (no context left),
``unrenderable`` (the chat template refused an observation: the episode ends with the reward it
earned, its last turn without observation ids) or ``error`` (``failed``: an infrastructure fault,
see :mod:`agents.failures`).  ``error`` holds the reason for ``failed`` episodes and for the early,
policy-caused ends (``length``, ``unrenderable``), which are scored and trained on.  Each turn records the ``policy_version`` (weights version) that sampled
it; :attr:`Trajectory.policy_versions` lists them (more than one: weights changed mid-episode).

Images (``image_url`` content parts in the messages) are stored once, by reference:
:func:`write_jsonl` writes each distinct image to ``images/<sha256>.<ext>`` beside the JSONL file
(file names are content hashes, so a screenshot repeated across turns and episodes is one file)
and puts that relative path in the line instead of the base64 data; :func:`read_jsonl` restores
the data URLs (``images="inline"``, the default), or gives ``file://`` URLs of the stored files
(``images="file"``), or leaves the relative references (``images="ref"``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import PydanticSerializationError

from tools.content import IMAGE_SUFFIX, content_hash, decode_image_url, to_data_url
from tools.text import text_problem

IMAGES_DIR = "images"


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
    finish_reason: str | None = None  # stop | max_turns | length | unrenderable | error

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
    """Write one trajectory per line; images go to ``images/`` beside the file (see the module docstring)."""
    path = Path(path)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for traj in trajectories:
            n += 1
            if not _has_images(traj):
                try:
                    f.write(traj.model_dump_json() + "\n")
                    continue
                except PydanticSerializationError:  # a lone surrogate (a policy's text can decode to one)
                    pass
            data = traj.model_dump(mode="json")
            _map_image_urls(data, lambda url: _store_image(url, path.parent))
            line = json.dumps(data, ensure_ascii=False)
            if text_problem(line, nul=True):  # a lone surrogate: \u escapes keep it exactly
                line = json.dumps(data)
            f.write(line + "\n")
    return n


def read_jsonl(path: str | Path, images: Literal["inline", "file", "ref"] = "inline") -> Iterator[Trajectory]:
    """The trajectories of a JSONL file; stored image references become data URLs (``inline``),
    ``file://`` URLs (``file``) or stay as written (``ref``)."""
    if images not in ("inline", "file", "ref"):
        raise ValueError(f"images must be 'inline', 'file' or 'ref', got {images!r}")
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            if (images == "ref" or '"image_url"' not in line) and "\\ud" not in line.lower():
                yield Trajectory.model_validate_json(line)  # fast path; pydantic's parser rejects escaped lone surrogates
                continue
            data = json.loads(line)
            if images != "ref":
                _map_image_urls(data, lambda url: _resolve_image(url, path.parent, images))
            yield Trajectory.model_validate(data)


# ----- images by reference -----------------------------------------------------------------------
def _messages_of(data: Any) -> Iterator[list]:
    """The message lists of a trajectory (a model or its JSON dict): the first observation and each turn's."""
    get = data.get if isinstance(data, dict) else lambda key, default=None: getattr(data, key, default)
    yield get("messages") or []
    for turn in get("turns") or []:
        yield (turn.get("observation") if isinstance(turn, dict) else turn.observation) or []


def _has_images(traj: Trajectory) -> bool:
    return any(
        isinstance(m.get("content"), list) and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for messages in _messages_of(traj) for m in messages if isinstance(m, dict)
    )


def _map_image_urls(data: dict, fn: Callable[[str], str]) -> None:
    """Replace, in place, the url of every ``image_url`` part of a trajectory's JSON dict with ``fn(url)``."""
    for messages in _messages_of(data):
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            for part in content if isinstance(content, list) else []:
                image = part.get("image_url") if isinstance(part, dict) and part.get("type") == "image_url" else None
                if isinstance(image, dict) and isinstance(image.get("url"), str):
                    image["url"] = fn(image["url"])


def _store_image(url: str, folder: Path) -> str:
    """Write the image once as ``images/<sha256><ext>`` under ``folder``; returns that relative reference."""
    if not (url.startswith("data:") or url.startswith("file://")):
        return url  # already a reference (a trajectory read with images="ref")
    try:
        mime, data = decode_image_url(url)
    except (ValueError, OSError):
        return url  # unreadable: kept as it is rather than losing the trajectory
    if mime not in IMAGE_SUFFIX:
        return url  # a type we could not name a file for stays inline
    ref = f"{IMAGES_DIR}/{content_hash(data)}{IMAGE_SUFFIX[mime]}"
    target = folder / ref
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)  # atomic: a concurrent reader never sees half an image
    return ref


def _resolve_image(url: str, folder: Path, mode: str) -> str:
    if not url.startswith(f"{IMAGES_DIR}/"):
        return url
    file_url = (folder / url).resolve().as_uri()
    return file_url if mode == "file" else to_data_url(file_url)
