"""How a GUI reply is written, set by ``reply_format``:

* ``"tool_call"`` (default): the reply is one tool call (``<tool_call>{...}</tool_call>``, or any form
  :func:`tools.parse_action` reads).  GUITrace-v0's format part is 1 for a valid call.
* ``"think_answer"``: GUI-R1's / UI-R1's / InfiGUI-R1's template, ``<think>reasoning</think>
  <answer>the tool call</answer>``.  Only the call inside the first ``<answer>…</answer>`` is acted on
  (as their accuracy reward reads the answer only): a reply without an answer block is not a valid
  action, whatever calls it holds elsewhere.  The format part is 1 only when the whole reply is a
  think block then an answer block (whitespace around them allowed, nothing else) and the answer holds a
  valid call; a valid call in a reply of another shape scores its accuracy without the format part.
  A structured (already parsed) call carries no text: it is acted on, without the format part.

:class:`ReplyFormat` is the mixin the GUI envs share: it unwraps the answer before ``ToolEnv.step``
parses it, keeps the raw reply in the transcript and says whether the reply was well formed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from envs.core import action_text

REPLY_FORMATS = ("tool_call", "think_answer")
THINK_ANSWER_INTRO = ("Write every reply as <think>your reasoning</think><answer>the tool call</answer>: the tool call goes inside "
                      "the answer; nothing else is acted on.")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NO_TAG = r"(?:(?!</?think>|</?answer>).)*"  # text holding no think / answer tag
_WELL_FORMED = re.compile(rf"\s*<think>{_NO_TAG}</think>\s*<answer>{_NO_TAG}</answer>\s*", re.DOTALL)
NO_ANSWER = ("Error: no <answer>...</answer> block, so no action was taken. Reply as <think>your reasoning</think>"
             '<answer><tool_call>{"name": "TOOL_NAME", "arguments": {"ARG": "VALUE"}}</tool_call></answer>.')


def check_reply_format(reply_format: str) -> str:
    if reply_format not in REPLY_FORMATS:
        raise ValueError(f"reply_format must be one of {', '.join(map(repr, REPLY_FORMATS))}, got {reply_format!r}")
    return reply_format


class Reply(NamedTuple):
    action: Any  # what ToolEnv.step parses
    well_formed: bool
    error: str | None = None  # the answer to a reply with nothing to act on


def unwrap(action: Any) -> Reply:
    """The think/answer reading of a reply (see the module docstring)."""
    if not isinstance(action, str):
        return Reply(action, False)
    found = _ANSWER.search(action)
    if found is None:
        return Reply("", False, NO_ANSWER)
    return Reply(found.group(1), _WELL_FORMED.fullmatch(action) is not None)


def think_answer(think: str, call: str) -> str:
    """A well-formed think/answer reply (the oracles and baselines write it)."""
    return f"<think>{think}</think><answer>{call}</answer>"


class ReplyFormat:
    """Mixin for a ``ToolEnv``: ``self.reply_format`` set in the constructor; ``well_formed`` after each step."""

    reply_format = "tool_call"
    well_formed = True  # the last reply's shape (always True in tool_call mode: the call's validity is the format there)

    def _reply_step(self, action: Any, step: Callable[[Any], tuple]) -> tuple:
        """``step(action)`` with the answer unwrapped in think_answer mode."""
        if self.reply_format != "think_answer":
            self.well_formed = True
            return step(action)
        reply = unwrap(action)
        self.well_formed = reply.well_formed
        at = len(self._transcript)
        out = step(reply.action)
        self._transcript[at] = {"role": "assistant", "content": action_text(action)}  # the reply as written
        obs = out[0]
        if reply.error and obs and obs[0]["role"] == "user":  # the parser's "no tool call found" is not the reason
            obs[0]["content"] = reply.error  # the same dict is in the transcript
        return out

    def format_intro(self, intro: str) -> str:
        return f"{intro} {THINK_ANSWER_INTRO}" if self.reply_format == "think_answer" else intro
