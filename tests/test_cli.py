"""The turngym CLI as a user drives it."""

import json

from typer.testing import CliRunner

from turngym.cli import app

runner = CliRunner()


def test_list_shows_sql_with_split_sizes(sql_tasks):
    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "turngym/SQL-v0" in line)
    for split in ("train", "val", "test"):
        assert str(sql_tasks.size(split)) in row


def test_check_env_passes_for_sql(sql_tasks):
    result = runner.invoke(app, ["check-env", "SQL-v0", "--fuzz", "50"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and result.output.count("pass") == 6  # hostile_actions is the sixth check


def test_eval_oracle_writes_results_and_trajectories(tmp_path, sql_tasks):
    out = tmp_path / "run"
    result = runner.invoke(app, ["eval", "SQL-v0", "--policy", "oracle", "--split", "test", "-n", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["episodes"] == 12 and results["success_rate"] == 1.0 and results["mean_reward"] == 1.0
    assert results["invalid_action_rate"] == 0.0 and results["split"] == "test"
    lines = (out / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 12
    assert json.loads(lines[0])["task_id"] == sql_tasks.ids("test")[0]


def test_eval_with_samples_reports_pass_at_k(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["eval", "SQL-v0", "--policy", "random", "-n", "3", "--samples", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["episodes"] == 12 and set(results["pass_at_k"]) == {"1", "2", "4"}


def test_bad_arguments_fail_with_a_clear_message(tmp_path):
    result = runner.invoke(app, ["eval", "SQL-v0", "--split", "dev", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "split" in result.output
    result = runner.invoke(app, ["eval", "Nope-v0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no env 'turngym/Nope-v0'" in result.output
    result = runner.invoke(app, ["eval", "SQL-v0", "--policy", "gpt", "-n", "1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown policy 'gpt'" in result.output
    result = runner.invoke(app, ["eval", "SQL-v0", "-n", "0", "--out", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "-n" in result.output and "greater than or equal to 1" in result.output
