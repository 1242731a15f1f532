"""trainers.config and the ``turngym train`` / ``turngym sft`` commands: presets, overrides, fast failures."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from trainers.config import ConfigError, LossConfig, TrainConfig, apply_override, list_presets, load_config
from turngym.cli import app


def test_every_preset_validates():
    names = list_presets()
    assert {"demo", "smollm2-sql", "smollm2-search", "gpu-smollm2-sql"} <= set(names)
    for name in names:
        cfg = load_config(preset=name)
        assert cfg.env.startswith("turngym/")


def test_short_env_ids_are_normalised_and_defaults_apply():
    cfg = load_config(overrides=["env=Lookup-v0"])
    assert cfg.env == "turngym/Lookup-v0"
    assert (cfg.credit, cfg.rollout, cfg.loss.clip_low, cfg.loss.tis_cap, cfg.lora) == ("grpo", "hf", 0.2, 2.0, None)


def test_file_then_overrides_merge_nested_keys(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"optim": {"lr": 1e-3}, "loss": {"clip_high": 0.28}}))
    cfg = load_config(path, "demo", ["optim.warmup_steps=7", "lora.r=8", "sampling.stop=[a, b]", "loss.dual_clip=3"])
    assert cfg.optim.lr == 1e-3 and cfg.optim.warmup_steps == 7 and cfg.optim.grad_clip == 1.0  # preset value kept
    assert cfg.loss.clip_high == 0.28 and cfg.loss.dual_clip == 3.0
    assert cfg.lora.r == 8 and cfg.lora.alpha == 32.0
    assert cfg.sampling.stop == ["a", "b"]
    assert load_config(preset="demo", overrides=["lora=null", "sft=null"]).sft is None


@pytest.mark.parametrize("override,field", [
    ("optim.lr=-1", "optim.lr"),
    ("lora.rank=4", "lora.rank"),
    ("credit=ppo2", "credit"),
    ("credit_kwargs={eps: 0}", "credit_kwargs"),
    ("env=Nope-v0", "env"),
    ("env=not an id", "env"),
    ("group_size=0", "group_size"),
    ("loss.agg=sum", "loss.agg"),
    ("loss.dual_clip=0.5", "loss.dual_clip"),
    ("loss.clip_low=1.5", "loss.clip_low"),
    ("optim.betas=[0.9, 1.0]", "optim.betas"),
    ("eval_split=dev", "eval_split"),
    ("model=/no/such/folder", "model"),
    ("device=tpu", "device"),
    ("sft.data=/no/such.jsonl", "sft.data"),
    ("vllm_url=http://localhost:8000", "vllm_url"),
    ("seed.sub=1", "seed"),
    ("loss.agg_constant=100", "loss"),
    ("bogus=1", "bogus"),
])
def test_bad_settings_fail_naming_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        load_config(preset="demo", overrides=[override])
    assert str(err.value).startswith(f"{field}:"), str(err.value)


def test_malformed_overrides_and_files_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(preset="demo", overrides=["optim.lr"])
    with pytest.raises(ConfigError, match="no preset 'nope'"):
        load_config(preset="nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    assert apply_override({"a": {"b": 1}}, "a.c=x") == {"a": {"b": 1, "c": "x"}}


def test_dump_round_trips_and_hash_ignores_the_output_folder(tmp_path):
    cfg = load_config(preset="demo", overrides=["lora.r=4", "loss.agg=seq-mean-token-sum", "loss.agg_constant=64"])
    path = cfg.dump(tmp_path / "run" / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert again.model_copy(update={"out_dir": "elsewhere"}).config_hash() == cfg.config_hash()
    assert load_config(path, overrides=["seed=1"]).config_hash() != cfg.config_hash()


def test_dr_grpo_constant_belongs_to_token_sum():
    assert LossConfig(agg="seq-mean-token-sum", agg_constant=256.0).agg_constant == 256.0
    with pytest.raises(ValueError):
        TrainConfig(env="Lookup-v0", loss={"agg": "token-mean", "agg_constant": 2.0})


runner = CliRunner()


def test_cli_train_bad_config_exits_2_naming_the_field_before_loading_anything():
    result = runner.invoke(app, ["train", "--preset", "demo", "--set", "optim.lr=0", "--set", "lora.rank=2"])
    assert result.exit_code == 2, result.output
    assert "optim.lr" in result.output and "lora.rank" in result.output
    result = runner.invoke(app, ["sft", "--preset", "demo", "--set", "sft.batch_size=0"])
    assert result.exit_code == 2 and "sft.batch_size" in result.output
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2 and "--preset" in result.output


def test_a_bad_config_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys; from typer.testing import CliRunner; from turngym.cli import app; "
            "r = CliRunner().invoke(app, ['train', '--preset', 'demo', '--set', 'optim.lr=0']); "
            "print(r.exit_code, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stderr


def test_cli_lists_presets():
    result = runner.invoke(app, ["train", "--list-presets"])
    assert result.exit_code == 0
    for name in ("demo", "smollm2-sql", "gpu-smollm2-sql"):
        assert name in result.output


def test_cli_sft_writes_a_loadable_model_and_its_metrics(tmp_path, tiny_model):
    from agents.hf_policy import HFPolicy

    tiny = tiny_model
    out = tmp_path / "sft"
    result = runner.invoke(app, [
        "sft", "--preset", "demo", "--out", str(out), "--steps", "3",
        "--set", f"model={tiny}", "--set", "sft.max_tasks=4", "--set", "sft.batch_size=2", "--set", "sft.micro_batch=2",
    ])
    assert result.exit_code == 0, result.output
    assert "SFT steps 3/3  loss " in result.output and "  ETA 0:00:00" in result.output  # plain progress off a terminal
    rows = [json.loads(line) for line in (out / "sft.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all(r["loss"] > 0 for r in rows)
    assert load_config(out / "config.yaml").sft.steps == 3
    policy = HFPolicy(out / "model")  # a complete transformers folder with the tokenizer
    assert policy.forward_logprobs([[1, 2, 3]])[0]
