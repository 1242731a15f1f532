"""tools/: the @tool spec and ToolBox.call (argument validation, errors as observations)."""

import json
from typing import Literal, Optional

import pytest
from pydantic import BaseModel

from tools import ToolBox, ToolCall, ToolError, tool
from tools.spec import TOOL_ATTR


# ----- @tool: the OpenAI spec ---------------------------------------------------------------------
class Point(BaseModel):
    x: int
    y: int = 0


@tool
def search(
    query: str,
    limit: int = 5,
    tags: list[str] = [],  # noqa: B006
    mode: Literal["fast", "exact"] = "fast",
    where: Point | None = None,
    note: Optional[str] = None,  # noqa: UP045
    point: Point = Point(x=0),  # noqa: B008
) -> str:
    """Search the index.

    Finds documents.

    Args:
        query: What to look for. It can span
            several lines of text.
        limit (int): How many hits.
        tags: Tags to filter by.
        mode: Search mode.
        where: A point.
        unknown: Not a parameter.

    Returns:
        hits: the hits found.
    """
    return f"{query}|{limit}|{tags}|{mode}|{where}|{note}"


POINT_DEF = {
    "properties": {
        "x": {"title": "X", "type": "integer"},
        "y": {"default": 0, "title": "Y", "type": "integer"},
    },
    "required": ["x"],
    "title": "Point",
    "type": "object",
}


def test_tool_spec_is_the_exact_json_schema():
    spec = getattr(search, TOOL_ATTR).spec
    assert spec.name == "search"
    assert spec.description == "Search the index. Finds documents."
    assert spec.parameters == {
        "$defs": {"Point": POINT_DEF},
        "additionalProperties": False,
        "properties": {
            "query": {"type": "string", "description": "What to look for. It can span several lines of text."},
            "limit": {"type": "integer", "default": 5, "description": "How many hits."},
            "tags": {"type": "array", "items": {"type": "string"}, "default": [], "description": "Tags to filter by."},
            "mode": {"type": "string", "enum": ["fast", "exact"], "default": "fast", "description": "Search mode."},
            "where": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}], "default": None, "description": "A point."},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "point": {"$ref": "#/$defs/Point", "default": {"x": 0, "y": 0}},
        },
        "required": ["query"],
        "type": "object",
    }
    # Property order follows the signature (models read it as given).
    assert list(spec.parameters["properties"]) == ["query", "limit", "tags", "mode", "where", "note", "point"]
    assert spec.openai() == {"type": "function", "function": spec.model_dump()}
    json.dumps(spec.openai())  # serializable as sent to an API


def test_tool_returns_the_function_unchanged():
    assert search("q") == "q|5|[]|fast|None|None"
    assert search.__name__ == "search"


def test_tool_without_parameters_has_empty_properties_and_required():
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert getattr(ping, TOOL_ATTR).spec.parameters == {
        "additionalProperties": False,
        "properties": {},
        "required": [],
        "type": "object",
    }


def test_tool_options_override_name_and_description():
    @tool(name="plus", description="Adds.", ends_episode=True)
    def add(a: int, b: int) -> int:
        """Ignored summary."""
        return a + b

    d = getattr(add, TOOL_ATTR)
    assert (d.spec.name, d.spec.description, d.ends_episode) == ("plus", "Adds.", True)
    assert d.spec.parameters["required"] == ["a", "b"]
    assert add(1, 2) == 3


def test_tool_without_docstring_is_described_by_its_name():
    @tool
    def nodoc(a: int) -> int:
        return a

    spec = getattr(nodoc, TOOL_ATTR).spec
    assert spec.description == "nodoc"
    assert spec.parameters["properties"] == {"a": {"type": "integer"}}


def test_docstring_multiline_args_and_nested_colons():
    @tool
    def f(a: str, b: int) -> str:
        """Do f.

        Args:
            a: First line
                second line: with a colon
                third line.

            b: The b.
        Raises:
            ValueError: never.
        """
        return a

    props = getattr(f, TOOL_ATTR).spec.parameters["properties"]
    assert props["a"]["description"] == "First line second line: with a colon third line."
    assert props["b"]["description"] == "The b."
    assert getattr(f, TOOL_ATTR).spec.description == "Do f."


def test_methods_skip_self():
    class Env:
        @tool
        def look(self, direction: Literal["n", "s"]) -> str:
            """Look somewhere.

            Args:
                direction: Where to look.
            """
            return direction

    params = getattr(Env.look, TOOL_ATTR).spec.parameters
    assert params["properties"] == {"direction": {"type": "string", "enum": ["n", "s"], "description": "Where to look."}}
    assert params["required"] == ["direction"]


def test_missing_type_hint_raises_type_error():
    with pytest.raises(TypeError, match="parameter 'b' needs a type hint"):

        @tool
        def bad(a: int, b) -> int:
            return a


def test_var_args_raise_type_error():
    with pytest.raises(TypeError, match=r"\*args/\*\*kwargs"):

        @tool
        def bad(*names: str) -> str:
            return ""


