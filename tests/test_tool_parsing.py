"""tools/parsing.py: parse_action over every accepted and rejected form; it never raises."""

import json
import random
import string

import pytest

from tools import ParsedAction, ToolCall, parse_action
from tools.parsing import CALL_EXAMPLE


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
    parts = [{"type": "text", "text": '{"name": "f", '}, {"type": "text", "text": '"arguments": {}}'}]
    message = {"role": "assistant", "content": parts}
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
    text = lambda n: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, n)))  # noqa: E731
    odd_names, odd_arguments = [1, "x", None, [], {}, "{}"], [1, "{", "{}", None, [], {"a": 1}]
    odd_objects = [None, 0, -1.5, b"\x00", [], [None], [{}], {}, {"role": "assistant"}, {"tool_calls": []},
                   {"tool_calls": [{"function": 3}]}, {"function": {"name": "x", "arguments": "[]"}}]
    pieces = [
        lambda: text(60),
        lambda: "<tool_call>" + text(30) + rng.choice(["", "</tool_call>"]),
        lambda: "```" + rng.choice(["json", ""]) + "\n{" + text(30) + "\n```",
        lambda: json.dumps({rng.choice(["name", "nam", "arguments"]): rng.choice(odd_names),
                            "arguments": rng.choice(odd_arguments)}),
        lambda: json.dumps({"name": "t", "arguments": {"a": rng.random()}})[: rng.randint(0, 40)],
        lambda: rng.choice(odd_objects),
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
