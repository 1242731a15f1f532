"""Tool calls, and running them against a set of tools.

Every way a call can go wrong by the model's doing (unknown tool, missing or mistyped arguments,
the tool's own :class:`ToolError`, a tool bug) becomes a :class:`ToolResult` with ``ok=False`` and
a message that tells the model exactly what to fix.  The one exception that passes through
:meth:`ToolBox.call` is :class:`ToolInfrastructureError`: the machinery behind a tool failed (a
sandbox engine down, an image missing), so the episode is not a sample of the policy and the
rollout marks it ``failed``.  There is no other failure channel.

A tool returns text, or a list of OpenAI content parts (:mod:`tools.content`) for a multimodal
result (a screenshot); anything else is shown as ``str(value)``.
"""

from __future__ import annotations

import inspect
import json
import reprlib
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from tools.content import Content, is_content_parts
from tools.spec import TOOL_ATTR, ToolDef, ToolSpec, build_tool_def


class ToolError(Exception):
    """Raised by a tool for an error the model caused and should read (bad SQL, missing file)."""


class ToolInfrastructureError(RuntimeError):
    """Raised by a tool when what runs it failed, not the call (engine down, image missing).

    :meth:`ToolBox.call` lets it through, ``ToolEnv.step`` re-raises it and the rollout records the
    episode as ``failed``.  Damage the policy's own code did (a sandbox it broke) is *not* this: that
    is a :class:`ToolError` or a scored result.
    """


class ToolCall(BaseModel):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ToolResult(BaseModel):
    ok: bool
    content: Content  # text, or OpenAI content parts (text and image_url)
    error: str | None = None  # "unknown_tool" | "bad_arguments" | "tool_error" | "tool_crash"


class ToolBox:
    """A named set of callable tools with their specs."""

    def __init__(self, tools: dict[str, tuple[ToolDef, Callable]]):
        self._tools = tools

    @classmethod
    def from_object(cls, obj: Any) -> ToolBox:
        """Collect the ``@tool`` methods of ``obj``, bound to it, in definition order."""
        found: dict[str, tuple[ToolDef, Callable]] = {}
        for klass in reversed(type(obj).__mro__):
            for attr, value in vars(klass).items():
                tool_def = getattr(value, TOOL_ATTR, None)
                if tool_def is not None:
                    found.pop(tool_def.spec.name, None)  # a subclass override moves it last
                    found[tool_def.spec.name] = (tool_def, getattr(obj, attr))
        return cls(found)

    @classmethod
    def from_functions(cls, fns: Iterable[Callable]) -> ToolBox:
        """Tools from plain functions; undecorated ones are turned into tools on the fly."""
        found = {}
        for fn in fns:
            tool_def = getattr(fn, TOOL_ATTR, None) or build_tool_def(fn)
            found[tool_def.spec.name] = (tool_def, fn)
        return cls(found)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [d.spec for d, _ in self._tools.values()]

    def definition(self, name: str) -> ToolDef:
        return self._tools[name][0]

    def call(self, call: ToolCall) -> ToolResult:
        if call.name not in self._tools:
            return ToolResult(
                ok=False,
                error="unknown_tool",
                content=f"Error: unknown tool {call.name!r}. Available tools: {', '.join(self._tools)}.",
            )
        tool_def, fn = self._tools[call.name]
        try:
            args = tool_def.args_model.model_validate(call.arguments)
        except ValidationError as e:
            return ToolResult(ok=False, error="bad_arguments", content=describe_validation_error(call.name, tool_def, e))
        except Exception as e:  # pydantic itself can fail on hostile values (absurd nesting)
            return ToolResult(ok=False, error="bad_arguments", content=f"Error: bad arguments for {call.name}: {safe_str(e)}")
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {call.name!r} is async; ToolBox.call runs sync tools only")
        try:
            value = fn(**{k: getattr(args, k) for k in type(args).model_fields})
            content = value if isinstance(value, str) or is_content_parts(value) else str(value)
        except ToolInfrastructureError:
            raise  # not the model's doing: the episode is failed, not scored
        except ToolError as e:
            return ToolResult(ok=False, error="tool_error", content=f"Error: {safe_str(e)}")
        except Exception as e:  # a tool bug must not kill the episode; the model sees a plain message
            crash = f"Error: tool {call.name!r} failed: {type(e).__name__}: {safe_str(e)}"
            return ToolResult(ok=False, error="tool_crash", content=crash)
        return ToolResult(ok=True, content=content)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 80, 80
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 6


def safe_repr(value: object) -> str:
    """A short repr that cannot raise (deep nesting, cycles, a failing ``__repr__``)."""
    try:
        return _REPR.repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def safe_str(error: BaseException) -> str:
    """An exception's message, or a placeholder when its ``__str__`` fails."""
    try:
        return str(error)
    except Exception:
        return f"<unprintable {type(error).__name__} message>"


def describe_validation_error(name: str, tool_def: ToolDef, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"missing required argument {where!r}")
        elif item["type"] == "extra_forbidden":
            problems.append(f"unexpected argument {where!r}")
        else:
            problems.append(f"argument {where!r}: {item['msg']} (got {safe_repr(item.get('input'))})")
    params = tool_def.spec.parameters.get("properties", {})
    signature = ", ".join(f"{p}: {_type_name(s)}" for p, s in params.items())
    return f"Error: bad arguments for {name}({signature}): " + "; ".join(problems) + "."


def _type_name(schema: dict) -> str:
    """A short type for an argument's JSON schema: ``integer``, ``integer | null``, ``"a" | "b"``."""
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "type" in schema:
        return schema["type"] if isinstance(schema["type"], str) else " | ".join(schema["type"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type_name(s) for s in schema[key])
    if "$ref" in schema:
        return "object"
    return "any"
