"""Typed functions become tools.

``@tool`` reads a function's signature and docstring and attaches a :class:`ToolDef`: an
OpenAI-format function spec (JSON schema from the type hints, descriptions from the docstring's
``Args:`` section) and a pydantic model that validates arguments before the call.  The function
itself is returned unchanged, so it stays an ordinary method or function.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

TOOL_ATTR = "__turngym_tool__"


class ToolSpec(BaseModel):
    """A tool as a model sees it."""

    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        """The OpenAI ``tools=[...]`` entry for this tool."""
        return {"type": "function", "function": self.model_dump()}


class ToolDef(BaseModel):
    """What ``@tool`` attaches to a function: its spec and its argument model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    spec: ToolSpec
    args_model: type[BaseModel]
    ends_episode: bool = False


def tool(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ends_episode: bool = False,
) -> Any:
    """Mark ``fn`` as a tool.  Usable bare (``@tool``) or with options (``@tool(name=...)``).

    Every parameter except ``self`` needs a type hint; a parameter with a default is optional.
    ``ends_episode``: a call that returns (valid arguments, no :class:`~tools.ToolError`) finishes the
    episode (e.g. ``submit``); ``ToolEnv.step`` enforces it, with outcome 0 when the tool recorded none.
    """

    def mark(f: Callable) -> Callable:
        setattr(f, TOOL_ATTR, build_tool_def(f, name=name, description=description, ends_episode=ends_episode))
        return f

    return mark(fn) if fn is not None else mark


def build_tool_def(
    fn: Callable, *, name: str | None = None, description: str | None = None, ends_episode: bool = False
) -> ToolDef:
    summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if pname == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs cannot become a JSON schema")
        if pname not in hints:
            raise TypeError(f"tool {fn.__name__}: parameter {pname!r} needs a type hint")
        default = ... if param.default is param.empty else param.default
        fields[pname] = (hints[pname], Field(default, description=arg_docs.get(pname)))
    tool_name = name or fn.__name__
    args_model = create_model(
        f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields
    )  # extra="forbid": an unknown argument is an error the model should hear about
    schema = args_model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    spec = ToolSpec(name=tool_name, description=description or summary or tool_name, parameters=schema)
    return ToolDef(spec=spec, args_model=args_model, ends_episode=ends_episode)


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description})."""
    lines = doc.splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _ARGS_HEADER.match(lines[i]):
        summary.append(lines[i])
        i += 1
    current = None
    for line in lines[i + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            break  # the next section (Returns:, Raises:) starts at column 0
        m = _ARG_LINE.match(line)
        if m and (current is None or len(line) - len(line.lstrip()) <= _indent_of(lines, i + 1)):
            current = m.group(1)
            args[current] = m.group(2).strip()
        elif current and line.strip():
            args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(s.strip() for s in summary if s.strip()), args


def _indent_of(lines: list[str], start: int) -> int:
    for line in lines[start:]:
        if line.strip():
            return len(line) - len(line.lstrip())
    return 0
