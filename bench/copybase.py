"""Does a base model learn a new env on a CPU?  SFT (from the oracle or a weak teacher), then GRPO.

Prints one JSON object: held-out (test split) success before RL and after, greedy and at T = 1,
plus the seconds each phase took.  The envs of ``tests/multihop_envs.py`` (Directory-v0,
Shipment-v0) are registered here, so they can be named; any registered env works.

    python bench/copybase.py --model tiny-base --env Directory-v0 --sft-data oracle --rl-steps 0
    python bench/copybase.py --model tiny-base --env Directory-v0 --sft-data baseline:hasty --rl-steps 15
    python bench/copybase.py --model tiny --env Directory-v0 --sft-data oracle --rl-steps 0   # the 0.46 M model
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny-base")
    p.add_argument("--env", default="Directory-v0")
    p.add_argument("--preset", default="demo", help="the base config; the env, model and SFT data are set below")
    p.add_argument("--sft-data", default="oracle")
    p.add_argument("--sft-steps", type=int, default=None)
    p.add_argument("--rl-steps", type=int, default=0)
    p.add_argument("--test-tasks", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set", action="append", default=[], help="more config overrides, KEY=VALUE")
    args = p.parse_args()

    import multihop_envs  # noqa: F401  (registers the test envs)
    import torch

    from agents.evaluation import evaluate
    from agents.policy import SamplingParams
    from trainers.config import load_config
    from trainers.loop import Trainer
    from trainers.sft import run_sft

    torch.set_num_threads(args.threads)
    out = Path(tempfile.mkdtemp(prefix="copybase-"))
    overrides = [f"env={args.env}", f"model={args.model}", f"sft.data={args.sft_data}", f"steps={max(1, args.rl_steps)}",
                 f"seed={args.seed}", f"out_dir={out}", "max_turns=null", "sampling.max_tokens=64", "sft.max_tasks=400",
                 "sft.lr=1.0e-3", f"sft.steps={args.sft_steps or 150}", "eval_every=0", "checkpoint_every=0", *args.set]
    cfg = load_config(preset=args.preset, overrides=overrides)
    trainer = Trainer(cfg)
    seconds: dict[str, float] = {}

    def held_out(name: str) -> dict[str, float]:
        began = time.perf_counter()
        kw = {"seed": 7, "env_kwargs": trainer.env_kwargs}
        sampled = SamplingParams(temperature=1.0, max_tokens=cfg.sampling.max_tokens)
        res = {"greedy": evaluate(trainer.policy, cfg.env, "test", args.test_tasks, **kw)["success_rate"],
               "T=1": evaluate(trainer.policy, cfg.env, "test", args.test_tasks, sampling=sampled, **kw)["success_rate"]}
        seconds[f"eval_{name}"] = round(time.perf_counter() - began, 1)
        return res

    report: dict = {"model": args.model, "env": args.env, "sft_data": args.sft_data, "sft_steps": cfg.sft.steps,
                    "rl_steps": args.rl_steps, "seed": args.seed}
    try:
        began = time.perf_counter()
        run_sft(trainer)
        seconds["sft"] = round(time.perf_counter() - began, 1)
        report["sft"] = held_out("sft")
        if args.rl_steps:
            trainer.learner.reset_optimizer(cfg.optim, total_steps=cfg.steps)
            trainer.sync.push(trainer.learner.model)
            began = time.perf_counter()
            rows = [trainer.step(step) for step in range(1, args.rl_steps + 1)]
            seconds["rl"] = round(time.perf_counter() - began, 1)
            report["train_success"] = [round(r["success"], 3) for r in rows]
            report["rl"] = held_out("rl")
    finally:
        trainer.close()
    report["seconds"] = seconds
    print(json.dumps(report))


if __name__ == "__main__":
    main()
