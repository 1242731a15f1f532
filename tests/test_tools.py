"""tools/: the @tool spec, ToolBox.call, and parse_action over every accepted and rejected form."""

import json
import random
import string
from typing import Literal, Optional

import pytest
from pydantic import BaseModel

from tools import ParsedAction, ToolBox, ToolCall, ToolError, parse_action, tool
from tools.parsing import CALL_EXAMPLE
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


# ----- parse_action: accepted forms ---------------------------------------------------------------
def one(action, **kw) -> ToolCall:
    parsed = parse_action(action, **kw)
    assert parsed.error is None, parsed.error
    assert len(parsed.calls) == 1
    return parsed.calls[0]


def test_hermes_with_surrounding_text():
    parsed = parse_action('Let me add.\n<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>\nDone.')
    assert parsed.error is None
    assert parsed.calls == [ToolCall(name="add", arguments={"a": 1, "b": 2})]
    assert parsed.text == "Let me add.\n\nDone."


def test_bare_json_object_with_text_around():
    parsed = parse_action('Sure! {"name": "say", "arguments": {"s": "}{"}} ok')
    assert parsed.calls == [ToolCall(name="say", arguments={"s": "}{"})]
    assert parsed.text == "Sure!  ok"
    assert one('{"name": "add", "arguments": {"a": 1}}') == ToolCall(name="add", arguments={"a": 1})


def test_json_fence():
    call = one('```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```')
    assert call == ToolCall(name="add", arguments={"a": 1, "b": 2})
    assert one('```\n{"name": "ping"}\n```') == ToolCall(name="ping", arguments={})


def test_parameters_instead_of_arguments():
    assert one('<tool_call>{"name": "add", "parameters": {"a": 5}}</tool_call>') == ToolCall(name="add", arguments={"a": 5})
    assert one({"name": "add", "parameters": {"a": 5}}) == ToolCall(name="add", arguments={"a": 5})


def test_double_encoded_arguments_string():
    assert one('<tool_call>{"name": "add", "arguments": "{\\"a\\": 1}"}</tool_call>') == ToolCall(name="add", arguments={"a": 1})
    assert one('{"name": "ping", "arguments": ""}') == ToolCall(name="ping", arguments={})


