"""The cost of information-gain credit: IGPO's extra wall time per training step over outcome-only GRPO.

One process, the same parts a training step uses: HFPolicy sharing the learner's model rolls out
``tasks × group`` episodes of Lookup-v0, then
* GRPO: credit + token batch + one optimizer step;
* IGPO: the answer probes (every turn of every sample) + credit + token batch + the same step.
The probes are scored three ways on the same rollouts: ``packed`` (what training uses on an
in-process model: all trajectories in a few batched forward passes, each turn's answer chunk
appended under a 4-D attention mask), ``kv_cache`` (the earlier method: one pass per trajectory,
then one short pass per turn over its cropped KV cache) and ``scratch`` (each prefix + answer
from scratch through ``score_answers``: the reference).  Each step measures everything on the
same rollouts, so the baseline shares the run's load.  Printed: seconds per phase (median over
steps), the step time of each method and the ratio IGPO / GRPO (goal: <= 1.15), with and without
the rollout in the step, and the largest difference of each fast method from scratch.

    python bench/credit_cost.py [--model tiny] [--steps 5] [--tasks 8] [--group 8] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import torch

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
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    learner = Learner(args.model, device="cpu")
    policy = HFPolicy(learner.model_dir, model_obj=learner.model, device="cpu", max_batch=64)
    env_id = "turngym/Lookup-v0"
    task_ids = make(env_id).tasks.ids("train")
    grpo, igpo = get_credit("grpo"), get_credit("igpo")
    config = RolloutConfig(concurrency=args.tasks * args.group, sampling=SamplingParams(temperature=1.0, max_tokens=args.max_tokens))
    phases: dict[str, list[float]] = {k: [] for k in ("rollout", "probes", "probes_kv_cache", "probes_scratch", "credit_grpo",
                                                      "credit_igpo", "update")}
    max_diff = {"packed": 0.0, "kv_cache": 0.0}
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
        scored = {}
        ways = [("packed", "probes"), ("kv_cache", "probes_kv_cache"), ("scratch", "probes_scratch")]
        for method, phase in ways[step % 3:] + ways[:step % 3]:  # each goes first in turn: none always meets a warm cache
            t0 = time.perf_counter()
            scored[method] = asyncio.run(acompute_signals_many(igpo.needs, groups, policy=policy, probe_method=method))
            phases[phase].append(time.perf_counter() - t0)
        for method in max_diff:
            max_diff[method] = max([max_diff[method]] + [abs(a - b) for s1, s2 in zip(scored[method], scored["scratch"])
                                                         for r1, r2 in zip(s1.answer_logprobs, s2.answer_logprobs) for a, b in zip(r1, r2)])
        signals = scored["packed"]
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
    print(f"model {args.model}, {args.tasks} tasks x {args.group} samples, {args.steps} steps, torch threads {torch.get_num_threads()}, "
          f"median {statistics.median(turns):.0f} turns (= probes) per step; 2 shared CPU cores, timings noisy")
    for k, v in med.items():
        print(f"  {k:16s} {v * 1000:9.1f} ms")
    print(f"GRPO step {grpo_step:.3f} s, IGPO step {igpo_step:.3f} s, ratio IGPO/GRPO {igpo_step / grpo_step:.3f} (goal <= 1.15)")
    upd_g, upd_i = med["credit_grpo"] + med["update"], med["probes"] + med["credit_igpo"] + med["update"]
    print(f"without the rollout: GRPO {upd_g:.3f} s, IGPO {upd_i:.3f} s, ratio {upd_i / upd_g:.3f}")
    for method, phase in (("kv_cache", "probes_kv_cache"), ("scratch", "probes_scratch")):
        step_s = igpo_step - med["probes"] + med[phase]
        print(f"probes by {method} instead: IGPO step {step_s:.3f} s, ratio {step_s / grpo_step:.3f}, "
              f"without the rollout {(upd_i - med['probes'] + med[phase]) / upd_g:.3f}")
    print("largest difference from scratch: " + ", ".join(f"{m} {d:.2e} nats" for m, d in max_diff.items()))


if __name__ == "__main__":
    main()
