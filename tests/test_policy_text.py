"""Text a policy writes is the policy's: text no wire can carry (lone surrogates, NUL) is a tool error that
costs a turn, never an infrastructure fault; what an env says back always encodes; check-env tries it.

WebShop and the GUI envs have theirs in their own test files (they need a server or a browser)."""

import json

import pytest

from envs.checker import check_multiturn
from envs.search.env import SearchEnv
from envs.sql.env import SQLEnv
from tests.arith_env import ArithEnv
from tools import ToolError, tool
from tools.calls import ToolInfrastructureError
from tools.text import printable, sendable, text_problem

SURROGATE = "towel \udbca pink"  # what a sampled token sequence can decode to
CANNOT = "cannot be sent: it holds a lone surrogate (the first, '\\udbca', at character 6)"


def call(tool_name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': tool_name, 'arguments': arguments})}</tool_call>"


def test_sendable_names_the_problem_and_printable_escapes_it():
    assert sendable("plain é 🦄", "the query") == "plain é 🦄" and text_problem("a\x00b", nul=True) is None
    with pytest.raises(ToolError, match=r"^the query cannot be sent: it holds a lone surrogate \(the first, '\\udbca', at character 6\)"):
        sendable(SURROGATE, "the query")
    assert text_problem("caf\udce9 \udcff").startswith("it holds 2 lone surrogates (the first, '\\udce9', at character 3)")
    assert text_problem("a\x00b\x00") == "it holds 2 NUL characters (the first at character 1)"
    text = "fine"
    assert printable(text) is text and printable(SURROGATE) == "towel \\udbca pink"


class WireEnv(ArithEnv):
    """Its ``send`` tool forwards text the way an HTTP client does: encoding it, blaming the server for any failure."""

    checked = False

    @tool
    def send(self, text: str) -> str:
        """Send text to the server.

        Args:
            text: What to send.
        """
        if self.checked:
            sendable(text, "the text")
        try:
            body = text.encode("utf-8")
        except Exception as e:
            raise ToolInfrastructureError(f"the server could not be reached: {type(e).__name__}: {e}") from e
        return f"sent {len(body)} bytes"

    @tool
    def echo(self, text: str) -> str:
        """Say text back, as is.

        Args:
            text: Anything.
        """
        return f"you said: {text}"


class CheckedWireEnv(WireEnv):
    checked = True


def test_check_env_tries_unsendable_text_in_every_text_argument():
    results = {r.name: r for r in check_multiturn(WireEnv, n_fuzz=20)}
    assert not results["hostile_actions"].ok  # before, no hostile action held such text: the check passed
    assert results["hostile_actions"].detail.startswith(
        "AssertionError: a lone surrogate in the arguments of send raised ToolInfrastructureError: the server could not be reached")
    results = check_multiturn(CheckedWireEnv, n_fuzz=20)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_what_an_env_says_back_always_encodes():
    env = CheckedWireEnv(max_turns=10)
    env.reset(options={"task": "train0"})
    (message,), reward, terminated, truncated, info = env.step({"name": "send", "arguments": {"text": SURROGATE}})
    assert message["content"] == f"Error: the text {CANNOT}: half of a UTF-16 pair, which is not a character and cannot be encoded. " \
                                 "Write it again as plain text."
    assert (terminated, truncated, info["valid_action"], info["tool_errors"], info["turn"]) == (False, False, True, 1, 1)
    (message,), *_ = env.step({"name": "echo", "arguments": {"text": SURROGATE}})
    assert message["content"] == "you said: towel \\udbca pink"  # was the raw surrogate: a tokenizer or a JSONL file fails on it
    message["content"].encode("utf-8")
    env.close()


def test_sql_explains_unsendable_text_and_a_submission_of_it_ends_the_episode(sql_tasks):
    env = SQLEnv(tasks=sql_tasks, split="train")
    env.reset(seed=0)
    (message,), _, terminated, _, info = env.step(call("execute_sql", query=f"SELECT '{SURROGATE}'"))
    # before: "Error: tool 'execute_sql' failed: UnicodeEncodeError: ...", reported as a tool bug
    assert message["content"].startswith("Error: the query cannot be sent: it holds a lone surrogate") and not terminated
    (message,), *_ = env.step(call("describe_table", table="\udbca"))
    assert message["content"].startswith("Error: the table name cannot be sent: it holds a lone surrogate")
    (message,), *_ = env.step(call("execute_sql", query="SELECT 1\x00"))
    assert message["content"] == "Error: SQL error: the query contains a null character"  # SQLite explains a NUL itself
    (message,), reward, terminated, _, info = env.step(call("submit_sql", query=f"SELECT '{SURROGATE}'"))
    # before: a tool crash, so the submission did not end the episode
    assert message["content"].startswith("Submitted, but the query failed: the query cannot be sent")
    assert terminated and reward == 0.0 and info["tool_errors"] == 3
    env.close()


def test_search_explains_a_query_it_cannot_encode():
    from envs.search.data import load_search_tasks

    env = SearchEnv(tasks=load_search_tasks(), split="train")
    env.reset(seed=0)
    (message,), _, terminated, _, info = env.step(call("search", query=SURROGATE))
    # before: BM25 answered "No articles match ..." and the dense encoder's tokenizer raised a TypeError
    assert message["content"].startswith(f"Error: the query {CANNOT}") and not terminated and info["tool_errors"] == 1
    (message,), *_ = env.step(call("search", query="a\x00b"))
    assert message["content"].startswith("No articles match 'a\\x00b'")
    env.close()


@pytest.mark.filterwarnings("ignore:.*LOCAL sandbox backend")
def test_code_with_lone_surrogates_or_nul_is_explained_by_the_sandbox():
    """Audit: the Code family already answers such code from the sandbox (compile errors); this keeps it so."""
    from envs.code.env import CodeEnv

    env = CodeEnv(split="train", sandbox="local", pool_size=1, run_timeout=5.0)
    env.reset(seed=0)
    (message,), _, terminated, _, info = env.step(call("run_python", code=f"print('{SURROGATE}')"))
    assert "UnicodeEncodeError: 'utf-8' codec can't encode character '\\udbca'" in message["content"] and not terminated
    (message,), *_ = env.step(call("run_python", code="print(1)\x00"))
    assert "SyntaxError: source code string cannot contain null bytes" in message["content"]
    (message,), reward, terminated, _, info = env.step(call("submit", code=f"# {SURROGATE}\n"))
    assert message["content"].startswith("Submitted: 0/") and terminated and reward == 0.0 and "sandbox_broken" not in info
    env.close()


def test_a_trajectory_holding_a_lone_surrogate_is_written_and_read_back_exactly(tmp_path):
    from agents.trajectory import Trajectory, Turn, read_jsonl, write_jsonl

    bad = "towel \udbca pink"
    traj = Trajectory(env_id="turngym/WebShop-v0", task_id="t", split="test", seed=0, sample=0, policy="p",
                      messages=[{"role": "user", "content": "buy a towel"}],
                      turns=[Turn(action=bad, observation=[{"role": "user", "content": "Error"}], reward=0.0,
                                  terminated=True, truncated=False, info={"answered": bad})])
    assert write_jsonl(tmp_path / "t.jsonl", [traj]) == 1  # raised PydanticSerializationError before
    (back,) = read_jsonl(tmp_path / "t.jsonl")
    assert back.turns[0].action == bad and back.turns[0].info["answered"] == bad
