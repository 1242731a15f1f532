"""Learning, shown: after an SFT warm start, GRPO raises held-out success on Lookup-v0 (>= 10 points greedy).

The whole pipeline on a CPU (2 threads), with the pieces ``trainers.loop.train`` uses.  The warm
start imitates a weak teacher, as real SFT data often does: Lookup-v0's ``hasty`` baseline, which on
half of the tasks (fixed per task by a hash of the key) answers a made-up code without calling
``lookup`` and otherwise looks the key up like the oracle.  Its train-split trajectories, failed
guesses included, teach the call format, copying from the tool's answer, and a habit of guessing.
On held-out keys the SFT model cannot tell which keys its teacher guessed on, so it guesses at its
prior rate: greedy decoding guesses almost always, sampling about 60 % of the time.  GRPO's reward
teaches the *decision* to look up, which transfers to keys never seen in training, so held-out
success rises to about the model's copying accuracy.  Held-out success is measured on all 300
test-split tasks (standard error <= 3 points) before and after RL, greedy (what ``turngym eval``
and the training loop report) and at T = 1 (the policy as it is trained, fixed seeds).
"""

from __future__ import annotations

import json
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.policy import SamplingParams  # noqa: E402
from trainers.config import load_config  # noqa: E402

LEARN = [
    "model=tiny", "group_size=8", "tasks_per_step=16", "sampling.max_tokens=40", "max_turns=4", "steps=25",
    "optim.lr=1.0e-4", "optim.warmup_steps=0", "loss.tis_cap=null", "micro_batch=32", "eval_every=0", "checkpoint_every=0",
    "sft.data=baseline:hasty", "sft.steps=400", "sft.lr=2.0e-3", "sft.schedule=cosine", "sft.batch_size=16",
    "sft.micro_batch=16", "sft.warmup_steps=30",
]
TEST_TASKS = 300
# Measured here (the same figures at 1 and 2 threads; 890 s with 2 other runs on the 2 cores, ~5 min idle): greedy
# 0.010 -> 0.347 after 10 GRPO steps and 0.353 after 25; T=1 0.137 -> 0.303 -> 0.327.
# Recipes tried on the way (held-out T=1 / greedy, before -> after):
# constant-lr SFT + RL lr 5e-4: 0.267 -> 0.467 / 0.467 -> 0.470 (greedy already looked up: no room); cosine SFT + RL
# lr 5e-4: the policy collapsed to unclosed tool calls at step 10; a 65 % guessing teacher: 0.06 -> 0.17 / 0.0 -> 0.2
# after 10 steps (too few lookups to learn copying from).  Copying a redirect's key from the tool's answer is the
# tiny model's weak spot (~20 % of redirects solved), which caps success near 0.35-0.47.


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_rl_raises_held_out_success_over_the_sft_start(tmp_path):
    from trainers.evaluate import evaluate
    from trainers.loop import Trainer
    from trainers.sft import run_sft

    torch.set_num_threads(2)
    cfg = load_config(preset="demo", overrides=[*LEARN, f"out_dir={tmp_path}"])
    assert cfg.sft.successful_only is None  # the default for a scripted teacher: its failed guesses stay in
    trainer = Trainer(cfg)
    sampled = SamplingParams(temperature=1.0, max_tokens=cfg.sampling.max_tokens)
    seconds: dict[str, float] = {}

    def held_out(name: str) -> dict[str, float]:
        began = time.perf_counter()
        kw = {"seed": 7, "env_kwargs": trainer.env_kwargs}
        out = {"T=1": evaluate(trainer.policy, cfg.env, "test", TEST_TASKS, sampling=sampled, **kw)["success_rate"],
               "greedy": evaluate(trainer.policy, cfg.env, "test", TEST_TASKS, **kw)["success_rate"]}
        seconds[f"eval_{name}"] = time.perf_counter() - began
        return out

    try:
        began = time.perf_counter()
        run_sft(trainer)
        seconds["sft"] = time.perf_counter() - began
        trainer.learner.reset_optimizer(cfg.optim, total_steps=cfg.steps)
        trainer.sync.push(trainer.learner.model)
        before = held_out("before")
        began = time.perf_counter()
        rows = [trainer.step(step) for step in range(1, cfg.steps + 1)]
        seconds["rl"] = time.perf_counter() - began
        after = held_out("after")
    finally:
        trainer.close()
    report = {"before": before, "after": after, "train_success_first_5": sum(r["success"] for r in rows[:5]) / 5,
              "train_success_last_5": sum(r["success"] for r in rows[-5:]) / 5,
              "seconds": {k: round(v, 1) for k, v in seconds.items()}}
    (tmp_path / "learning.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
    assert before["greedy"] < 0.5, report  # room to learn: the SFT start is not already solved
    # Measured with the learner of issue #18 (head on sampled targets in chunks, HF decode loop with its own seeded
    # generator: the same math, other float rounding and other random draws): greedy 0.05 -> 0.20 (+15), T=1 0.107 ->
    # 0.200 (+9.3); the learner before it gave +34 / +19 on the same recipe. One run is one draw of a noisy
    # result: these bars hold for the figures measured now, and the spread across seeds is still to be measured.
    assert after["greedy"] - before["greedy"] >= 0.10, report
    assert after["T=1"] - before["T=1"] >= 0.05, report
