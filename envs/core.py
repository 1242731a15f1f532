"""``ToolEnv``: the multi-turn, tool-using environment contract.

One episode is one :class:`~envs.tasks.Task`.

* ``reset(seed=None, options=None) -> (observation, info)``.  ``options`` may hold ``"task"``
  (a :class:`Task` or a task id) and ``"split"``; otherwise a task of the env's split is drawn
  with ``self.np_random`` (so the same seed gives the same task).  The observation is the list
  of *new* messages: ``[system, user]``.  The user message (the task: its prompt, a first page or
  screen) is capped like every message ``step`` emits (below); the system message is not: it is
  the env's own text (its intro, tool specs and calling convention), fixed per env and computed
  once, and cutting it would cut a tool's spec.
* ``step(action) -> (observation, reward, terminated, truncated, info)``.  ``action`` is the
  assistant's raw text or an already-parsed tool call (see :func:`tools.parse_action`).  The
  observation is the list of new messages the env answers with: one ``tool`` message for a
  valid call, one ``user`` message explaining the problem for a malformed one.
* No action raises, whatever its type (deeply nested or self-referencing objects included).  A
  malformed one costs a turn, sets ``info["valid_action"] = False``, counts in
  ``info["invalid_actions"]`` and is answered by a message that says what was wrong.  The only
  exception ``step`` lets out is :class:`tools.ToolInfrastructureError` (the machinery behind a
  tool failed: the rollout records the episode as ``failed``).
* Every message ``step`` emits is capped at ``max_observation_chars`` characters of text (per
  env; the constructor argument or the class attribute): longer text keeps its head and ends with
  a visible ``[cut: N more characters]`` marker, the whole within the cap.  Each image part is
  capped at ``max_image_pixels`` pixels and ``max_image_bytes`` bytes of image file (class
  attributes): a larger one is scaled down, aspect ratio kept, with a ``[scaled: ...]`` text part
  after it that gives the original size; one that cannot be read or scaled becomes a visible
  ``[cut: ...]`` text part (:mod:`tools.images`).  Text that cannot be encoded as UTF-8 (a lone
  surrogate the policy wrote, quoted back) is escaped visibly (``\\udbca``), so every message
  can be tokenized and stored.  A family that adds messages after ``step`` passes them through
  :meth:`ToolEnv.capped`.
* Text a policy writes is the policy's: a tool that forwards it to a server, browser or database
  checks it first (:func:`tools.text.sendable`), so text that cannot be sent (lone surrogates,
  NUL where the receiver takes none) is a tool error that costs a turn, never an infrastructure
  fault.
* The episode *terminates* when a tool calls :meth:`ToolEnv.finish` (e.g. ``submit``), or when a
  tool marked ``ends_episode`` returns without calling it (outcome 0); a tool that raises
  :class:`tools.ToolError` does not end it.  It is *truncated* after ``max_turns`` steps.
  ``reward`` is 0 on every step but the last, where it equals ``info["outcome"]`` (the task score
  in [0, 1]; 0 when truncated).

``info`` on every step: ``task_id``, ``turn``, ``valid_action``, ``invalid_actions``,
``tool_calls`` (per tool name), ``tool_errors``, ``state_key`` (hashable anchor state for
GiGPO-style grouping); on reset and at the end also ``answer`` (ground truth for
information-gain credit); at the end ``outcome``, ``success`` and whatever the family adds.

A family subclasses ``ToolEnv``, writes ``@tool`` methods, and implements :meth:`start_task`,
:meth:`task_prompt` and optionally :meth:`state_key` and :meth:`end_task`.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

import gymnasium as gym
from pydantic import BaseModel

from envs.spaces import MessagesSpace, TextSpace
from envs.tasks import Split, Task, TaskSet, check_split
from tools import ToolBox, parse_action
from tools.calls import ToolInfrastructureError, safe_repr, safe_str
from tools.content import content_text, part_problem
from tools.images import fit_image_part
from tools.parsing import CALL_EXAMPLE, ParsedAction
from tools.text import printable

Message = dict[str, Any]


class ToolEnv(gym.Env[list, str]):
    # render_fps: gymnasium's checker warns without one; a text transcript has no real frame rate.
    metadata = {"render_modes": ["ansi"], "render_fps": 1}
    family = "custom"  # names the env family for oracles and reports
    default_max_turns = 10
    max_observation_chars = 8_000  # text per emitted message; see the module docstring
    max_image_pixels = 2048 * 2048  # per image part of an emitted message
    max_image_bytes = 4 << 20  # per image part: bytes of the image file
    system_intro = "You are an agent that solves tasks by calling tools."

    def __init__(
        self,
        tasks: TaskSet,
        split: Split = "train",
        max_turns: int | None = None,
        render_mode: str | None = None,
        calls_per_turn: int = 1,
        max_observation_chars: int | None = None,
    ):
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.tasks = tasks
        self.split = check_split(split)
        self.max_turns = self.default_max_turns if max_turns is None else max_turns
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        if max_observation_chars is not None:
            self.max_observation_chars = max_observation_chars
        if self.max_observation_chars < MIN_OBSERVATION_CHARS:
            raise ValueError(f"max_observation_chars must be >= {MIN_OBSERVATION_CHARS}, got {self.max_observation_chars}")
        if min(self.max_image_pixels, self.max_image_bytes) < 1:
            raise ValueError(f"max_image_pixels and max_image_bytes must be >= 1, got {self.max_image_pixels} and {self.max_image_bytes}")
        self.render_mode = render_mode
        self.calls_per_turn = calls_per_turn
        self.action_space = TextSpace()
        self.observation_space = MessagesSpace()
        self.toolbox = ToolBox.from_object(self)
        self.task: Task | None = None
        self._transcript: list[Message] = []

    # ----- what a family implements -------------------------------------------------------
    def start_task(self, task: Task) -> None:
        """Set up per-episode state for ``task`` (open a database, reset a sandbox)."""

    def task_prompt(self, task: Task) -> str:
        """The first user message."""
        return task.prompt

    def state_key(self) -> str:
        """A hashable summary of the env state; equal keys mean interchangeable states."""
        return json.dumps([self.task.id if self.task else None, sorted(self._calls.items())])

    def end_task(self) -> None:
        """Release per-episode resources; called on reset and close."""

    @staticmethod
    def episode_metrics(step_infos: list[list[dict[str, Any]]]) -> dict[str, float]:
        """Family-specific behaviour metrics over episodes (each a list of step infos), added to every
        evaluation summary and training step as ``env_metrics``; none by default."""
        return {}

    # ----- the contract -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        if self.task is not None:
            self.end_task()
        self.task = self._pick_task(options)
        self.turn = 0
        self.invalid_actions = 0
        self.tool_errors = 0
        self._calls: Counter[str] = Counter()
        self._done = False
        self._result: dict[str, Any] | None = None
        self.start_task(self.task)
        obs = [
            {"role": "system", "content": self._system_prompt},  # the env's own text, not capped: see the module docstring
            self.capped({"role": "user", "content": self.task_prompt(self.task)}),
        ]
        self._transcript = list(obs)
        info = {"family": self.family, "split": self.task.split, "answer": self.task.answer, **self._step_info()}
        return obs, info

    def step(self, action: Any):
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has ended; call reset()")
        self.turn += 1
        self._transcript.append({"role": "assistant", "content": action_text(action)})
        try:
            parsed = parse_action(action, max_calls=self.calls_per_turn)
        except Exception as e:  # parse_action is built not to raise; this keeps step's promise if it ever does
            parsed = ParsedAction(error=f"Error: the action could not be read ({type(e).__name__}: {safe_str(e)}). "
                                        f"Write: {CALL_EXAMPLE}")
        if parsed.error:
            self.invalid_actions += 1
            obs = [{"role": "user", "content": parsed.error}]
        else:
            obs = []
            for call in parsed.calls:
                self._calls[call.name] += 1
                try:
                    result = self.toolbox.call(call)
                except ToolInfrastructureError:
                    self._done = True  # the episode cannot go on; the rollout records it as failed
                    raise
                self.tool_errors += not result.ok
                msg: Message = {"role": "tool", "name": call.name, "content": result.content}
                if call.id:
                    msg["tool_call_id"] = call.id
                obs.append(msg)
                if result.ok and self._result is None and self.toolbox.definition(call.name).ends_episode:
                    self._result = {"outcome": 0.0, "success": False, "ended_by": call.name}  # it promised to end the episode
                if self._result is not None:
                    break  # a finishing call ends the turn
        obs = [self.capped(m) for m in obs]
        self._transcript.extend(obs)

        terminated = self._result is not None
        truncated = not terminated and self.turn >= self.max_turns
        info = {"valid_action": parsed.error is None, **self._step_info()}
        reward = 0.0
        if terminated or truncated:
            self._done = True
            result = self._result or {"outcome": 0.0, "success": False}
            info.update(result, answer=self.task.answer, truncated_by="max_turns" if truncated else None)
            reward = float(result["outcome"])
        return obs, reward, terminated, truncated, info

    def capped(self, message: Message) -> Message:
        """``message`` within this env's caps (text, images; see the module docstring): for a family that adds messages after ``step``."""
        return cap_message(cap_images(message, self.max_image_pixels, self.max_image_bytes), self.max_observation_chars)

    def finish(self, outcome: float, /, **extra: Any) -> None:
        """Called by an episode-ending tool: record the task score and any extra info keys."""
        if not 0.0 <= outcome <= 1.0:
            raise ValueError(f"outcome must lie in [0, 1], got {outcome}")
        if reserved := RESERVED_INFO_KEYS & extra.keys():  # a family's extras must not overwrite the score or step info
            raise ValueError(f"finish(): {sorted(reserved)} are set by ToolEnv, not passed as extra info keys")
        self._result = {"outcome": float(outcome), "success": outcome >= 1.0, **extra}

    @functools.cached_property
    def _system_prompt(self) -> str:
        return self.system_prompt()

    def system_prompt(self) -> str:
        """The tool specs and the calling convention; computed once per env."""
        tools = json.dumps([spec.openai() for spec in self.toolbox.specs()], indent=1)
        return (
            f"{self.system_intro}\n\nYou have these tools:\n{tools}\n\n"
            'Call one tool per reply, as <tool_call>{"name": ..., "arguments": {...}}</tool_call>. '
            f"You have at most {self.max_turns} replies."
        )

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return "\n".join(f"[{m['role']}] {_render_content(m['content'])}" for m in self._transcript)
        return None

    def close(self) -> None:
        if self.task is not None:
            self.end_task()
            self.task = None

    # ----- helpers ------------------------------------------------------------------------
    def _pick_task(self, options: dict[str, Any]) -> Task:
        task = options.get("task")
        if isinstance(task, Task):
            return task
        if isinstance(task, str):
            return self.tasks.get(task)
        if task is not None:
            raise TypeError(f"options['task'] must be a Task or a task id, got {type(task).__name__}")
        split = check_split(options.get("split", self.split))
        ids = self.tasks.ids(split)
        if not ids:
            raise ValueError(f"split {split!r} has no tasks")
        return self.tasks.get(ids[int(self.np_random.integers(len(ids)))])

    def _step_info(self) -> dict[str, Any]:
        return {
            "task_id": self.task.id,
            "turn": self.turn,
            "invalid_actions": self.invalid_actions,
            "tool_calls": dict(self._calls),
            "tool_errors": self.tool_errors,
            "state_key": self.state_key(),
        }


