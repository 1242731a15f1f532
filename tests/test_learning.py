"""Learning, shown: after an SFT warm start, GRPO raises held-out success on Lookup-v0 by >= 20 points.

The whole pipeline on a CPU (2 threads), with the pieces ``trainers.loop.train`` uses: oracle SFT
on train-split trajectories (stopped early: the call format is learned, sampling is still
error-prone), then GRPO steps with in-process lockstep rollouts sharing the learner's module.
Held-out success is measured on the test split (keys never seen in training) with the policy as
it is trained (T = 1, fixed seeds) before and after RL; greedy success is reported alongside.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.policy import SamplingParams  # noqa: E402
from trainers.config import load_config  # noqa: E402

LEARN = [
    "model=tiny", "group_size=8", "tasks_per_step=16", "sampling.max_tokens=40", "max_turns=4", "steps=80",
    "optim.lr=5.0e-4", "optim.warmup_steps=0", "loss.tis_cap=null", "micro_batch=32", "eval_every=0", "checkpoint_every=0",
    "sft.steps=120", "sft.lr=2.0e-3", "sft.batch_size=16", "sft.micro_batch=16", "sft.warmup_steps=30",
]
TEST_TASKS = 300
# Measured once here (2 shared cores, load 5-25, 1,435 s): held-out T=1 0.21 -> 0.20, greedy 0.23 -> 0.20 after
# 80 GRPO steps, while train-batch success rose 0.15 -> 0.24 (first vs last 10 steps): this setting does NOT yet
# meet the 20-point bar; the test states the requirement and fails until the recipe does.


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_rl_raises_held_out_success_over_the_sft_start(tmp_path):
    from trainers.loop import Trainer
    from trainers.sft import run_sft

    torch.set_num_threads(2)
    cfg = load_config(preset="demo", overrides=[*LEARN, f"out_dir={tmp_path}"])
    trainer = Trainer(cfg)
    sampled = SamplingParams(temperature=1.0, max_tokens=cfg.sampling.max_tokens)

    def held_out() -> dict[str, float]:
        from trainers.evaluate import evaluate

        kw = {"seed": 7, "env_kwargs": trainer.env_kwargs}
        return {"T=1": evaluate(trainer.policy, cfg.env, "test", TEST_TASKS, sampling=sampled, **kw)["success_rate"],
                "greedy": evaluate(trainer.policy, cfg.env, "test", TEST_TASKS, **kw)["success_rate"]}

    try:
        run_sft(trainer)
        trainer.learner.reset_optimizer(cfg.optim, total_steps=cfg.steps)
        trainer.sync.push(trainer.learner.model)
        before = held_out()
        rows = [trainer.step(step) for step in range(1, cfg.steps + 1)]
        after = held_out()
    finally:
        trainer.close()
    report = {"before": before, "after": after, "train_success_first_10": sum(r["success"] for r in rows[:10]) / 10,
              "train_success_last_10": sum(r["success"] for r in rows[-10:]) / 10,
              "seconds_per_step": sum(r["time/rollout"] + r["time/train"] + r["time/credit"] for r in rows) / len(rows)}
    (tmp_path / "learning.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    assert before["T=1"] < 0.8, report  # room to learn: the SFT start is not already solved
    assert after["T=1"] - before["T=1"] >= 0.20, report
