"""The GPU path, on CUDA only: the learner keeps fp32 master weights and computes in bf16 (autocast),
HF rollouts share the trainer's module and compute the same way (the GPU machine has no vLLM), and a
short training run goes end to end there.  Without a CUDA device every test skips, saying so.

Each check is a function of the device: ``TURNGYM_GPU_TEST_DEVICE=cpu`` runs them on the CPU (fp32,
no autocast) to check the checks themselves on a machine without a GPU.
"""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from tests.test_learner import ADVS, TRAJS  # noqa: E402
from trainers.batch import build_batch  # noqa: E402
from trainers.config import LossConfig, OptimConfig, load_config  # noqa: E402
from trainers.learner import Learner  # noqa: E402

DEVICE = os.environ.get("TURNGYM_GPU_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(),
                                reason="no CUDA device: the GPU path is tested only on a GPU machine (CI has none)")
ON_GPU = DEVICE.startswith("cuda")
FAST = ["tasks_per_step=4", "group_size=4", "max_turns=3", "sampling.max_tokens=33", "test_tasks=8", "eval_tasks=8",
        "micro_batch=8", "sft.batch_size=16", "sft.micro_batch=16", "sft.warmup_steps=2"]


def test_learner_keeps_fp32_master_weights_and_matches_the_cpu_forward(tiny_model):
    learner, reference = Learner(tiny_model, device=DEVICE, optim=OptimConfig(lr=1e-3)), Learner(tiny_model, device="cpu")
    assert learner.autocast is ON_GPU and next(learner.model.parameters()).dtype == torch.float32
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    ours, _ = learner.token_logprobs(batch)
    theirs, _ = reference.token_logprobs(batch)
    sampled = batch.loss_mask.bool()
    assert ours.dtype == torch.float32
    assert torch.allclose(ours[sampled], theirs[sampled], rtol=0.02, atol=0.02)  # bf16 rounding of ~-11 nats
    before = ours
    for _ in range(3):
        metrics = learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(tis_cap=None), micro_batch=2)
    after, _ = learner.token_logprobs(batch)
    pos, neg = sampled & (batch.advantages > 0), sampled & (batch.advantages < 0)
    assert after[pos].sum() > before[pos].sum() and after[neg].sum() < before[neg].sum()
    assert next(learner.model.parameters()).dtype == torch.float32 and metrics["grad_norm"] > 0


def test_hf_rollouts_share_the_learners_module_and_its_numerics(tiny_model, tmp_path):
    from trainers.loop import Trainer

    cfg = load_config(preset="demo", overrides=[*FAST, "sft=null", f"device={DEVICE}", f"model={tiny_model}",
                                                f"out_dir={tmp_path / 'run'}"])
    trainer = Trainer(cfg)
    try:
        inner = trainer.policy.inner
        assert inner.model is trainer.learner.model  # one module: no weight copy to sync
        assert inner.autocast == (torch.bfloat16 if ON_GPU else None)
        got = trainer.collect(1)
        groups, stats = got.groups, got.stats
        trajs = [t for g in groups for t in g]
        assert stats["failed"] == 0 and len(trajs) == 16
        assert {tk.policy_version for t in trajs for tk in t.turns} == {0}
        batch = build_batch(trajs, [[0.0] * len(t.turns) for t in trajs], trainer.learner.pad_id)
        ours, _ = trainer.learner.token_logprobs(batch)
        sampled = batch.loss_mask.bool()
        gap = (ours[sampled] - batch.rollout_logprobs[sampled]).abs()
        # same weights, same bf16 compute; only the KV-cached decode's rounding differs (fp32 on CPU: ~1e-6)
        assert float(gap.mean()) < (0.02 if ON_GPU else 1e-4)
        row = trainer.step(1)
        assert row["policy_version"] == 1 and row["time/sync"] < 1.0  # sharing the module: nothing to copy
    finally:
        trainer.close()


@pytest.mark.slow
def test_a_short_training_run_end_to_end(tiny_model, tmp_path):
    from trainers.loop import train
    from trainers.metrics import read_metrics

    out = tmp_path / "run"
    cfg = load_config(preset="demo", overrides=[*FAST, "steps=2", "eval_every=1", "checkpoint_every=1", "sft.steps=20",
                                                f"device={DEVICE}", f"model={tiny_model}", f"out_dir={out}"])
    train(cfg)
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [0, 1, 2]  # step 0: the val evaluation of the SFT model
    for r in rows[1:]:
        assert r["rollout_tokens_per_s"] > 0 and r["train_tokens_per_s"] > 0 and r["failed"] == 0
        assert {"time/rollout", "time/credit", "time/train", "time/sync"} <= set(r)
    results = json.loads((out / "test" / "results.json").read_text())
    assert results["episodes"] == 8 and results["failed"] == 0
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_2"
