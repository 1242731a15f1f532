"""Was it the probe?  IGPO's information gain scored with the env's answer call and with the bare answer.

IGPO's turn reward is r_t = p_t − p_{t−1}, where p_t is the policy's probability of the true answer
written after turn t.  How the answer is written decides what p_t measures: an agent answers with a
tool call (Lookup's ``<tool_call>{"name": "answer", ...}``), so a bare ``"{answer}"`` text is scored
off the model's distribution and its gains can shrink towards 0, leaving IGPO as outcome credit.

For every seed of a ``turngym compare`` folder with an IGPO run, this takes the rollouts of its first
step (``igpo/seed<S>/rollouts/step_0001.jsonl``: sampled by the shared SFT model before any update)
and re-scores every probe with that SFT model (``sft/seed<S>/model``) twice, through the same packed
path training uses: with the env's probe template and with ``"{answer}"``.  Printed per seed and
pooled: the mean probe probability before the first turn (p_0) and before the last (p_{T−1}), the
mean |r_t| of the turns before the last, and the AUC of r_t against the episode's success (0.5: the gain does not tell turns
of successful episodes from the others); also the largest difference between the env-template
re-score and the probes stored at training time (a check that this reproduces what IGPO trained on;
runs trained before probes scored only the answer's tokens, when the template's tail was scored too,
differ by that tail's share).

    python bench/igpo_probe.py runs/compare-lookup [--json OUT.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path

import turngym  # noqa: F401  (registers envs)
from agents.hf_policy import HFPolicy
from trainers.compare_checks import igpo_turns, read_step
from trainers.compare_stats import rank_auc
from trainers.credit.base import env_credit_kwargs
from trainers.rollout_log import rollout_path
from trainers.signals import answer_probes

BARE = "{answer}"


def gain_stats(groups, probes) -> dict[str, float | int | None]:
    """Mean p_0 and p_{T−1}, mean |r_t| (t < T) and the AUC of r_t against episode success."""
    first = [math.exp(lps[0]) for trajs, rows in zip(groups, probes) for t, lps in zip(trajs, rows) if t.turns]
    last = [math.exp(lps[len(t.turns) - 1]) for trajs, rows in zip(groups, probes) for t, lps in zip(trajs, rows) if t.turns]
    gains, labels = igpo_turns([(trajs, [{"answer_logprobs": lps} for lps in rows]) for trajs, rows in zip(groups, probes)])
    return {"turns": len(gains), "p_first": sum(first) / len(first), "p_last": sum(last) / len(last),
            "mean_abs_gain": sum(abs(g) for g in gains) / len(gains) if gains else None,
            "auc": rank_auc(gains, labels) if gains else None}


def seed_figures(out: Path, seed: int) -> dict:
    run = out / "igpo" / f"seed{seed}"
    groups = read_step(rollout_path(run, 1))
    trajs = [g for g, _ in groups]
    stored = [[s["answer_logprobs"] for s in sig] for _, sig in groups]
    env = trajs[0][0].env_id
    template = env_credit_kwargs("igpo", env, {})["probe_template"]
    policy = HFPolicy(str(out / "sft" / f"seed{seed}" / "model"), device="cpu")
    tool = asyncio.run(answer_probes(trajs, policy, template))
    bare = asyncio.run(answer_probes(trajs, policy, BARE))
    drift = max(abs(a - b) for gs, gt in zip(stored, tool) for rs, rt in zip(gs, gt) for a, b in zip(rs, rt))
    return {"seed": seed, "episodes": sum(map(len, trajs)), "template": template, "max_diff_from_training": drift,
            "tool_call": gain_stats(trajs, tool), "bare": gain_stats(trajs, bare)}


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compare_dir", type=Path)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    seeds = sorted(int(p.name.removeprefix("seed")) for p in (args.compare_dir / "igpo").glob("seed*")
                   if rollout_path(p, 1).exists())
    if not seeds:
        raise SystemExit(f"no igpo/seed*/rollouts/step_0001.jsonl under {args.compare_dir}")
    rows = [seed_figures(args.compare_dir, s) for s in seeds]
    print(f"probe template of {rows[0]['template']!r} against {BARE!r}, first-step rollouts of the SFT model")
    print(f"{'seed':>4} {'episodes':>8} {'gain turns':>10} | {'probe':>9} {'p_0':>10} {'p_(T-1)':>9} "
          f"{'mean |r_t|':>10} {'AUC':>6} | max diff from training")
    for row in rows:
        for name in ("tool_call", "bare"):
            s = row[name]
            print(f"{row['seed']:>4} {row['episodes']:>8} {s['turns']:>10} | {name:>9} {_fmt(s['p_first']):>10} "
                  f"{_fmt(s['p_last']):>9} {_fmt(s['mean_abs_gain']):>10} {_fmt(s['auc']):>6} | "
                  f"{_fmt(row['max_diff_from_training']) if name == 'tool_call' else ''}")
    for name in ("tool_call", "bare"):
        gains = [r[name]["mean_abs_gain"] for r in rows if r[name]["mean_abs_gain"] is not None]
        aucs = [r[name]["auc"] for r in rows if r[name]["auc"] is not None]
        print(f"mean over seeds, {name}: mean |r_t| {_fmt(sum(gains) / len(gains) if gains else None)}, "
              f"AUC {_fmt(sum(aucs) / len(aucs) if aucs else None)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
