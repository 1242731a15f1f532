"""The cost of information-gain credit: IGPO's extra wall time per training step over outcome-only GRPO.

One process, the same parts a training step uses: HFPolicy sharing the learner's model rolls out
``tasks × group`` episodes of Lookup-v0, then
* GRPO: credit + token batch + one optimizer step;
* IGPO: the answer probes (every turn of every sample; on this in-process model one forward pass
  per trajectory over a KV cache, and for reference the same probes scored from scratch through
  ``score_answers``) + credit + token batch + the same optimizer step.
Each step measures both on the same rollouts, so the baseline shares the run's load.  Printed:
seconds per phase (median over steps), the step time of each method and the ratio IGPO / GRPO
(goal: <= 1.15), with and without the rollout in the step.

    python bench/credit_cost.py [--model tiny] [--steps 5] [--tasks 8] [--group 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import turngym  # noqa: F401  (registers envs)
from agents.hf_policy import HFPolicy
from agents.policy import SamplingParams
from agents.rollout import Episode, RolloutConfig, rollout
from envs import make
from trainers.batch import build_batch
from trainers.config import LossConfig
from trainers.credit import get_credit
from trainers.learner import Learner
from trainers.signals import acompute_signals_many, drop_failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=40)
    args = ap.parse_args()

    learner = Learner(args.model, device="cpu")
    policy = HFPolicy(learner.model_dir, model_obj=learner.model, device="cpu", max_batch=64)
    env_id = "turngym/Lookup-v0"
    task_ids = make(env_id).tasks.ids("train")
    grpo, igpo = get_credit("grpo"), get_credit("igpo")
    config = RolloutConfig(concurrency=args.tasks * args.group, sampling=SamplingParams(temperature=1.0, max_tokens=args.max_tokens))
    phases: dict[str, list[float]] = {k: [] for k in ("rollout", "probes", "probes_scratch", "credit_grpo", "credit_igpo", "update")}
    max_diff = 0.0
    turns = []
    for step in range(args.steps):
        tasks = task_ids[step * args.tasks:(step + 1) * args.tasks]
        episodes = [Episode(task_id=t, seed=step * 1000 + i * args.group + s, sample=s) for i, t in enumerate(tasks) for s in range(args.group)]
        t0 = time.perf_counter()
        trajs = asyncio.run(rollout(lambda: make(env_id), policy, episodes, config, env_id=env_id))
        phases["rollout"].append(time.perf_counter() - t0)
        groups = [drop_failed([t for t in trajs if t.task_id == task])[0] for task in tasks]
        groups = [g for g in groups if g]
        turns.append(sum(len(t.turns) for g in groups for t in g))
        t0 = time.perf_counter()
        adv_grpo = [grpo.assign(g) for g in groups]
        phases["credit_grpo"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        signals = asyncio.run(acompute_signals_many(igpo.needs, groups, policy=policy))
        phases["probes"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()  # the same probes, each scored from scratch (score_answers): the path without a KV cache
        scratch = asyncio.run(acompute_signals_many(igpo.needs, groups, policy=policy, probe_cache=False))
        phases["probes_scratch"].append(time.perf_counter() - t0)
        max_diff = max([max_diff] + [abs(a - b) for s1, s2 in zip(signals, scratch)
                                     for r1, r2 in zip(s1.answer_logprobs, s2.answer_logprobs) for a, b in zip(r1, r2)])
        t0 = time.perf_counter()
        adv_igpo = [igpo.assign(g, s) for g, s in zip(groups, signals)]
        phases["credit_igpo"].append(time.perf_counter() - t0)
        flat = [t for g in groups for t in g]
        t0 = time.perf_counter()
        batch = build_batch(flat, [a for adv in adv_igpo for a in adv], learner.pad_id)
        learner.step(batch, LossConfig(), micro_batch=16)
        phases["update"].append(time.perf_counter() - t0)
        assert len(adv_grpo) == len(adv_igpo)
    med = {k: statistics.median(v) for k, v in phases.items()}
    grpo_step = med["rollout"] + med["credit_grpo"] + med["update"]
    igpo_step = med["rollout"] + med["probes"] + med["credit_igpo"] + med["update"]
    print(f"model {args.model}, {args.tasks} tasks x {args.group} samples, {args.steps} steps, "
          f"median {statistics.median(turns):.0f} turns (= probes) per step; 2 shared CPU cores, timings noisy")
    for k, v in med.items():
        print(f"  {k:12s} {v * 1000:9.1f} ms")
    print(f"GRPO step {grpo_step:.3f} s, IGPO step {igpo_step:.3f} s, ratio IGPO/GRPO {igpo_step / grpo_step:.3f} (goal <= 1.15)")
    upd_g, upd_i = med["credit_grpo"] + med["update"], med["probes"] + med["credit_igpo"] + med["update"]
    print(f"without the rollout: GRPO {upd_g:.3f} s, IGPO {upd_i:.3f} s, ratio {upd_i / upd_g:.3f}")
    scratch_step = igpo_step - med["probes"] + med["probes_scratch"]
    print(f"probes scored from scratch instead of over the KV cache: IGPO step {scratch_step:.3f} s, ratio {scratch_step / grpo_step:.3f}; "
          f"largest difference between the two {max_diff:.2e} nats")


if __name__ == "__main__":
    main()
