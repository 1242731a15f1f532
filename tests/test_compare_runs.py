"""``turngym compare`` without training: per-method settings reach each run, the env's probe template,
refusals naming the field, hash-checked reuse and resume (``trainers.loop.train`` replaced by a fake
that records its configs and writes what a run leaves behind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import call
from trainers import compare as compare_mod
from trainers.compare import RunMismatch, compare
from trainers.compare_config import ConfigError, load_compare, method_config
from trainers.config import TrainConfig, load_config

LOOKUP_PROBE = call("answer", value="{answer}")
TEST_SUCCESS = {"grpo": 0.30, "igpo": 0.40, "drgrpo": 0.30, "gigpo": 0.25}


class FakeTrain:
    """What the loop leaves in a run folder: config.yaml, metrics rows (val every step), summary.json;
    an SFT run (steps 0) also model/ and eval_sft/.  Refuses a fresh start over checkpoints, as the loop does."""

    def __init__(self):
        self.calls: list[tuple[TrainConfig, bool]] = []

    def __call__(self, config: TrainConfig, resume: bool = False, console=None) -> Path:
        run = Path(config.out_dir)
        if not resume and (run / "checkpoints").exists():
            raise FileExistsError(f"{run} already holds checkpoints")
        self.calls.append((config, resume))
        run.mkdir(parents=True, exist_ok=True)
        config.dump(run / "config.yaml")
        success = TEST_SUCCESS.get(config.credit, 0.1) + 0.01 * config.seed if config.steps else 0.1
        rows = [{"step": s, "episodes": 8 * bool(s), "val/success_rate": round(success * s / max(config.steps, 1), 4)}
                for s in range(config.steps + 1)]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if config.steps == 0:
            (run / "model").mkdir(exist_ok=True)
            (run / "model" / "config.json").write_text("{}")
            (run / "eval_sft").mkdir(exist_ok=True)
            (run / "eval_sft" / "results.json").write_text(json.dumps({"success_rate": 0.1}))
        (run / "summary.json").write_text(json.dumps({"test": {"success_rate": success}}))
        return run


@pytest.fixture
def fake(monkeypatch) -> FakeTrain:
    train = FakeTrain()
    monkeypatch.setattr(compare_mod, "_train", lambda config, resume, console=None: train(config, resume, console))
    return train


def tiny(*overrides: str) -> TrainConfig:
    return load_config(preset="compare-tiny", overrides=list(overrides))


SETTINGS = {"grpo": {}, "igpo": {"credit_kwargs": {"gamma": 0.9}}, "drgrpo": {},
            "gigpo": {"dynamic_sampling": True, "loss": {"clip_high": 0.28}}}


def test_per_method_settings_reach_each_run(fake: FakeTrain, tmp_path: Path):
    from trainers.credit import get_credit

    out = tmp_path / "cmp"
    compare(tiny(), SETTINGS, 2, out)
    runs = {(c.credit, c.seed): c for c, _ in fake.calls if c.steps}
    assert sorted(runs) == sorted((m, s) for m in SETTINGS for s in (0, 1))
    igpo = runs["igpo", 0]
    assert igpo.credit_kwargs == {"gamma": 0.9, "probe_template": LOOKUP_PROBE}  # the env's answer tool call
    assert get_credit(igpo.credit, **igpo.credit_kwargs).probe_template == LOOKUP_PROBE  # what the loop hands the probes
    assert (runs["drgrpo", 0].loss.agg, runs["drgrpo", 0].loss.agg_constant) == ("seq-mean-token-sum", 120.0)  # 40 tokens x 3 turns
    assert runs["gigpo", 1].dynamic_sampling is True and runs["gigpo", 1].loss.clip_high == 0.28
    assert runs["grpo", 0].loss.agg == "token-mean" and runs["grpo", 0].loss.clip_high == 0.2 and runs["grpo", 0].dynamic_sampling is False
    assert runs["grpo", 0].credit_kwargs == {} and runs["gigpo", 0].credit_kwargs == {}
    for (method, seed), c in runs.items():  # the same budget, SFT start, seeds and evaluation for all
        assert c.model == str(out / "sft" / f"seed{seed}" / "model") and c.sft is None
        assert (c.steps, c.group_size, c.tasks_per_step, c.eval_every, c.eval_tasks, c.test_tasks) == (2, 4, 2, 1, 6, 6)
        assert c.out_dir == str(out / method / f"seed{seed}")
    sft = [c for c, _ in fake.calls if not c.steps]
    assert [c.seed for c in sft] == [0, 1] and all(c.credit == "grpo" and c.loss.agg == "token-mean" for c in sft)

    report = json.loads((out / "report.json").read_text())
    igpo_paired = report["paired"]["igpo"]
    assert igpo_paired["diffs"] == {"0": pytest.approx(0.1), "1": pytest.approx(0.1)}
    assert igpo_paired["p"] == 0.5 and igpo_paired["ci_low"] == pytest.approx(0.1)  # 2 seeds: 2 of 4 flips are as extreme
    assert report["paired"]["drgrpo"]["p"] == 1.0  # equal to grpo on every seed
    assert igpo_paired["p_holm"] == 1.0 and report["paired"]["gigpo"]["p_holm"] == 1.0  # 0.5 x 3 capped; gigpo 0.5 x 2 = 1
    assert report["target"] == pytest.approx(0.305)  # grpo's final mean val success
    gigpo_seeds = report["methods"]["gigpo"]["per_seed"]
    assert gigpo_seeds["0"]["censored"] and gigpo_seeds["0"]["budget"] == 16  # never reached: "> budget", not dropped
    assert report["methods"]["igpo"]["per_seed"]["0"]["episodes_to_target"] == 16
    assert report["methods"]["grpo"]["per_seed"]["0"]["auc"] == pytest.approx((8 * 0.075 + 8 * 0.225) / 16)
    assert report["settings"]["drgrpo"]["loss"]["agg_constant"] == 120.0
    md = (out / "report.md").read_text()
    assert "## Paired against grpo" in md and "| igpo | 0: +10.0, 1: +10.0 | +10.0 | [+10.0, +10.0] | 0.500 | 1.000 |" in md
    assert "| gigpo | 0: > 16, 1: > 16 | 0/2 | > budget |" in md


def test_method_settings_from_a_yaml_section_and_the_command_line(tmp_path: Path):
    path = tmp_path / "cmp.yaml"
    path.write_text("env: Lookup-v0\nsteps: 3\neval_every: 1\nsampling: {max_tokens: 16}\nmax_turns: 2\n"
                    "compare:\n  seeds: 4\n  methods:\n    grpo:\n    igpo: {credit_kwargs: {gamma: 0.5}}\n    drgrpo: {loss: {agg_constant: 10}}\n")
    cfg, cmp = load_compare(path, method_sets=["igpo.credit_kwargs.gain=logprob", "gigpo.dynamic_sampling=true"])
    assert list(cmp.methods) == ["grpo", "igpo", "drgrpo", "gigpo"] and cmp.seeds == 4
    assert cmp.methods["igpo"].credit_kwargs == {"gamma": 0.5, "gain": "logprob"} and cmp.methods["gigpo"].dynamic_sampling is True
    assert method_config(cfg, "drgrpo", cmp.methods["drgrpo"]).loss.agg_constant == 10.0
    assert method_config(cfg, "drgrpo").loss.agg_constant == 32.0  # default K: 16 tokens x 2 turns
    cfg, cmp = load_compare(path, methods=["igpo"], seeds=2)  # --methods picks; settings still come from the section
    assert list(cmp.methods) == ["igpo"] and cmp.methods["igpo"].credit_kwargs == {"gamma": 0.5} and cmp.seeds == 2


@pytest.mark.parametrize(("sets", "field"), [
    (["igpo.credit_kwargs.gama=0.9"], "compare.methods.igpo.credit_kwargs: igpo rejects"),
    (["drgrpo.loss.agg=nope"], "compare.methods.drgrpo.loss.agg"),
    (["gigpo.lr=1"], "compare.methods.gigpo.lr"),
    (["nope.loss.agg=token-mean"], "compare.methods: unknown credit methods"),
])
def test_bad_method_settings_fail_fast_naming_the_field(sets: list[str], field: str):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_compare(preset="compare-tiny", methods=None, method_sets=sets)


def test_igpo_is_refused_where_the_env_declares_no_answer_template():
    cfg = tiny("env=SQL-v0")
    with pytest.raises(ConfigError, match=r"compare\.methods\.igpo: turngym/SQL-v0 declares no answer probe template"):
        method_config(cfg, "igpo")
    explicit = method_config(cfg, "igpo", load_compare(preset="compare-tiny", methods=["igpo"],
                                                       method_sets=["igpo.credit_kwargs.probe_template='{answer}'"])[1].methods["igpo"])
    assert explicit.credit_kwargs == {"probe_template": "{answer}"}
    assert method_config(tiny("env=Search-v0"), "igpo").credit_kwargs == {"probe_template": call("answer", text="{answer}")}


def test_registry_checks_the_probe_template():
    from envs.registry import register

    with pytest.raises(ValueError, match="probe_template"):
        register("NoProbe-v0", "envs.lookup.env:LookupEnv", probe_template="answer please")


def test_finished_runs_are_reused_and_unfinished_ones_resumed(fake: FakeTrain, tmp_path: Path):
    out = tmp_path / "cmp"
    compare(tiny(), ["grpo", "igpo"], 1, out)
    assert len(fake.calls) == 3  # SFT, grpo, igpo
    fake.calls.clear()
    compare(tiny(), ["grpo", "igpo"], 1, out)
    assert fake.calls == []  # every folder finished with the same config: reused, the SFT model too
    igpo = out / "igpo" / "seed0"
    (igpo / "summary.json").unlink()
    (igpo / "checkpoints" / "step_1").mkdir(parents=True)  # interrupted after a checkpoint
    (out / "grpo" / "seed0" / "summary.json").unlink()  # interrupted before any checkpoint
    compare(tiny(), ["grpo", "igpo"], 1, out)
    assert sorted((c.credit, resume) for c, resume in fake.calls) == [("grpo", False), ("igpo", True)]
    assert json.loads((igpo / "compare_run.json").read_text())["config_hash"] == fake.calls[-1][0].config_hash()


def test_a_folder_of_another_config_is_refused_naming_the_field(fake: FakeTrain, tmp_path: Path):
    out = tmp_path / "cmp"
    compare(tiny(), SETTINGS, 1, out)
    fake.calls.clear()
    with pytest.raises(RunMismatch, match=r"optim\.lr \(run: 0\.0001, now: 0\.0002\)"):
        compare(tiny("optim.lr=2e-4"), SETTINGS, 1, out)
    with pytest.raises(RunMismatch, match=r"igpo[/\\]seed0 holds a run of another config; differing fields: credit_kwargs\.gamma"):
        compare(tiny(), {**SETTINGS, "igpo": {"credit_kwargs": {"gamma": 0.5}}}, 1, out)
    with pytest.raises(RunMismatch, match=r"sft[/\\]seed0 .*sft\.steps \(run: 10, now: 12\)"):
        compare(tiny("sft.steps=12"), SETTINGS, 1, out)
    with pytest.raises(RunMismatch, match=r"steps \(run: 2, now: 3\)"):  # a finished run is not stretched to another budget
        compare(tiny("steps=3"), SETTINGS, 1, out)
    assert fake.calls == []  # refused before anything trained


def test_a_compare_folder_moved_or_copied_whole_keeps_its_runs(fake: FakeTrain, tmp_path: Path):
    import shutil

    compare(tiny(), ["grpo", "igpo"], 1, tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the stored configs name a/sft/seed0/model
    fake.calls.clear()
    compare(tiny(), ["grpo", "igpo"], 1, tmp_path / "b")
    assert fake.calls == []  # every run reused: its start is b's own copy of the same SFT model
    with pytest.raises(RunMismatch, match=r"sft\.steps \(run: 10, now: 12\)"):  # the SFT run stays hash-checked
        compare(tiny("sft.steps=12"), ["grpo"], 1, tmp_path / "b")
    shutil.copytree(tmp_path / "a" / "grpo", tmp_path / "c" / "grpo")  # runs without their SFT model: it would train anew
    with pytest.raises(RunMismatch, match=r"differing fields: model \(run: '.*a[/\\]sft[/\\]seed0[/\\]model'"):
        compare(tiny(), ["grpo"], 1, tmp_path / "c")
    assert fake.calls == []
