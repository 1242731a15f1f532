"""``turngym compare``: aggregation of runs into the report (hand-made metrics), and end to end (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainers.compare import build_report, episodes_to_reach, mean_curve, summarize_run
from trainers.compare_report import write_report


def fake_run(folder: Path, vals: list[float], test: float, t_roll: float = 2.0, t_credit: float = 0.5) -> Path:
    """Metrics of a 4-step run with 8 episodes a step and a val evaluation every 2 steps."""
    folder.mkdir(parents=True)
    rows = []
    for step in range(1, 5):
        row = {"step": step, "episodes": 8, "time/rollout": t_roll, "time/credit": t_credit, "time/train": 1.0, "time/sync": 0.25}
        if step % 2 == 0:
            row["val/success_rate"] = vals[step // 2 - 1]
        rows.append(row)
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / "config.yaml").write_text("x: 1\n")
    (folder / "summary.json").write_text(json.dumps({"test": {"success_rate": test}}))
    return folder


def test_summarize_run_reads_curve_budget_and_time_split(tmp_path: Path):
    s = summarize_run(fake_run(tmp_path / "r", [0.25, 0.5], 0.4), wall=20.0)
    assert s["episodes"] == 32 and s["curve"] == [(16, 0.25), (32, 0.5)] and s["test_success"] == 0.4
    assert s["time"] == {"rollout": 8.0, "signals": 2.0, "train": 5.0, "eval_and_other": 5.0}


def test_report_mean_spread_and_episodes_to_reach_the_baseline(tmp_path: Path):
    grpo = [summarize_run(fake_run(tmp_path / f"g{i}", v, t), wall=20.0) for i, (v, t) in enumerate([([0.2, 0.4], 0.3), ([0.3, 0.6], 0.5)])]
    igpo = [summarize_run(fake_run(tmp_path / f"i{i}", v, t, t_credit=1.5), wall=24.0)
            for i, (v, t) in enumerate([([0.5, 0.6], 0.6), ([0.5, 0.5], 0.5)])]
    gigpo = [summarize_run(fake_run(tmp_path / f"x{i}", v, t), wall=20.0) for i, (v, t) in enumerate([([0.1, 0.2], 0.2), ([0.1, 0.2], 0.2)])]
    report = build_report({"grpo": grpo, "igpo": igpo, "gigpo": gigpo}, {0: 0.1, 1: 0.1})
    assert mean_curve([r["curve"] for r in grpo]) == [(16, 0.25, 0.2, 0.3), (32, 0.5, 0.4, 0.6)]
    assert report["baseline_final_val"] == 0.5
    g, i, x = (report["methods"][m] for m in ("grpo", "igpo", "gigpo"))
    assert g["test_mean"] == pytest.approx(0.4) and g["test_std"] == pytest.approx(0.141421, abs=1e-6) and g["test_spread"] == (0.3, 0.5)
    # igpo's mean curve is .5 at 16 episodes: it reached grpo's final (.5) with half the budget
    assert i["episodes_to_baseline_final"] == 16 and i["share_of_budget"] == 0.5
    assert g["episodes_to_baseline_final"] == 32 and x["episodes_to_baseline_final"] is None
    assert i["time"]["signals"] == 6.0 and g["time"]["signals"] == 2.0
    assert episodes_to_reach([(8, 0.1, 0, 0), (16, 0.3, 0, 0)], 0.3) == 16
    # each run against its own seed's SFT start (0.1 on both seeds): grpo 0.3, 0.5 -> +0.2, +0.4
    over = report["over_sft"]
    assert over["grpo"]["diffs"] == {"0": pytest.approx(0.2), "1": pytest.approx(0.4)}
    assert over["grpo"]["mean"] == pytest.approx(0.3) and over["grpo"]["p"] == pytest.approx(0.5)  # 2 of 4 flips as extreme
    assert over["gigpo"]["mean"] == pytest.approx(0.1) and over["gigpo"]["ci_low"] == pytest.approx(0.1)
    write_report({**report, "env": "turngym/Lookup-v0", "model": "tiny", "steps": 4, "episodes_per_step": 8, "eval_split": "val",
                  "eval_tasks": 10, "test_split": "test", "test_tasks": 10}, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| igpo | 2 | 55.0 ± 7.1 | 50.0–60.0 | 16 (50.0%) | 32 | 8 / 6 / 5 / 5 | 24 |" in md
    assert "| gigpo | 2 | 20.0 ± 0.0 | 20.0–20.0 | not reached | 32 |" in md
    assert "## Against the SFT warm start" in md and "| grpo | 0: +20.0, 1: +40.0 | +30.0 | [+20.0, +40.0] | 0.5" in md
    page = (tmp_path / "curves.html").read_text()
    assert "<svg" in page and "<polyline" in page and "https://" not in page and "<script" not in page
    assert (tmp_path / "curves.png").stat().st_size > 5000


def test_bad_requests_fail_fast(tmp_path: Path):
    from trainers.compare import compare
    from trainers.config import load_config

    cfg = load_config(preset="compare-tiny")
    with pytest.raises(ValueError, match="unknown credit methods"):
        compare(cfg, ["grpo", "nope"], 1, tmp_path)
    with pytest.raises(ValueError, match="eval_every"):
        compare(cfg.model_copy(update={"eval_every": 0}), ["grpo"], 1, tmp_path)


def test_cli_takes_per_method_settings_and_names_a_bad_one(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from tests.test_compare_runs import FakeTrain
    from trainers import compare as compare_mod
    from turngym.cli import app

    fake = FakeTrain()
    monkeypatch.setattr(compare_mod, "_train", lambda config, resume, console=None: fake(config, resume, console))
    out = tmp_path / "cmp"
    args = ["compare", "compare-tiny", "--methods", "grpo,igpo", "--seeds", "3", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--method-set", "igpo.credit_kwargs.gamma=0.9", "--target", "0.3"])
    assert result.exit_code == 0, result.output
    assert {c.credit_kwargs.get("gamma") for c, _ in fake.calls if c.credit == "igpo"} == {0.9}
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == 0.3 and report["paired"]["igpo"]["p"] == 0.25  # +0.1 on each of 3 seeds: 2 of 8 flips
    result = CliRunner().invoke(app, [*args, "--method-set", "igpo.credit_kwargs.gama=0.9"])
    assert result.exit_code == 1 and "compare.methods.igpo.credit_kwargs" in result.output


def test_cli_reads_a_study_file_over_a_preset(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    from tests.test_compare_runs import FakeTrain
    from trainers import compare as compare_mod
    from turngym.cli import app

    fake = FakeTrain()
    monkeypatch.setattr(compare_mod, "_train", lambda config, resume, console=None: fake(config, resume, console))
    study = tmp_path / "study.yaml"
    study.write_text("compare:\n  seeds: 2\n  methods: {grpo: {}, igpo: {credit_kwargs: {normalize: separate}}}\n"
                     "  plan: the study's own plan\n")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", str(study), "--preset", "compare-tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    igpo = [c for c, _ in fake.calls if c.credit == "igpo"]
    assert len(igpo) == 2 and {c.credit_kwargs["normalize"] for c in igpo} == {"separate"}
    assert {c.env for c, _ in fake.calls} == {"turngym/Lookup-v0"}  # the preset's training config
    assert json.loads((out / "plan.json").read_text())["text"].startswith("the study's own plan")
    refused = CliRunner().invoke(app, ["compare", "compare-tiny", "--preset", "compare-lookup", "--out", str(tmp_path / "x")])
    assert refused.exit_code == 1 and "must be a YAML file" in refused.output


@pytest.mark.slow
def test_compare_end_to_end_on_the_tiny_preset(tmp_path: Path):
    from typer.testing import CliRunner

    from turngym.cli import app

    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", "compare-tiny", "--methods", "grpo,igpo", "--seeds", "1", "--out", str(out),
                                      "--set", f"out_dir={tmp_path / 'run'}", "--set", "steps=1", "--set", "sft.steps=4",
                                      "--set", "eval_tasks=3", "--set", "test_tasks=3"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["methods"]) == {"grpo", "igpo"}
    for m in report["methods"].values():
        assert m["episodes"] == 8 and [e for e, *_ in m["curve"]] == [0, 8] and len(m["test_success"]) == 1
    # the curves start at episode 0 from the one shared SFT model: the same evaluation for every method
    assert report["methods"]["grpo"]["curve"][0] == report["methods"]["igpo"]["curve"][0]
    assert report["methods"]["igpo"]["time"]["signals"] > 0
    assert (out / "sft" / "seed0" / "model" / "config.json").exists()  # one SFT, shared by both methods
    assert (out / "curves.png").exists() and "<svg" in (out / "curves.html").read_text()
    import yaml

    igpo_cfg = yaml.safe_load((out / "igpo" / "seed0" / "config.yaml").read_text())
    assert igpo_cfg["credit_kwargs"]["probe_template"].startswith('<tool_call>{"name": "answer"')  # Lookup's answer call
    checks = report["methods"]["igpo"]["per_seed"]["0"]["checks"]
    assert checks["steps"] == 1 and checks["groups"] == 2 and checks["decision_turns"] > 0
    assert "## Paired against grpo" in (out / "report.md").read_text()
    before = (out / "igpo" / "seed0" / "summary.json").stat().st_mtime
    again = CliRunner().invoke(app, ["compare", "compare-tiny", "--methods", "grpo,igpo", "--seeds", "1", "--out", str(out),
                                     "--set", f"out_dir={tmp_path / 'run'}", "--set", "steps=1", "--set", "sft.steps=4",
                                     "--set", "eval_tasks=3", "--set", "test_tasks=3"])
    assert again.exit_code == 0, again.output  # finished runs with the same config are reused, not retrained
    assert (out / "igpo" / "seed0" / "summary.json").stat().st_mtime == before


def test_report_lists_the_envs_own_held_out_metrics_per_method_and_seed(tmp_path: Path):
    runs = {}
    for method, accs in {"grpo": [0.7, 0.8], "gigpo": [0.9, float("nan")]}.items():
        runs[method] = []
        for seed, acc in enumerate(accs):
            folder = fake_run(tmp_path / f"{method}{seed}", [0.2, 0.4], 0.3)
            (folder / "summary.json").write_text(json.dumps({"test": {"success_rate": 0.3, "env_metrics": {"junction_accuracy": acc}}}))
            runs[method].append({**summarize_run(folder, wall=20.0), "seed": seed})
    report = build_report(runs, {0: 0.1, 1: 0.1})
    assert report["methods"]["grpo"]["test_env_metrics"] == {"junction_accuracy": pytest.approx(0.75)}
    assert report["methods"]["gigpo"]["test_env_metrics"] == {"junction_accuracy": 0.9}  # NaN (no junction reached) left out
    write_report({**report, "env": "turngym/Vault3-v0", "model": "tiny", "steps": 4, "episodes_per_step": 8, "eval_split": "val",
                  "eval_tasks": 10, "test_split": "test", "test_tasks": 10}, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Held-out behaviour: the env's own metrics on test" in md
    assert "| grpo | junction_accuracy | 0.750 | 0: 0.700, 1: 0.800 |" in md


def test_a_plan_is_fixed_before_the_runs_and_leads_the_report(tmp_path: Path):
    from trainers.compare import PLAN_FILE, fix_plan
    from trainers.config import ConfigError

    out = tmp_path / "cmp"
    assert fix_plan(out, None) is None and not out.exists()  # no plan: nothing written
    fixed = fix_plan(out, "Primary: final test success, paired per seed.\n")
    assert fixed["text"] == "Primary: final test success, paired per seed." and fixed["fixed_at"].endswith("Z")
    assert json.loads((out / PLAN_FILE).read_text()) == fixed
    assert fix_plan(out, "  Primary: final test success, paired per seed.") == fixed  # a resume gives the same plan
    assert fix_plan(out, None) == fixed  # or none: the stored one still leads the report
    with pytest.raises(ConfigError, match=r"compare.plan: differs from the plan fixed in .*plan.json"):
        fix_plan(out, "Primary: AUC.")
    late = tmp_path / "late"
    (late / "grpo" / "seed0").mkdir(parents=True)
    (late / "grpo" / "seed0" / "config.yaml").write_text("x: 1\n")
    with pytest.raises(ConfigError, match=r"compare.plan: .*already holds runs \(grpo/seed0\) without a plan"):
        fix_plan(late, "Primary: final test success.")
    assert not (late / PLAN_FILE).exists()

    report = build_report({"grpo": [summarize_run(fake_run(tmp_path / "g", [0.2, 0.4], 0.3), wall=20.0)]}, {0: 0.1})
    meta = {"env": "turngym/Vault3-v0", "model": "tiny-base", "steps": 4, "episodes_per_step": 8, "eval_split": "val",
            "eval_tasks": 10, "test_split": "test", "test_tasks": 10}
    write_report({**report, **meta, "plan": fixed}, tmp_path / "with")
    md = (tmp_path / "with" / "report.md").read_text()
    assert f"## Plan (fixed before the runs, {fixed['fixed_at']})\n\nPrimary: final test success, paired per seed.\n\n## Results" in md
    write_report({**report, **meta}, tmp_path / "without")
    assert "No plan was fixed before these runs" in (tmp_path / "without" / "report.md").read_text()


def test_a_compare_file_is_also_a_training_config(tmp_path: Path):
    from trainers.compare_config import load_compare
    from trainers.config import load_config

    path = tmp_path / "compare-plan.yaml"
    path.write_text("env: Vault2-v0\neval_every: 2\ncompare:\n  seeds: 2\n  methods: {grpo: {}, oracle-ctg: {}}\n"
                    "  plan: |\n    Hypothesis: oracle-ctg ties grpo on the control.\n")
    assert load_config(path).env == "turngym/Vault2-v0"  # `turngym train` ignores the compare: section
    _, cmp = load_compare(path)
    assert cmp.seeds == 2 and cmp.plan.startswith("Hypothesis") and list(cmp.methods) == ["grpo", "oracle-ctg"]
