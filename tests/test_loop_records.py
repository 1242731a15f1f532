"""What the training loop records with the tiny model on Lookup-v0: IGPO's probe template reaches the
answer probes, SPA's progress estimator survives a checkpoint round trip, and every step's groups go
to ``RUN/rollouts/step_NNNN.jsonl`` with the credit the learner used (and the signals behind it), which
``turngym view`` shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.trajectory import read_jsonl  # noqa: E402
from tests.credit_trajs import traj  # noqa: E402
from trainers.config import load_config  # noqa: E402

PNG_1PX = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
FAST = ["steps=1", "tasks_per_step=2", "group_size=3", "max_turns=2", "sampling.max_tokens=12", "eval_every=0", "test_tasks=2",
        "checkpoint_every=1", "micro_batch=8", "sft=null"]


def _trainer(tiny_model: Path, out: Path, *overrides: str):
    from trainers.loop import Trainer

    cfg = load_config(preset="demo", overrides=[*FAST, f"model={tiny_model}", f"out_dir={out}", *overrides])
    return Trainer(cfg)


class RecordingPolicy:
    """A token policy that scores every probe -1.0 and keeps what it was asked (no in-process model: the
    probes go through ``score_answers``, as they do against a vLLM server)."""

    def __init__(self, inner):
        self.renderer, self.policy_version, self.asked = inner.renderer, 0, []

    async def score_answers(self, prefixes, answers, tails=None):
        self.asked += list(zip(prefixes, answers, tails or [""] * len(answers)))
        return [-1.0] * len(answers)


def test_igpo_probe_template_reaches_the_answer_probes(tiny_model, tmp_path):
    trainer = _trainer(tiny_model, tmp_path / "run", "credit=igpo", "credit_kwargs.probe_template='The code is {answer}.'")
    try:
        got = trainer.collect(1)
        groups, _ = got.groups, got.stats
        trainer.policy = recorder = RecordingPolicy(trainer.policy.inner)
        trainer.probe_model = None  # score through the policy, as a server without an in-process copy would
        advantages, signals = trainer.credit_step(groups)
    finally:
        trainer.close()
    trajs = [t for g in groups for t in g]
    lead = recorder.renderer.encode("The code is ")
    assert len(recorder.asked) == sum(len(t.turns) for t in trajs)  # one probe per turn, in order
    k = 0
    for t in trajs:
        for turn in range(len(t.turns)):
            prefix, answer, tail = recorder.asked[k]
            assert answer == t.reset_info["answer"] and tail == "."  # the template's tail follows the answer, unscored
            assert list(prefix) == t.prefix_ids(turn) + lead  # and its lead ends the prefix
            k += 1
    assert [s.answer_logprobs for s in signals] == [[[-1.0] * len(t.turns) for t in g] for g in groups]
    assert [[len(a) for a in g] for g in advantages] == [[len(t.turns) for t in g] for g in groups]


def test_spa_progress_estimator_round_trips_through_the_loop_checkpoint(tiny_model, tmp_path):
    from trainers.checkpoint import load_latest, save_checkpoint
    from trainers.loop import RunState

    run = tmp_path / "run"
    first = _trainer(tiny_model, run, "credit=spa")
    try:
        got = first.collect(1)  # the step's rollouts go to the estimator, which refits once at step 1
        groups = got.groups
        assert got.fit_metrics and first.estimator.fits == 1
        save_checkpoint(run, 1, RunState(first), {"step_note": "spa"})
        expected = first.estimator.predict(groups[0])
        head = {k: v.clone() for k, v in first.estimator.head.state_dict().items()}
        buffered = [t.model_dump_json() for t in first.estimator.buffer]
    finally:
        first.close()

    second = _trainer(tiny_model, run, "credit=spa")
    try:
        assert second.estimator.fits == 0 and not second.estimator.buffer
        assert not torch.equal(second.estimator.head.weight, head["weight"])  # a fresh estimator really differs
        state = load_latest(run, RunState(second))
        assert state["step"] == 1 and state["step_note"] == "spa"
        assert second.estimator.fits == 1
        assert all(torch.equal(v, head[k]) for k, v in second.estimator.head.state_dict().items())
        assert [t.model_dump_json() for t in second.estimator.buffer] == buffered
        got = second.estimator.predict(groups[0])
        assert [len(r) for r in got] == [len(r) for r in expected]
        assert [c for r in got for c in r] == pytest.approx([c for r in expected for c in r], abs=1e-6)
        assert second.estimator.maybe_refit(2) is None  # fits == 1 restored: the next fit waits for refit_every
    finally:
        second.close()


def test_rollout_log_records_credit_and_signals_the_viewer_reads(tmp_path):
    from trainers.credit import Signals, get_credit
    from trainers.rollout_log import truncate_rollouts, write_step_rollouts
    from turngym.viewer import build_view_data

    group = [traj(1.0, turns=2), traj(0.0, turns=1, sample=1), traj(0.0, turns=2, sample=2)]
    for t in (group[0], group[2]):  # the same screenshot in two episodes: stored once, by reference
        t.turns[0].observation = [{"role": "tool", "content": [{"type": "image_url", "image_url": {"url": PNG_1PX}}]}]
    grpo = get_credit("grpo").assign(group)  # R = 1, 0, 0: mean 1/3, unbiased std 0.57735
    assert [a[0] for a in grpo] == pytest.approx([1.1547, -0.57735, -0.57735], abs=1e-4)
    signals = Signals(answer_logprobs=[[-2.302585, -0.916291], [-2.302585], [-1.0, -0.5]])
    path = write_step_rollouts(tmp_path, 3, [group], {"grpo": [grpo]}, [signals])
    assert path == tmp_path / "rollouts" / "step_0003.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(list((tmp_path / "rollouts" / "images").iterdir())) == 1 and "base64" not in path.read_text()
    assert [r["credit"] for r in lines] == [{"grpo": a} for a in grpo]
    assert [r["signals"] for r in lines] == [{"answer_logprobs": row} for row in signals.answer_logprobs]
    assert [t.model_dump() for t in read_jsonl(path)] == [t.model_dump() for t in group]  # still plain trajectories
    view = build_view_data(tmp_path)
    assert view["trajectories"][2]["turns"][0]["observation"][0]["parts"] == [{"image": PNG_1PX}]  # the viewer inlines it again
    shown = [t["credit"] for t in view["trajectories"]]
    assert [c["grpo (recorded)"] for c in shown] == [[round(x, 4) for x in a] for a in grpo]
    assert [c["grpo"] for c in shown] == [c["grpo (recorded)"] for c in shown]  # recomputed from the group: the same
    igpo = get_credit("igpo").assign(group, signals)
    assert [c["igpo"] for c in shown] == [[round(x, 4) for x in a] for a in igpo]  # recomputed from the recorded signals

    # a resume from step 1 drops later steps' files (as the metrics log does); a step written again is one file
    for step in (1, 2, 12):
        write_step_rollouts(tmp_path, step, [group[:1]], {"grpo": [[[0.0, 0.0]]]})
    truncate_rollouts(tmp_path, 1)
    write_step_rollouts(tmp_path, 1, [group[1:2]], {"grpo": [[[0.5]]]})
    assert sorted(p.name for p in (tmp_path / "rollouts").glob("*.jsonl")) == ["step_0001.jsonl"]
    assert [json.loads(x)["credit"] for x in (tmp_path / "rollouts" / "step_0001.jsonl").read_text().splitlines()] == [{"grpo": [0.5]}]


def test_one_step_run_writes_rollouts_that_turngym_view_shows_with_their_credit(tiny_model, tmp_path):
    from typer.testing import CliRunner

    from trainers.loop import train
    from trainers.metrics import read_metrics
    from turngym.cli import app
    from turngym.viewer import build_view_data

    cfg = load_config(preset="demo", overrides=[*FAST, "credit=empg", f"model={tiny_model}", f"out_dir={tmp_path / 'run'}"])
    run = train(cfg)
    path = run / "rollouts" / "step_0001.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(records) == 6  # 2 groups of 3, one task each
    assert len({r["task_id"] for r in records[:3]}) == len({r["task_id"] for r in records[3:]}) == 1 != len({r["task_id"] for r in records})
    for r in records:
        assert set(r["credit"]) == {"empg"} and len(r["credit"]["empg"]) == len(r["turns"])
        assert set(r["signals"]) == {"entropy"} and len(r["signals"]["entropy"]) == len(r["turns"])
    # the recorded credit is what the learner trained on: its token-weighted mean is the step's adv_mean
    tokens = [(a, len(turn["token_ids"])) for r in records for a, turn in zip(r["credit"]["empg"], r["turns"])]
    (row,) = read_metrics(run)
    assert sum(a * n for a, n in tokens) / sum(n for _, n in tokens) == pytest.approx(row["adv_mean"], abs=1e-6)
    assert any(abs(a) > 1e-6 for a, _ in tokens)  # EMPG's clarity bonus: non-zero even when every reward is 0

    result = CliRunner().invoke(app, ["view", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "viewer.html").is_file()
    shown = [t for t in build_view_data(run)["trajectories"] if t["source"] == "rollouts/step_0001.jsonl"]
    assert len(shown) == 6
    for t, r in zip(shown, records):
        assert t["credit"]["empg (recorded)"] == [round(a, 4) for a in r["credit"]["empg"]]
        assert t["credit"]["empg"] == pytest.approx(t["credit"]["empg (recorded)"], abs=2e-4)  # recomputed from the signals


@pytest.mark.slow
def test_spa_run_resumed_after_step_4_refits_at_step_5_like_a_straight_run(tiny_model, tmp_path):
    """The estimator fits at step 1 and step 5 (refit_every 5) on its buffer of every rollout so far: a
    resume from step 4 must bring back the head, the fit count and the buffer for step 5 to match."""
    from trainers.loop import train
    from trainers.metrics import read_metrics

    def run(name: str, steps: int, resume: bool = False) -> list[dict]:
        cfg = load_config(preset="demo", overrides=[*FAST, "credit=spa", f"steps={steps}", f"model={tiny_model}", f"out_dir={tmp_path / name}"])
        train(cfg, resume=resume)
        return [{k: v for k, v in r.items() if not any(x in k for x in ("time/", "_per_s", "seconds"))} for r in read_metrics(tmp_path / name)]

    straight = run("straight", 5)
    run("resumed", 4)
    resumed = run("resumed", 5, resume=True)
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5]
    assert [r.get("progress/fit_trajectories") for r in straight] == [6.0, None, None, None, 30.0]  # 5 steps x 2 tasks x 3
    assert resumed == straight


def test_step_rows_and_evaluations_carry_the_envs_own_metrics(tiny_model, tmp_path, monkeypatch):
    """A family's ``episode_metrics`` reach the step row (``env/*``, over that step's rollouts), the val
    rows (``val/*``) and the test summary; undefined (NaN) values are left out, not logged."""
    from envs.vault.env import VaultEnv
    from trainers.loop import train
    from trainers.metrics import read_metrics

    def counted(step_infos):
        return {"counted": len(step_infos), "counted_turns": sum(map(len, step_infos)), "undefined": float("nan")}

    monkeypatch.setattr(VaultEnv, "episode_metrics", staticmethod(counted))
    cfg = load_config(preset="vault-control", overrides=[*FAST, "max_turns=3", "eval_every=1", "eval_tasks=3",
                                                          f"model={tiny_model}", f"out_dir={tmp_path / 'run'}"])
    run = train(cfg)
    records = [json.loads(x) for x in (run / "rollouts" / "step_0001.jsonl").read_text().splitlines()]
    rows = read_metrics(run)
    row = next(r for r in rows if r.get("step") == 1 and "reward" in r)
    assert row["env/counted"] == len(records) == 6 and row["env/counted_turns"] == sum(len(r["turns"]) for r in records)
    assert "env/undefined" not in row
    assert [r["val/counted"] for r in rows if "val/counted" in r] == [3, 3]  # step 0 and step 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test"]["env_metrics"]["counted"] == 2 and "undefined" not in summary["test"]["env_metrics"]
