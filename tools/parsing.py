"""Tool calls from model output.

Accepted forms, tried in this order:

1. structured calls: an OpenAI ``tool_calls`` list, a message dict holding one, a
   :class:`ToolCall`, or a ``{"name": ..., "arguments": ...}`` dict;
2. Hermes / Qwen text: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
3. a bare JSON object with ``name`` and ``arguments`` (or ``parameters``), optionally in a
   ```` ```json ```` fence.

:func:`parse_action` never raises: a malformed action comes back with ``error`` set to a
message that says what was wrong and how a correct call looks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from tools.calls import ToolCall

CALL_EXAMPLE = '<tool_call>{"name": "TOOL_NAME", "arguments": {"ARG": "VALUE"}}</tool_call>'
_HERMES = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


class ParsedAction(BaseModel):
    text: str = ""  # what the model wrote outside the calls
    calls: list[ToolCall] = Field(default_factory=list)
    error: str | None = None


def parse_action(action: Any, *, max_calls: int | None = 1) -> ParsedAction:
    """Parse an action into tool calls; ``max_calls=None`` allows any number."""
    try:
        parsed = _parse(action)
    except _ParseError as e:
        return ParsedAction(text=action if isinstance(action, str) else "", error=str(e))
    except Exception as e:  # a hostile object (a property that raises, a cycle pydantic rejects): still an answer
        return ParsedAction(error=f"Error: the action could not be read ({type(e).__name__}). Write: {CALL_EXAMPLE}")
    if not parsed.calls:
        parsed.error = f"Error: no tool call found. Call exactly one tool like this: {CALL_EXAMPLE}"
    elif max_calls is not None and len(parsed.calls) > max_calls:
        names = ", ".join(c.name for c in parsed.calls)
        parsed.error = (
            f"Error: {len(parsed.calls)} tool calls ({names}) in one turn; at most {max_calls} allowed. "
            "Make one call, read its result, then make the next."
        )
        parsed.calls = []
    return parsed


class _ParseError(ValueError):
    pass


def _parse(action: Any) -> ParsedAction:
    if isinstance(action, ToolCall):
        return ParsedAction(calls=[action])
    if isinstance(action, list):
        return ParsedAction(calls=[_structured(item, i) for i, item in enumerate(action)])
    if isinstance(action, dict):
        if "tool_calls" in action or "role" in action:
            calls = action.get("tool_calls") or []
            if not isinstance(calls, list):
                raise _ParseError(f'Error: "tool_calls" must be a list of calls, got {type(calls).__name__}.')
            text = _content_text(action.get("content"))
            parsed = ParsedAction(text=text, calls=[_structured(c, i) for i, c in enumerate(calls)])
            if not calls and parsed.text:
                return _parse_text(parsed.text)
            return parsed
        return ParsedAction(calls=[_structured(action, 0)])
    if hasattr(action, "tool_calls") and not isinstance(action, str):  # an openai ChatCompletionMessage
        return _parse(action.model_dump() if hasattr(action, "model_dump") else vars(action))
    if isinstance(action, str):
        return _parse_text(action)
    raise _ParseError(f"Error: an action must be text or a tool call, got {type(action).__name__}.")


def _content_text(content: Any) -> str:
    """A message's content as text: a string, or OpenAI's list of ``{"type": "text"}`` parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise _ParseError(
        f'Error: message "content" must be text or a list of {{"type": "text", "text": ...}} parts, '
        f"got {type(content).__name__}."
    )


def _loads(raw: str) -> Any:
    """``json.loads`` whose failures (bad JSON, absurd nesting) all become ``ValueError``."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _parse_text(text: str) -> ParsedAction:
    blocks = _HERMES.findall(text)
    if blocks:
        calls = [_from_json(block, f"<tool_call> block {i + 1}") for i, block in enumerate(blocks)]
        rest = _HERMES.sub("", text)
        if "<tool_call>" in rest:
            raise _ParseError("Error: a <tool_call> tag is not closed with </tool_call>.")
        return ParsedAction(text=rest.strip(), calls=calls)
    if "<tool_call>" in text:
        raise _ParseError(f"Error: a <tool_call> tag is not closed with </tool_call>. Write: {CALL_EXAMPLE}")
    for candidate in _FENCE.findall(text) or _json_objects(text):
        try:
            obj = _loads(candidate)
        except ValueError:
            continue
        if isinstance(obj, dict) and "name" in obj:
            return ParsedAction(text=text.replace(candidate, "").strip(), calls=[_from_obj(obj, "the JSON object")])
    stripped = text.strip()
    if stripped.startswith("{"):
        _from_json(stripped, "the JSON object")  # raises with the decoder's message
    return ParsedAction(text=stripped)


def _json_objects(text: str) -> list[str]:
    """Outermost ``{...}`` spans of ``text`` (brace matching that respects JSON strings)."""
    spans, depth, start, in_str, escape = [], 0, 0, False, False
    for i, ch in enumerate(text):
        if in_str:
            escape = not escape and ch == "\\"
            if ch == '"' and not escape:
                in_str = False
            continue
        if ch == '"' and depth:
            in_str = True
        elif ch == "{":
            start = i if depth == 0 else start
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _from_json(raw: str, where: str) -> ToolCall:
    try:
        obj = _loads(raw)
    except ValueError as e:
        raise _ParseError(f"Error: {where} is not valid JSON ({e}). Write: {CALL_EXAMPLE}") from None
    return _from_obj(obj, where)


def _from_obj(obj: Any, where: str) -> ToolCall:
    if not isinstance(obj, dict):
        raise _ParseError(f"Error: {where} must be a JSON object, got {type(obj).__name__}. Write: {CALL_EXAMPLE}")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise _ParseError(f'Error: {where} has no "name" string naming the tool. Write: {CALL_EXAMPLE}')
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some models double-encode arguments
        try:
            args = _loads(args) if args.strip() else {}
        except ValueError as e:
            raise _ParseError(f'Error: "arguments" of {name} is a string that is not valid JSON ({e}).') from None
    if not isinstance(args, dict):
        raise _ParseError(f'Error: "arguments" of {name} must be a JSON object, got {type(args).__name__}.')
    if not all(isinstance(key, str) for key in args):
        raise _ParseError(f'Error: "arguments" of {name} must have string keys (argument names).')
    call_id = obj.get("id")
    return ToolCall(name=name, arguments=args, id=call_id if isinstance(call_id, str) else None)


def _structured(item: Any, index: int) -> ToolCall:
    if isinstance(item, ToolCall):
        return item
    if hasattr(item, "model_dump"):
        item = item.model_dump()
    if not isinstance(item, dict):
        raise _ParseError(f"Error: tool call {index + 1} must be an object, got {type(item).__name__}.")
    if "function" in item and isinstance(item["function"], dict):  # OpenAI: {"id", "type", "function": {...}}
        call = _from_obj(item["function"], f"tool call {index + 1}")
        return call.model_copy(update={"id": item.get("id") if isinstance(item.get("id"), str) else None})
    return _from_obj(item, f"tool call {index + 1}")
