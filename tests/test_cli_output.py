"""The CLI's output read by scripts and log files: whole ids at any width, --json, plain progress lines."""

import json
import re

from typer.testing import CliRunner

from envs import registered
from turngym.cli import app

runner = CliRunner()  # its output is not a terminal, like a pipe or a log file


def test_list_keeps_ids_and_numbers_whole_when_narrow(sql_tasks):
    for width in ("60", "80"):
        result = runner.invoke(app, ["list"], env={"COLUMNS": width})
        assert result.exit_code == 0, result.output
        for env_id in registered():
            assert env_id in result.output, (width, env_id, result.output)  # grep-able: on one line, never "turngym/GUITrac…"
        row = next(line for line in result.output.splitlines() if "turngym/SQL-v0" in line)
        assert [str(sql_tasks.size(s)) for s in ("train", "val", "test")] == re.findall(r"\d+", row.split("SQL-v0")[1])[:3]
        assert "…" not in result.output


def test_list_json_is_for_scripts(sql_tasks):
    result = runner.invoke(app, ["list", "--json"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == sorted(registered())
    sql = next(r for r in rows if r["id"] == "turngym/SQL-v0")
    assert sql["family"] == "sql" and sql["description"] == registered()["turngym/SQL-v0"].description
    assert sql["splits"] == {s: sql_tasks.size(s) for s in ("train", "val", "test")}
    assert "oracle" in sql["scripted"] and sql["error"] is None


def test_eval_off_a_terminal_prints_plain_progress_lines(tmp_path):
    result = runner.invoke(app, ["eval", "Lookup-v0", "--policy", "oracle", "-n", "40", "--out", str(tmp_path)],
                           env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.output
    lines = re.findall(r"^Lookup-v0 \[test\] oracle (\d+)/40  success (\S+)  elapsed \d+:\d\d:\d\d  ETA (\S+)$",
                       result.output, re.M)
    assert [int(n) for n, _, _ in lines] == list(range(2, 41, 2))  # every 2 episodes: 20 lines a run
    assert all(s == "1.00" for _, s, _ in lines) and lines[-1][2] == "0:00:00"
