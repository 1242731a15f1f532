"""Issue 13: tools whose parameters are called ``name``, ``arguments``, ``id`` and ``type``.

A plugin env (registered the README's way) uses those names; the call writer, the parser, the
registry's ``make``, the random policy and a registered oracle must all handle them, through
``turngym eval`` and ``turngym check-env`` as a user runs them.
"""

import json
from typing import Literal

from typer.testing import CliRunner

import turngym
from envs import ListTaskSet, Task, ToolEnv, make
from tools import ToolError, call, parse_action, tool
from turngym.cli import app

FILES = {"build.sh": 3, "test.sh": 5, "docs": 8}
TASKS = ListTaskSet([
    Task(id=f"run/{i}", split=split, prompt=f"Run the file {file!r} with the arguments {args!r}.",
         answer=json.dumps({"file": file, "arguments": args}))
    for i, (split, file, args) in enumerate([
        ("train", "build.sh", "--fast"), ("train", "test.sh", "-k slow"), ("train", "build.sh", "--clean"),
        ("val", "test.sh", "-x"), ("test", "build.sh", "--all"),
    ])
])


class ShellEnv(ToolEnv):
    """Find a file's id in a directory, then run it with the arguments the task asks for."""

    family = "shell-clash"
    default_max_turns = 4

    def __init__(self, split="train", tasks=TASKS, name="Drive C", **kwargs):
        super().__init__(tasks, split=split, **kwargs)
        self.name = name

    @tool
    def directory(self, name: str, type: Literal["file", "folder"] = "file") -> str:
        """Look up an entry of the directory.

        Args:
            name: The entry's name.
            type: Whether the entry is a file or a folder.
        """
        if name not in FILES or (type == "folder") != (name == "docs"):
            raise ToolError(f"no {type} named {name!r} on {self.name}")
        return f"id={FILES[name]}"

    @tool(ends_episode=True)
    def run(self, id: int, arguments: str) -> str:
        """Run a file; this ends the episode.

        Args:
            id: The file's id, from directory.
            arguments: The command-line arguments.
        """
        goal = json.loads(self.task.answer)
        self.finish(1.0 if (id, arguments) == (FILES[goal["file"]], goal["arguments"]) else 0.0)
        return "done"


def oracle(turn: int, info: dict) -> str:
    goal = json.loads(info["answer"])
    if turn == 0:
        return call("directory", name=goal["file"], type="file")
    return call("run", id=FILES[goal["file"]], arguments=goal["arguments"])


turngym.register("ShellClash-v0", ShellEnv, description="tool parameters named name/arguments/id/type",
                 tasks=TASKS, oracle=oracle)
runner = CliRunner()


def test_call_writes_and_parse_reads_arguments_named_like_the_call_fields():
    text = call("run", name="n", arguments="a", id=1, type="t")
    assert text == '<tool_call>{"name": "run", "arguments": {"name": "n", "arguments": "a", "id": 1, "type": "t"}}</tool_call>'
    (parsed,) = parse_action(text).calls
    assert (parsed.name, parsed.arguments, parsed.id) == ("run", {"name": "n", "arguments": "a", "id": 1, "type": "t"}, None)


def test_make_passes_a_constructor_argument_called_name():
    env = make("ShellClash-v0", name="Drive D")
    env.reset(options={"task": "run/0"})
    obs, *_ = env.step(call("directory", name="nope"))
    assert obs[0]["content"] == "Error: no file named 'nope' on Drive D"
    obs, reward, terminated, *_ = env.step(call("run", id=3, arguments="--fast"))
    assert terminated and reward == 1.0


def _eval(policy: str, out) -> dict:
    result = runner.invoke(app, ["eval", "ShellClash-v0", "--policy", policy, "--split", "train", "--samples", "4",
                                 "--concurrency", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


def test_random_policy_through_eval_has_no_failed_episodes(tmp_path):
    results = _eval("random", tmp_path)
    assert (results["episodes"], results["failed"]) == (12, 0)
    lines = (tmp_path / "trajectories.jsonl").read_text().splitlines()
    assert all(json.loads(line)["error"] is None for line in lines)
    calls = [json.loads(line)["turns"][-1]["info"]["tool_calls"] for line in lines]
    # both tools were called with their clashing parameters, so the random writer met them
    assert sum(c.get("directory", 0) for c in calls) > 0 and sum(c.get("run", 0) for c in calls) > 0


def test_registered_oracle_through_eval_solves_every_task(tmp_path):
    results = _eval("oracle", tmp_path)
    assert (results["episodes"], results["failed"], results["success_rate"]) == (12, 0, 1.0)


def test_check_env_is_clean_for_the_plugin_env():
    result = runner.invoke(app, ["check-env", "ShellClash-v0", "--fuzz", "100"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "gymnasium" in line)
    assert row.replace("│", " ").split() == ["gymnasium", "pass"]  # no warning (e.g. "No render fps") in the detail
