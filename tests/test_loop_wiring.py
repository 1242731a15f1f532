"""The loop's wiring at a real run's settings (issue #18), with the tiny model on Lookup-v0: the KL
reference is the post-SFT model (and survives a resume), one context length for both backends,
more than half of a step failing stops the run, the sync check runs after every push and a stale
policy version stops it, and dynamic sampling reports drawn and kept figures."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.trajectory import Trajectory  # noqa: E402
from trainers.config import load_config  # noqa: E402
from trainers.sync import SyncMismatch  # noqa: E402

from tests.test_loop_records import FAST  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(tiny_model, out, *overrides):
    return load_config(preset="demo", overrides=[*FAST, f"model={tiny_model}", f"out_dir={out}", *overrides])


def trainer_for(tiny_model, out, *overrides):
    from trainers.loop import Trainer

    return Trainer(config(tiny_model, out, *overrides))


def test_with_sft_the_kl_reference_is_the_sft_model_and_a_resume_restores_it(tiny_model, tmp_path):
    from trainers.loop import train

    sft = ["sft.steps=3", "sft.batch_size=4", "sft.micro_batch=4", "sft.lr=5e-2", "sft.max_tasks=8", "sft.warmup_steps=0"]
    # sampling.max_tokens: the oracle's longest SFT turn (33 tokens) must fit
    over = ["loss.kl_coef=0.1", "sampling.max_tokens=33", "steps=2", "checkpoint_every=1", "test_tasks=1", *sft]
    run = train(config(tiny_model, tmp_path / "run", *over))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in rows if r["step"] == 1)
    # the reference is the model RL starts from: the first update's KL is 0, not the distance to the base model
    assert first["kl_ref"] == pytest.approx(0.0, abs=1e-6)
    assert (run / "reference.pt").exists()
    # a resume rebuilds the same reference from RUN/reference.pt (not the base weights)
    from trainers.checkpoint import load_latest
    from trainers.loop import RunState, Trainer
    from trainers.run_state import load_reference

    resumed = Trainer(config(tiny_model, tmp_path / "run", *over))
    try:
        load_latest(run, RunState(resumed))
        load_reference(run, resumed.learner)
        saved = torch.load(run / "reference.pt", weights_only=True)["model"]
        ref = resumed.learner.reference_state()["model"]
        assert all(torch.equal(saved[k], ref[k]) for k in saved)
        base = Trainer(config(tiny_model, tmp_path / "other", *over)).learner.reference_state()["model"]
        assert any(not torch.equal(saved[k], base[k]) for k in saved)  # SFT moved it away from the base
        (run / "reference.pt").unlink()
        with pytest.raises(FileNotFoundError, match="reference"):
            load_reference(run, resumed.learner)
    finally:
        resumed.close()


def test_the_schedule_and_context_come_from_the_config(tiny_model, tmp_path):
    trainer = trainer_for(tiny_model, tmp_path / "run", "updates_per_batch=2", "max_model_len=300", "sampling.temperature=0.7")
    try:
        assert trainer.learner.updates_per_step == 2 and trainer.learner.temperature == 0.7
        assert trainer.policy.inner.max_model_len == trainer.max_model_len == 300
    finally:
        trainer.close()
    default = trainer_for(tiny_model, tmp_path / "default")
    try:  # None: the model's own context, passed to the policy explicitly
        assert default.policy.inner.max_model_len == default.learner.model.config.max_position_embeddings
    finally:
        default.close()


def test_a_vllm_backend_gets_the_same_context_length(tiny_model, tmp_path, monkeypatch):
    import trainers.backends as backends

    started = {}

    class FakeServer:
        url = "http://127.0.0.1:9"

        def start(self):
            return self

        def stop(self):
            started["stopped"] = True

    def fake_training_server(model, **kwargs):
        started.update(kwargs)
        return FakeServer()

    monkeypatch.setattr(backends, "training_server", fake_training_server)
    cfg = config(tiny_model, tmp_path / "run", "rollout=vllm", "max_model_len=300", "sampling.temperature=0.6")
    backend = backends.rollout_backend(cfg, type("L", (), {"model_dir": tiny_model})(), max_model_len=300, run_dir=tmp_path)
    assert started["max_model_len"] == 300 and started["processed_logprobs"] is True
    assert backend.policy.max_model_len == 300
    backend.close()
    assert started["stopped"]


def failed(ep) -> Trajectory:
    return Trajectory(env_id="turngym/Lookup-v0", task_id=ep.task_id, split="train", seed=ep.seed, sample=ep.sample,
                      messages=[], failed=True, error="the engine went away", finish_reason="error")


def test_a_step_with_more_than_half_failed_stops_the_run(tiny_model, tmp_path):
    from trainers.loop import RolloutFailure

    trainer = trainer_for(tiny_model, tmp_path / "run")
    real = trainer.backend.play
    try:
        trainer.backend.play = lambda make_env, episodes, *a, **k: [failed(e) for e in episodes]
        with pytest.raises(RolloutFailure, match="6 of 6 episodes failed.*the engine went away"):
            trainer.collect(1)

        def half(make_env, episodes, *a, **k):  # exactly half failed: trained on, counted
            trajs = real(make_env, episodes, *a, **k)
            return [failed(e) if i % 2 else t for i, (e, t) in enumerate(zip(episodes, trajs))]

        trainer.backend.play = half
        got = trainer.collect(1)
        groups, stats = got.groups, got.stats
        assert stats["failed"] == 3 and sum(len(g) for g in groups) == 3
    finally:
        trainer.close()


def test_every_push_is_checked_and_a_stale_policy_version_stops_the_run(tiny_model, tmp_path):
    trainer = trainer_for(tiny_model, tmp_path / "run")
    try:
        row = trainer.step(1)
        assert trainer.last_sync_diff is not None and trainer.last_sync_diff <= 1e-5  # the shared module: exact
        assert row["policy_version"] == 1
        trainer.policy.policy_version = 5  # as if a push bumped the version but the sampler kept old weights
        got = trainer.collect(2)
        groups, _ = got.groups, got.stats
        for traj in (t for g in groups for t in g):
            for turn in traj.turns:
                turn.policy_version = 4
        with pytest.raises(SyncMismatch, match="policy_version 4, expected 5"):
            trainer.check_policy_version(groups)
    finally:
        trainer.close()


def test_a_sampler_that_differs_from_the_learner_stops_the_run(tiny_model, tmp_path):
    from agents.hf_policy import HFPolicy

    trainer = trainer_for(tiny_model, tmp_path / "run")
    try:
        stale = HFPolicy(tiny_model, device="cpu")  # another copy of the weights, never updated
        trainer.sync.policy = stale
        trainer.sync.push = lambda model: 0.0
        with torch.no_grad():
            for p in trainer.learner.model.parameters():
                p.add_(0.05)
        with pytest.raises(SyncMismatch, match="learner"):
            trainer.push_weights()
    finally:
        trainer.close()


def test_dynamic_sampling_logs_drawn_and_kept_figures(tiny_model, tmp_path):
    trainer = trainer_for(tiny_model, tmp_path / "run", "dynamic_sampling=true")
    try:
        got = trainer.collect(1)
        groups, stats = got.groups, got.stats
        assert {"drawn_reward", "drawn_success"} <= set(stats)
        drawn = stats["episodes"] - stats["failed"]
        assert drawn >= sum(len(g) for g in groups)
        # a group is kept when its credit gives some turn a non-zero advantage (GRPO: returns that differ)
        assert all(any(abs(a) > 0 for row in adv for a in row) for adv in got.advantages)
        assert all(len({t.total_reward for t in g}) > 1 for g in groups)
    finally:
        trainer.close()


def test_hf_samples_at_a_temperature_get_is_weights_of_one(tiny_model, tmp_path):
    """Issue #18 on the HF backend: at T = 0.6 the sampler's logprobs of what it drew equal the learner's
    (the shared module), so the truncated-IS weight is 1 and only engine mismatch could move it."""
    from trainers.batch import build_batch

    trainer = trainer_for(tiny_model, tmp_path / "run", "sampling.temperature=0.6", "sampling.max_tokens=24")
    try:
        got = trainer.collect(1)
        groups, _ = got.groups, got.stats
        trajs = [t for g in groups for t in g]
        batch = build_batch(trajs, [[1.0] * len(t.turns) for t in trajs], trainer.learner.pad_id)
        ours, _ = trainer.learner.token_logprobs(batch, sampled_only=True)
        sampled = batch.loss_mask.bool()
        assert int(sampled.sum()) >= 30
        assert torch.allclose(ours[sampled], batch.rollout_logprobs[sampled], atol=1e-4)
        metrics = trainer.learner.step(batch, trainer.config.loss, micro_batch=8)
        assert metrics["tis_weight_mean"] == pytest.approx(1.0, abs=1e-4)
    finally:
        trainer.close()


def test_dynamic_sampling_drops_a_group_only_when_all_its_advantages_are_zero(tiny_model, tmp_path):
    """Per method: a turn-level method that finds signal in a group of tied outcomes keeps it."""

    class EveryOtherTask:  # a stand-in credit method: zero advantages on every other task drawn
        name, needs, probe_template = "every-other", frozenset(), "{answer}"

        def __init__(self):
            self.seen: list[str] = []

        def assign(self, group, signals=None):
            self.seen.append(group[0].task_id)
            value = 0.0 if len(self.seen) % 2 == 0 else 0.5
            return [[value] * len(t.turns) for t in group]

    trainer = trainer_for(tiny_model, tmp_path / "run", "dynamic_sampling=true", "tasks_per_step=2")
    try:
        trainer.credit = credit = EveryOtherTask()
        got = trainer.collect(1)
        kept = [g[0].task_id for g in got.groups]
        assert kept == credit.seen[0::2][:2]  # the zero-advantage groups (even draws) were dropped, more drawn
        assert got.stats["groups_dropped"] == len(credit.seen) - len(kept) >= 1
        assert all(a == 0.5 for adv in got.advantages for row in adv for a in row)
    finally:
        trainer.close()


def test_igpo_probes_the_answer_call_the_env_declares(tiny_model, tmp_path):
    from tools import call

    trainer = trainer_for(tiny_model, tmp_path / "run", "credit=igpo")
    try:
        assert trainer.credit.probe_template == call("answer", value="{answer}")
    finally:
        trainer.close()
    from trainers.loop import Trainer

    sql = load_config(overrides=["env=SQL-v0", f"model={tiny_model}", f"out_dir={tmp_path / 'sql'}", "credit=igpo"])
    with pytest.raises(ValueError, match="SQL-v0 declares no answer probe template"):
        Trainer(sql)
