"""ToolEnv against hostile actions and tools: nothing raises, every message is capped, one failure channel."""

import json

import pytest

from envs.core import ToolEnv, cap_message, cap_text
from tests.arith_env import TASKS, ArithEnv
from tools import ToolError, tool
from tools.calls import ToolInfrastructureError
from tools.content import image_part, text_part


def call(tool_name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"


def _deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _cyclic_dict() -> dict:
    value: dict = {"name": "add"}
    value["arguments"] = {"a": value, "b": 1}
    return value


class RaisingObject:
    def __getattr__(self, name):
        raise RuntimeError("attribute access is hostile")

    def __repr__(self):
        raise RuntimeError("repr is hostile too")


@pytest.fixture
def env():
    env = ArithEnv(max_turns=20)
    env.reset(options={"task": "train0"})
    return env


@pytest.mark.parametrize(
    "action, expected",
    [
        (_deep_list(10_000), "Error: tool call 1 must be an object, got list."),
        ({"self": None} | {"loop": {}}, 'Error: tool call 1 has no "name" string naming the tool.'),
        (RaisingObject(), "Error: the action could not be read (RuntimeError)."),
        (b"bytes", "Error: an action must be text or a tool call, got bytes."),
    ],
    ids=["list-10000-deep", "dict-without-name", "raising-object", "bytes"],
)
def test_hostile_actions_are_explained_not_raised(env, action, expected):
    obs, reward, terminated, truncated, info = env.step(action)
    assert obs[0]["role"] == "user" and obs[0]["content"].startswith(expected)
    assert (reward, terminated, truncated, info["valid_action"], info["invalid_actions"]) == (0.0, False, False, False, 1)
    assert env.render_mode is None and env._transcript[-2]["role"] == "assistant"


def test_a_self_referencing_dict_is_explained_not_raised(env):
    cyclic = {}
    cyclic["self"] = cyclic
    obs, _, _, _, info = env.step(cyclic)  # json.dumps raised "Circular reference detected" here
    assert obs[0]["content"].startswith('Error: tool call 1 has no "name" string') and info["invalid_actions"] == 1
    assert env._transcript[-2]["content"] == "{'self': {'self': {'self': {...}}}}"


def test_cyclic_and_deep_arguments_are_bad_arguments_with_a_short_repr(env):
    obs, *_ = env.step(_cyclic_dict())
    assert obs == [{"role": "tool", "name": "add", "content": (
        "Error: bad arguments for add(a: integer, b: integer): argument 'a': Input should be a valid integer "
        "(got {'arguments': {'a': {'arguments': {...}, 'name': 'add'}, 'b': 1}, 'name': 'add'})."  # 3 levels shown
    )}]
    obs, *_ = env.step({"name": "add", "arguments": {"a": _deep_list(10_000), "b": 1}})
    assert obs[0]["content"].endswith("argument 'a': Input should be a valid integer (got [[[[...]]]]).")


def test_cap_text_keeps_the_head_and_says_how_much_was_cut():
    assert cap_text("x" * 100, 100) == "x" * 100
    capped = cap_text("abcdefghij" * 100, 100)  # 1,000 chars: marker "\n[cut: 926 more characters]" is 27
    assert capped == ("abcdefghij" * 8)[:73] + "\n[cut: 927 more characters]" and len(capped) == 100


def test_text_parts_share_the_cap_and_images_are_kept():
    image = image_part(b"\x89PNG fake bytes", "image/png")
    message = {"role": "tool", "name": "look", "content": [text_part("a" * 150), image, text_part("b" * 500)]}
    capped = cap_message(message, 200)  # 650 characters of text; the longest marker is 27: 173 kept
    assert capped["content"] == [text_part("a" * 150), image, text_part("b" * 23), text_part("\n[cut: 477 more characters]")]
    assert sum(len(p["text"]) for p in capped["content"] if p["type"] == "text") == 200
    three = {"role": "tool", "content": [text_part("x" * 300), image, text_part("y" * 100)]}
    assert cap_message(three, 200)["content"] == [text_part("x" * 173), text_part("\n[cut: 227 more characters]"), image]
    assert cap_message({"role": "user", "content": "short"}, 200) == {"role": "user", "content": "short"}
    assert cap_message(message, 650) is message


class EchoEnv(ArithEnv):
    max_observation_chars = 300

    @tool
    def echo(self, text: str) -> str:
        """Echo text back.

        Args:
            text: Anything.
        """
        return f"you said: {text}"

    @tool
    def fail(self, kind: str) -> str:
        """Fail in one of two ways.

        Args:
            kind: "infra" or "tool".
        """
        if kind == "infra":
            raise ToolInfrastructureError("the sandbox engine is down")
        raise ToolError("your input was wrong")

    @tool(ends_episode=True)
    def give_up(self) -> str:
        """End the episode without an answer."""
        return "given up"


def test_every_message_step_emits_is_capped_with_a_visible_marker():
    env = EchoEnv(max_turns=20)
    env.reset(options={"task": "train0"})
    megabyte = "y" * 1_000_000
    bad_arguments_of_a_long_name = f'<tool_call>{{"name": "{megabyte}", "arguments": 3}}</tool_call>'
    for action in (call("echo", text=megabyte), call(megabyte), bad_arguments_of_a_long_name):
        (message,), *_ = env.step(action)  # a tool result, an unknown tool's name, a parse error
        assert len(message["content"]) == 300 and message["content"].endswith(" more characters]")
    (message,), *_ = env.step(call("add", a=megabyte, b=1))  # a bad argument is quoted short
    assert message["content"].endswith("(got 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy').")
    assert env._transcript[-1]["content"] == message["content"]
    with pytest.raises(ValueError, match="max_observation_chars must be >= 100"):
        EchoEnv(max_observation_chars=99)
    assert ArithEnv(max_observation_chars=1234).max_observation_chars == 1234
    extra = env.capped({"role": "user", "content": "z" * 400})  # what a family appends after step goes through this
    assert extra["content"] == "z" * 273 + "\n[cut: 127 more characters]"


def test_infrastructure_errors_pass_through_and_end_the_env():
    env = EchoEnv()
    env.reset(options={"task": "train0"})
    obs, *_ = env.step(call("fail", kind="tool"))
    assert obs[0]["content"] == "Error: your input was wrong"
    with pytest.raises(ToolInfrastructureError, match="engine is down"):
        env.step(call("fail", kind="infra"))
    with pytest.raises(RuntimeError, match="the episode has ended"):
        env.step(call("add", a=1, b=2))


def test_ends_episode_is_honoured_when_the_tool_scores_nothing():
    env = EchoEnv()
    env.reset(options={"task": "train0"})
    obs, reward, terminated, truncated, info = env.step(call("give_up"))
    assert obs == [{"role": "tool", "name": "give_up", "content": "given up"}]
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert (info["outcome"], info["success"], info["ended_by"]) == (0.0, False, "give_up")


def test_a_plain_tool_env_without_an_override_uses_the_default_cap():
    assert ToolEnv.max_observation_chars == 8_000 and ToolEnv(TASKS).max_observation_chars == 8_000


# ----- ToolBox: one failure channel, content parts ------------------------------------------------
class Unprintable:
    def __str__(self):
        raise RuntimeError("cannot print")


def test_toolbox_lets_only_infrastructure_errors_through():
    from tools import ToolBox, ToolCall

    def engine(kind: str) -> object:
        """Fail or return oddities.

        Args:
            kind: What to do.
        """
        if kind == "infra":
            raise ToolInfrastructureError("docker daemon unreachable")
        if kind == "bug":
            raise KeyError("oops")
        if kind == "unprintable":
            return Unprintable()
        if kind == "parts":
            return [text_part("see"), image_part(b"img")]
        return [1, 2]

    box = ToolBox.from_functions([engine])
    with pytest.raises(ToolInfrastructureError, match="docker daemon unreachable"):
        box.call(ToolCall(name="engine", arguments={"kind": "infra"}))
    bug = box.call(ToolCall(name="engine", arguments={"kind": "bug"}))
    assert (bug.ok, bug.error, bug.content) == (False, "tool_crash", "Error: tool 'engine' failed: KeyError: 'oops'")
    odd = box.call(ToolCall(name="engine", arguments={"kind": "unprintable"}))
    assert (odd.ok, odd.content) == (False, "Error: tool 'engine' failed: RuntimeError: cannot print")
    parts = box.call(ToolCall(name="engine", arguments={"kind": "parts"}))
    assert parts.ok and parts.content == [text_part("see"), image_part(b"img")]
    assert box.call(ToolCall(name="engine", arguments={"kind": "list"})).content == "[1, 2]"  # not content parts: shown as text
