"""``sft.data``: the env's oracle, a registered baseline (``baseline:NAME`` or ``NAME``) or a JSONL file."""

from __future__ import annotations

import pytest

from trainers.config import ConfigError, load_config, scripted_source


@pytest.mark.parametrize("value,named", [
    ("oracle", "oracle"), ("baseline:hasty", "hasty"), ("hasty", "hasty"),
    ("runs/x/trajectories.jsonl", None), ("samples.jsonl", None),
])
def test_scripted_source_reads_the_value(value, named):
    assert scripted_source(value) == named


@pytest.mark.parametrize("value", ["oracle", "baseline:hasty", "hasty"])
def test_scripted_teachers_are_accepted_and_keep_failures_by_default(value):
    cfg = load_config(preset="demo", overrides=[f"sft.data={value}"])
    assert cfg.sft.data == value and cfg.sft.successful_only is None


@pytest.mark.parametrize("value,message", [
    ("baseline:nope", "sft.data: 'baseline:nope' is neither 'oracle', a baseline of turngym/Lookup-v0 (['hasty'])"),
    ("nope", "sft.data: 'nope' is neither 'oracle', a baseline of turngym/Lookup-v0 (['hasty'])"),
    ("''", "sft.data: must be 'oracle', 'baseline:NAME' or a trajectories JSONL path, got an empty name"),
    ("/no/such.jsonl", "sft.data: must be 'oracle', 'baseline:NAME' or an existing trajectories JSONL file; no file"),
])
def test_unknown_sources_fail_naming_sft_data(value, message):
    with pytest.raises(ConfigError) as err:
        load_config(preset="demo", overrides=[f"sft.data={value}"])
    assert str(err.value).startswith(message), str(err.value)


def test_a_baseline_of_another_env_is_refused():
    with pytest.raises(ConfigError, match=r"^sft\.data: 'hasty' is neither 'oracle', a baseline of turngym/Search-v0"):
        load_config(preset="demo", overrides=["env=Search-v0", "sft.data=hasty"])


def test_hasty_sft_data_keeps_its_failed_guesses_unless_told(tiny_model):
    from agents.tokens import load_renderer
    from trainers.sft import sft_data

    renderer = load_renderer(tiny_model)
    kept = sft_data("baseline:hasty", "Lookup-v0", renderer, max_tasks=20)
    # the first 20 train tasks: 7 guesses (1 turn, failed) and 13 lookups that succeed
    assert len(kept) == 20 and sum(not t.success for t in kept) == 7
    assert all(len(t.turns) == 1 for t in kept if not t.success) and all(t.has_tokens for t in kept)
    assert len(sft_data("baseline:hasty", "Lookup-v0", renderer, max_tasks=20, successful_only=True)) == 13
    assert len(sft_data("oracle", "Lookup-v0", renderer, max_tasks=20)) == 20


def test_teacher_kwargs_reach_the_baseline(tiny_model):
    from agents.tokens import load_renderer
    from trainers.sft import sft_data

    cfg = load_config(preset="demo", overrides=["sft.data=baseline:hasty", "sft.teacher_kwargs={guess_rate: 0.65}"])
    assert cfg.sft.teacher_kwargs == {"guess_rate": 0.65}
    kept = sft_data("baseline:hasty", "Lookup-v0", load_renderer(tiny_model), max_tasks=20, teacher_kwargs=cfg.sft.teacher_kwargs)
    # sha256("hasty:" + key) < 0.65 * 2**64 on 13 of the first 20 train tasks (7 at the default 0.5)
    assert len(kept) == 20 and sum(not t.success for t in kept) == 13


@pytest.mark.parametrize("overrides,message", [
    (["sft.data=oracle", "sft.teacher_kwargs={guess_rate: 0.6}"],
     "sft.teacher_kwargs: configure a registered baseline (data: 'baseline:NAME'), not 'oracle'"),
    (["sft.data=baseline:hasty", "sft.teacher_kwargs={rate: 0.6}"],
     "sft.teacher_kwargs: baseline 'hasty' of turngym/Lookup-v0 does not take {'rate': 0.6}"),
])
def test_teacher_kwargs_are_checked_before_anything_runs(overrides, message):
    with pytest.raises(ConfigError) as err:
        load_config(preset="demo", overrides=overrides)
    assert str(err.value).startswith(message), str(err.value)