MIN_OBSERVATION_CHARS = 100
# info keys ToolEnv sets itself (every step's and the end's); finish() refuses them as extras
RESERVED_INFO_KEYS = frozenset({"task_id", "turn", "valid_action", "invalid_actions", "tool_calls", "tool_errors",
                                "state_key", "outcome", "success", "answer", "truncated_by", "ended_by"})


def cap_text(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters; else its head and ``[cut: N more characters]``, within ``limit``.

    Lone surrogates are escaped first (:func:`tools.text.printable`), so the result always encodes as UTF-8.
    """
    text = printable(text)
    if len(text) <= limit:
        return text
    keep = limit
    for _ in range(3):  # the marker's length depends on N, which depends on how much is kept
        keep = max(0, limit - len(_cut_marker(len(text) - keep)))
    return text[:keep] + _cut_marker(len(text) - keep)


def _cut_marker(n: int) -> str:
    return f"\n[cut: {n} more characters]"


def cap_message(message: Message, limit: int) -> Message:
    """``message`` with its text capped at ``limit`` characters in all (text parts share the budget; images stay).

    Lone surrogates are escaped first, as in :func:`cap_text`.

    Content parts: text is kept in order until the budget is spent, then one ``[cut: N more characters]``
    text part follows the last kept text (N counts every cut character, later parts included).
    """
    content = message.get("content")
    if isinstance(content, str):
        capped = cap_text(content, limit)
        return message if capped is content else {**message, "content": capped}
    if not isinstance(content, list):
        return message
    is_text = [isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content]
    if any(t and printable(p["text"]) is not p["text"] for p, t in zip(content, is_text)):
        content = [{**p, "text": printable(p["text"])} if t else p for p, t in zip(content, is_text)]
        message = {**message, "content": content}
    total = sum(len(p["text"]) for p, t in zip(content, is_text) if t)
    if total <= limit:
        return message
    left = max(0, limit - len(_cut_marker(total)))  # N <= total, so the final marker is no longer than this one
    parts: list[Any] = []
    dropped, marker_at = 0, None
    for part, text in zip(content, is_text):
        if not text:
            parts.append(part)
            continue
        keep = min(len(part["text"]), left)
        left -= keep
        dropped += len(part["text"]) - keep
        if keep:
            parts.append({**part, "text": part["text"][:keep]})
        if keep < len(part["text"]) and marker_at is None:
            marker_at = len(parts)
    parts.insert(marker_at, {"type": "text", "text": _cut_marker(dropped)})
    return {**message, "content": parts}


def cap_images(message: Message, max_pixels: int, max_bytes: int) -> Message:
    """``message`` with each image part within ``max_pixels`` and ``max_bytes`` (:func:`tools.images.fit_image_part`)."""
    content = message.get("content")
    if not isinstance(content, list) or not any(isinstance(p, dict) and p.get("type") == "image_url" for p in content):
        return message
    parts: list[Any] = []
    for part in content:
        is_image = isinstance(part, dict) and part.get("type") == "image_url" and part_problem(part) is None
        parts.extend(fit_image_part(part, max_pixels, max_bytes) if is_image else [part])
    same = len(parts) == len(content) and all(a is b for a, b in zip(parts, content))
    return message if same else {**message, "content": parts}


def action_text(action: Any) -> str:
    """The action as transcript text; never raises (cycles, absurd nesting, a failing ``__repr__``)."""
    if isinstance(action, str):
        return action
    try:
        return json.dumps(action.model_dump() if isinstance(action, BaseModel) else action)
    except Exception:  # not JSON (bytes, a cycle, 10,000 levels deep, a broken object): a short repr
        return safe_repr(action)


def _render_content(content: Any) -> str:
    if isinstance(content, list):
        images = sum(isinstance(p, dict) and p.get("type") == "image_url" for p in content)
        return content_text(content) + (f" [{images} image(s)]" if images else "")
    return str(content)
