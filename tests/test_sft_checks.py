"""The two checks that guard SFT on a new env: the teacher's turns must fit ``sampling.max_tokens``,
and a fitted model that solves nothing held out is called out as one that cannot copy."""

from __future__ import annotations

import pytest

from trainers.sft import cannot_copy_warning, check_turns_fit


def test_the_longest_teacher_turn_must_fit_max_tokens(tiny_model):
    from agents.tokens import load_renderer
    from trainers.sft import sft_data

    data = sft_data("oracle", "Lookup-v0", load_renderer(tiny_model), max_tasks=200)
    assert check_turns_fit(data, 33) == 33  # the oracle's longest call with the tiny tokenizer, stop token included
    with pytest.raises(ValueError, match=r"^sampling\.max_tokens=32 is shorter than the SFT data's longest turn "
                                         r"\(33 tokens\).*at least 33$"):
        check_turns_fit(data, 32)


def test_a_run_whose_max_tokens_would_cut_the_teacher_stops_before_sft(tiny_model, tmp_path):
    from trainers.config import load_config
    from trainers.loop import train

    cfg = load_config(preset="demo", overrides=[f"model={tiny_model}", "sampling.max_tokens=24", f"out_dir={tmp_path}",
                                                "sft.max_tasks=40", "rollout=hf"])
    with pytest.raises(ValueError, match=r"sampling\.max_tokens=24 is shorter"):
        train(cfg)
    assert not (tmp_path / "sft.jsonl").exists() or (tmp_path / "sft.jsonl").read_text() == ""


@pytest.mark.parametrize("accuracy,success,tasks,warns", [
    (0.93, 0.0, 100, True), (0.79, 0.0, 100, False), (0.93, 0.01, 100, False), (0.93, 0.0, 0, False)])
def test_high_token_accuracy_with_no_held_out_success_is_called_out(accuracy, success, tasks, warns):
    warning = cannot_copy_warning(accuracy, success, tasks)
    assert (warning is not None) == warns
    if warns:
        assert "accuracy 0.93" in warning and f"0 of {tasks} held-out" in warning and "tiny-base" in warning