def test_openai_tool_calls_list():
    calls = [{"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}]
    assert one(calls) == ToolCall(name="add", arguments={"a": 1, "b": 2}, id="call_1")


def test_message_dict_with_tool_calls():
    msg = {
        "role": "assistant",
        "content": "thinking",
        "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "add", "arguments": '{"a": 3}'}}],
    }
    parsed = parse_action(msg)
    assert parsed.error is None
    assert parsed.text == "thinking"
    assert parsed.calls == [ToolCall(name="add", arguments={"a": 3}, id="c9")]


def test_message_dict_without_tool_calls_parses_its_content():
    msg = {"role": "assistant", "content": '<tool_call>{"name": "ping", "arguments": {}}</tool_call>', "tool_calls": None}
    assert one(msg) == ToolCall(name="ping")


def test_toolcall_instance_and_plain_dict():
    tc = ToolCall(name="add", arguments={"a": 1}, id="x")
    assert one(tc) is tc
    assert one({"name": "add", "arguments": {"a": 1}, "id": "y"}) == ToolCall(name="add", arguments={"a": 1}, id="y")


def test_max_calls_none_allows_several():
    text = '<tool_call>{"name": "a", "arguments": {}}</tool_call> <tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>'
    parsed = parse_action(text, max_calls=None)
    assert parsed.error is None
    assert [c.name for c in parsed.calls] == ["a", "b"]
    assert parse_action(text, max_calls=2).calls == parsed.calls


# ----- parse_action: failures ---------------------------------------------------------------------
def fails(action, **kw) -> ParsedAction:
    parsed = parse_action(action, **kw)
    assert parsed.calls == []
    assert parsed.error is not None and parsed.error.startswith("Error:"), parsed.error
    return parsed


def test_no_call():
    p = fails("I think the answer is 4.")
    assert p.error == f"Error: no tool call found. Call exactly one tool like this: {CALL_EXAMPLE}"
    assert p.text == "I think the answer is 4."
    fails("")
    fails({"role": "assistant", "content": None})
    fails([])


def test_bad_json_names_line_and_column():
    p = fails('<tool_call>{"name": "a", "arguments": {"x": 1,}}</tool_call>')
    assert p.error.startswith("Error: <tool_call> block 1 is not valid JSON (Expecting property name enclosed in double quotes")
    assert "at line 1 column 36)" in p.error
    p = fails('{\n  "name": "a",\n  "arguments": {"x": 1\n}')
    assert "the JSON object is not valid JSON (Expecting ',' delimiter at line 4 column 2)" in p.error


def test_bad_json_in_second_block_is_named():
    p = fails('<tool_call>{"name": "a"}</tool_call><tool_call>{oops}</tool_call>', max_calls=None)
    assert p.error.startswith("Error: <tool_call> block 2 is not valid JSON")


def test_unclosed_tag():
    p = fails('<tool_call>{"name": "a", "arguments": {}}')
    assert p.error.startswith("Error: a <tool_call> tag is not closed with </tool_call>.")
    p = fails('<tool_call>{"name": "a"}</tool_call> then <tool_call>')
    assert p.error.startswith("Error: a <tool_call> tag is not closed with </tool_call>.")


@pytest.mark.parametrize(
    "action",
    [
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": 3, "arguments": {}}</tool_call>',
        '<tool_call>{"name": "", "arguments": {}}</tool_call>',
        '{"name": null}',
        {"name": 3},
        {},
        [{"type": "function", "function": {"arguments": "{}"}}],
    ],
)
def test_name_missing_or_not_a_string(action):
    assert 'has no "name" string naming the tool' in fails(action).error


@pytest.mark.parametrize(
    "action, got",
    [
        ('<tool_call>{"name": "a", "arguments": [1, 2]}</tool_call>', "list"),
        ('{"name": "a", "arguments": 3}', "int"),
        ({"name": "a", "arguments": None}, "NoneType"),
        ('<tool_call>{"name": "a", "arguments": "[1]"}</tool_call>', "list"),
    ],
)
def test_arguments_not_an_object(action, got):
    assert fails(action).error == f'Error: "arguments" of a must be a JSON object, got {got}.'


def test_arguments_string_that_is_not_json():
    p = fails('{"name": "a", "arguments": "{bad"}')
    assert p.error.startswith('Error: "arguments" of a is a string that is not valid JSON (')


def test_block_that_is_not_an_object():
    assert fails("<tool_call>[1, 2]</tool_call>").error.startswith("Error: <tool_call> block 1 must be a JSON object, got list.")


def test_several_calls_with_max_calls_1():
    text = '<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>'
    p = fails(text)
    assert p.error == (
        "Error: 2 tool calls (a, b) in one turn; at most 1 allowed. Make one call, read its result, then make the next."
    )
    two = [{"function": {"name": "a", "arguments": "{}"}}, {"function": {"name": "b", "arguments": "{}"}}]
    assert fails(two).error.startswith("Error: 2 tool calls (a, b) in one turn")


@pytest.mark.parametrize("action, kind", [(None, "NoneType"), (123, "int"), (b"bytes", "bytes"), (3.5, "float")])
def test_non_text_actions(action, kind):
    assert fails(action).error == f"Error: an action must be text or a tool call, got {kind}."


@pytest.mark.parametrize("action", [[1], {"tool_calls": [1]}, ["<tool_call>"]])
def test_structured_items_that_are_not_objects(action):
    assert fails(action).error == "Error: tool call 1 must be an object, got " + type(
        (action if isinstance(action, list) else action["tool_calls"])[0]
    ).__name__ + "."


# ----- parse_action never raises ------------------------------------------------------------------
# Inputs that once raised out of parse_action; the module promises it never raises.
def test_never_raises_on_non_list_tool_calls():
    assert fails({"role": "assistant", "tool_calls": 5}).error == 'Error: "tool_calls" must be a list of calls, got int.'


def test_content_as_a_list_of_text_parts_is_read():
    message = {"role": "assistant", "content": [{"type": "text", "text": '{"name": "f", '}, {"type": "text", "text": '"arguments": {}}'}]}
    assert parse_action(message).calls[0].name == "f"


@pytest.mark.parametrize("content", [5, [{"type": "text", "text": "hi"}]])
def test_never_raises_on_non_string_message_content(content):
    fails({"role": "assistant", "content": content})


def test_never_raises_on_non_string_argument_keys():
    assert fails({"name": "a", "arguments": {1: 2}}).error == 'Error: "arguments" of a must have string keys (argument names).'


@pytest.mark.parametrize(
    "action",
    ['<tool_call>' + "[" * 100_000 + "</tool_call>", '{"name": "a", "arguments": ' + "[" * 100_000 + "]" * 100_000 + "}"],
)
def test_never_raises_on_deeply_nested_json(action):
    assert "nested too deeply" in fails(action).error


def _junk(rng: random.Random) -> object:
    alphabet = string.printable + '{}[]":,<>/\\' * 4 + "\x00é€"
    pieces = [
        lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))),
        lambda: "<tool_call>" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) + rng.choice(["", "</tool_call>"]),
        lambda: "```" + rng.choice(["json", ""]) + "\n{" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) + "\n```",
        lambda: json.dumps({rng.choice(["name", "nam", "arguments"]): rng.choice([1, "x", None, [], {}, "{}"]), "arguments": rng.choice([1, "{", "{}", None, [], {"a": 1}])}),
        lambda: json.dumps({"name": "t", "arguments": {"a": rng.random()}})[: rng.randint(0, 40)],
        lambda: rng.choice([None, 0, -1.5, b"\x00", [], [None], [{}], {}, {"role": "assistant"}, {"tool_calls": []}, {"tool_calls": [{"function": 3}]}, {"function": {"name": "x", "arguments": "[]"}}]),
    ]
    return rng.choice(pieces)()


def test_thousand_random_junk_actions_never_raise():
    rng = random.Random(0)
    errors = 0
    for _ in range(1000):
        action = _junk(rng)
        parsed = parse_action(action)
        assert isinstance(parsed, ParsedAction)
        if parsed.error is not None:
            errors += 1
            assert parsed.error.startswith("Error:") and parsed.calls == [], (action, parsed)
        else:
            assert len(parsed.calls) == 1
    assert errors > 500  # junk is mostly rejected, and each rejection is explained