# ----- ToolBox ------------------------------------------------------------------------------------
class Calc:
    def __init__(self, offset: int = 0):
        self.offset = offset
        self.seen: list[tuple] = []

    @tool
    def add(self, a: int, b: int = 0) -> int:
        """Add two numbers."""
        self.seen.append((a, b))
        return a + b + self.offset

    @tool
    def locate(self, p: Point, tags: list[str]) -> str:
        """Where."""
        return f"{type(p).__name__}({p.x},{p.y}) {tags}"

    @tool
    def fail(self, msg: str) -> str:
        """Fail with a message for the model."""
        raise ToolError(msg)

    @tool
    def div(self, a: int, b: int) -> float:
        """Divide."""
        return a / b

    def helper(self) -> None:  # not a tool
        pass


class LoudCalc(Calc):
    @tool
    def add(self, a: int, b: int = 0) -> int:
        """Add loudly."""
        return 1000 + a + b


def test_from_object_collects_bound_tools_in_definition_order():
    calc = Calc(offset=10)
    box = ToolBox.from_object(calc)
    assert box.names == ["add", "locate", "fail", "div"]
    assert [s.name for s in box.specs()] == box.names
    res = box.call(ToolCall(name="add", arguments={"a": 1, "b": 2}))
    assert res.model_dump() == {"ok": True, "content": "13", "error": None}
    assert calc.seen == [(1, 2)]  # bound to this instance


def test_from_object_subclass_override_wins_and_moves_last():
    box = ToolBox.from_object(LoudCalc())
    assert box.names == ["locate", "fail", "div", "add"]
    assert box.definition("add").spec.description == "Add loudly."
    assert box.call(ToolCall(name="add", arguments={"a": 1})).content == "1001"


def test_from_functions_decorates_plain_functions():
    def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    box = ToolBox.from_functions([mul, search])
    assert box.names == ["mul", "search"]
    assert box.call(ToolCall(name="mul", arguments={"a": 6, "b": 7})).content == "42"


@pytest.fixture
def box():
    return ToolBox.from_object(Calc())


def test_call_ok_with_model_and_list_arguments(box):
    res = box.call(ToolCall(name="locate", arguments={"p": {"x": 1}, "tags": ["a", "b"]}))
    assert res.ok and res.content == "Point(1,0) ['a', 'b']"


def test_call_unknown_tool_lists_available_tools(box):
    res = box.call(ToolCall(name="nope"))
    assert res.ok is False and res.error == "unknown_tool"
    assert res.content == "Error: unknown tool 'nope'. Available tools: add, locate, fail, div."


def test_call_missing_argument_names_it(box):
    res = box.call(ToolCall(name="add", arguments={"b": 1}))
    assert (res.ok, res.error) == (False, "bad_arguments")
    assert res.content == "Error: bad arguments for add(a: integer, b: integer): missing required argument 'a'."


def test_call_extra_argument_names_it(box):
    res = box.call(ToolCall(name="add", arguments={"a": 1, "c": 2}))
    assert res.error == "bad_arguments"
    assert res.content == "Error: bad arguments for add(a: integer, b: integer): unexpected argument 'c'."


def test_call_wrong_type_names_argument_and_value(box):
    res = box.call(ToolCall(name="add", arguments={"a": "x"}))
    assert res.error == "bad_arguments"
    assert res.content.startswith("Error: bad arguments for add(a: integer, b: integer): argument 'a': ")
    assert res.content.endswith("(got 'x').")
    nested = box.call(ToolCall(name="locate", arguments={"p": {"x": "q"}, "tags": "a"}))
    assert "argument 'p.x'" in nested.content and "(got 'q')" in nested.content
    assert "argument 'tags'" in nested.content and "(got 'a')" in nested.content


def test_call_tool_error_is_shown_to_the_model(box):
    res = box.call(ToolCall(name="fail", arguments={"msg": "no such table: foo"}))
    assert res.model_dump() == {"ok": False, "content": "Error: no such table: foo", "error": "tool_error"}


def test_call_unexpected_exception_becomes_tool_crash(box):
    res = box.call(ToolCall(name="div", arguments={"a": 1, "b": 0}))
    assert res.model_dump() == {
        "ok": False,
        "content": "Error: tool 'div' failed: ZeroDivisionError: division by zero",
        "error": "tool_crash",
    }
    assert box.call(ToolCall(name="div", arguments={"a": 1, "b": 4})).content == "0.25"


def test_bad_argument_error_spells_optional_literal_and_model_types():
    class Point(BaseModel):
        x: int

    @tool
    def place(at: Optional[int], side: Literal["left", "right"], point: Point) -> str:
        """Place something."""
        return ""

    res = ToolBox.from_functions([place]).call(ToolCall(name="place", arguments={"at": "q"}))
    assert res.content.startswith('Error: bad arguments for place(at: integer | null, side: "left" | "right", point: object): ')
