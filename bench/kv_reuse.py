"""Cross-turn KV reuse in the HF policy (agents/kv_reuse.py): rollout wall time with and without it.

    python bench/kv_reuse.py                                  # tiny-base on Vault6-v0, 64 episodes of <= 7 turns
    python bench/kv_reuse.py --model runs/x/model --env TextWorld-v0 --max-turns 12 --episodes 32

The same episodes (same seeds, one shared model) are played twice through the trainer's lockstep
rollout, the way training and its evaluations play them: once with ``prefix_cache_mb=0`` (every
turn prefills the whole conversation), once with reuse.  Prints wall seconds, their ratio, the
tokens prefilled, how many turns reused the last turn's KV, and how far the two runs' sampled
tokens and logprobs are apart (float rounding can flip a sampled token now and then, after which
that episode goes its own way).  Figures only, no timed asserts.
"""

from __future__ import annotations

import argparse
import json
import time

import turngym  # noqa: F401  (registers envs)
from agents import Episode, SamplingParams
from agents.hf_policy import HFPolicy
from envs import make
from trainers.lockstep import LockstepPolicy, lockstep_rollout


def play(policy: HFPolicy, args) -> tuple[list, float]:
    probe = make(args.env, split=args.split)
    tasks, ids = probe.tasks, list(probe.tasks.ids(args.split))
    probe.close()
    episodes = [Episode(task_id=ids[i % len(ids)], seed=i) for i in range(args.episodes)]
    sampling = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens)
    t = time.perf_counter()
    trajs = lockstep_rollout(lambda: make(args.env, tasks=tasks, split=args.split, max_turns=args.max_turns),
                             LockstepPolicy(policy), episodes, sampling, env_id=args.env)
    return trajs, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-base", help="a model folder or name (tiny-base: built on first use)")
    ap.add_argument("--env", default="Vault6-v0")
    ap.add_argument("--split", default="test")
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--max-turns", type=int, default=7)
    ap.add_argument("--max-tokens", type=int, default=40)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-batch", type=int, default=16)
    args = ap.parse_args()
    off = HFPolicy(args.model, device="cpu", max_batch=args.max_batch, prefix_cache_mb=0)
    on = HFPolicy(args.model, device="cpu", max_batch=args.max_batch, model_obj=off.model)
    play(off, argparse.Namespace(**{**vars(args), "episodes": 2}))  # warm-up
    base, t_off = play(off, args)
    reused, t_on = play(on, args)
    turns = sum(len(t.turns) for t in base)
    same = [a.token_ids == b.token_ids for x, y in zip(base, reused) for a, b in zip(x.turns, y.turns)]
    gaps = [abs(p - q) for x, y in zip(base, reused) for a, b in zip(x.turns, y.turns) if a.token_ids == b.token_ids
            for p, q in zip(a.logprobs or [], b.logprobs or [])]
    prompt_tokens = sum(len(t.prompt_ids or []) + sum(len(u.token_ids or []) + len(u.observation_ids or []) for u in t.turns[:-1])
                        for t in base)
    print(json.dumps({
        "model": off.name, "env": args.env, "episodes": args.episodes, "turns": turns,
        "wall_s_full_prefill": round(t_off, 2), "wall_s_kv_reuse": round(t_on, 2), "speedup": round(t_off / t_on, 2),
        "turns_reusing_kv": on.kv.hits, "tokens_reused": on.kv.reused_tokens, "final_conversation_tokens": prompt_tokens,
        "kept_entries_at_end": len(on.kv), "kept_mb_at_end": round(on.kv.bytes / 2**20, 1),
        "turns_with_identical_samples": f"{sum(same)}/{len(same)}",
        "max_logprob_gap_on_identical_turns": max(gaps, default=0.0),
    }, indent=2))


if __name__ == "__main__":
    main()
