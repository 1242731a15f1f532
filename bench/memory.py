"""Peak host memory (RSS) of each training phase at a real vocabulary: SmolLM2-135M, 4 x 1,200 tokens.

Each phase runs in a fresh child process (``python bench/memory.py --phase NAME``) that reports its
own peak RSS (``VmHWM``), so that no phase inherits another's high-water mark:

* ``baseline``: imports and the model loaded (fp32), nothing else;
* ``generate``: ``HFPolicy.generate_ids`` on ``batch`` prompts of ``tokens // 6`` ids, sampling the
  rest of ``tokens`` (stop ids replaced by an id outside the vocabulary, so no row stops early);
* ``update``: one ``Learner.step`` (fp32, CPU, full fine-tune, AdamW) on a ``TokenBatch`` of
  ``batch`` x ``tokens`` (a prompt, then 4 turns of sampled ids each followed by observation ids;
  the loss mask on the sampled ids), in micro-batches of ``--micro-batch``;
* ``checkpoint``: ``save_checkpoint`` of a learner after one step (that step on a 1 x 64 batch: the
  optimizer state has the same size, the step's own peak stays out of the way); the peak is read
  again around the save alone where the kernel lets a process reset its high-water mark;
* ``spa``: ``ProgressEstimator.fit`` on the same ``batch`` trajectories, built on the learner's model
  as the training loop builds it.

Next to them, the floor: weights + gradients + AdamW's two moments (4 x params x 4 bytes in fp32).
It prints figures; it asserts nothing.  ``--threads`` (default 1): torch's threads per child; on a
shared 2-core machine two threads that wait on each other in every parallel region ran the decode
loop ~15x slower than one (peak memory does not depend on it).

    python bench/memory.py [--model smollm2] [--batch 4] [--tokens 1200] [--micro-batch 4] [--phases all] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("baseline", "generate", "update", "checkpoint", "spa")
MARK = "MEMORY-RESULT "


def peak_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# -- synthetic data ------------------------------------------------------------------------------------
def trajectories(n: int, length: int, vocab: int, seed: int = 0, turns: int = 4):
    """``n`` token trajectories of exactly ``length`` ids: a prompt (1/6), then ``turns`` turns of
    sampled ids (4/5 of each turn's share) followed by observation ids; outcomes alternate 1, 0."""
    from agents.trajectory import Trajectory, Turn

    rng = random.Random(seed)
    ids = lambda k: [rng.randrange(100, vocab - 100) for _ in range(k)]  # noqa: E731
    prompt = max(1, length // 6)
    share = (length - prompt) // turns
    out = []
    for i in range(n):
        made = []
        for k in range(turns):
            sampled = max(1, share * 4 // 5)
            obs = (length - prompt - share * (turns - 1) if k == turns - 1 else share) - sampled
            last = k == turns - 1
            made.append(Turn(action="", observation=[], reward=float(last and i % 2 == 0), token_ids=ids(sampled),
                             observation_ids=ids(max(0, obs)), logprobs=[-rng.uniform(0.1, 6.0) for _ in range(sampled)],
                             info={"outcome": float(i % 2 == 0), "success": i % 2 == 0} if last else {}))
        out.append(Trajectory(env_id="turngym/Bench-v0", task_id=f"t{i}", split="train", sample=i, messages=[],
                              prompt_ids=ids(prompt), turns=made))
    return out


def token_batch(trajs, pad_id: int):
    from trainers.batch import build_batch

    return build_batch(trajs, [[1.0 if i % 2 == 0 else -1.0] * len(t.turns) for i, t in enumerate(trajs)], pad_id)


def learner(model: str):
    from trainers.learner import Learner

    # passed only when asked, so that the script also runs against a learner without the option
    extra = {"activation_checkpointing": True} if os.environ.get("TURNGYM_BENCH_ACTIVATION_CHECKPOINTING") == "1" else {}
    return Learner(model, device="cpu", seed=0, **extra)


# -- phases (each in its own process) ------------------------------------------------------------------
def phase_baseline(args) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    import agents.hf_policy  # noqa: F401  (the imports every other phase pays)
    import trainers.learner  # noqa: F401
    from agents.models import resolve_model

    model = AutoModelForCausalLM.from_pretrained(resolve_model(args.model), dtype=torch.float32)
    params = sum(p.numel() for p in model.parameters())
    return {"params": params, "vocab": int(model.config.vocab_size)}


def phase_generate(args) -> dict:
    from agents.hf_policy import HFPolicy
    from agents.policy import SamplingParams

    policy = HFPolicy(args.model, device="cpu", dtype="float32", max_batch=args.batch)
    vocab = int(policy.model.config.vocab_size)
    policy.renderer.stop_ids = frozenset({vocab})  # never sampled: every row runs to max_tokens
    prompt = max(1, args.tokens // 6)
    rng = random.Random(0)
    prompts = [[rng.randrange(100, vocab - 100) for _ in range(prompt)] for _ in range(args.batch)]
    t0 = time.perf_counter()
    out = policy.generate_ids(prompts, SamplingParams(temperature=1.0, max_tokens=args.tokens - prompt, seed=0))
    return {"seconds": time.perf_counter() - t0, "sampled": [len(c.token_ids) for c in out]}


def phase_update(args) -> dict:
    from trainers.config import LossConfig

    lrn = learner(args.model)
    batch = token_batch(trajectories(args.batch, args.tokens, int(lrn.model.config.vocab_size)), lrn.pad_id)
    t0 = time.perf_counter()
    metrics = lrn.step(batch, LossConfig(), args.micro_batch)
    return {"seconds": time.perf_counter() - t0, "tokens": batch.num_tokens, "sampled": batch.num_sampled,
            "grad_norm": metrics.get("grad_norm")}


def phase_checkpoint(args) -> dict:
    from trainers.checkpoint import save_checkpoint
    from trainers.config import LossConfig

    lrn = learner(args.model)
    small = token_batch(trajectories(1, 64, int(lrn.model.config.vocab_size)), lrn.pad_id)
    lrn.step(small, LossConfig(), 1)  # AdamW's state exists from here on
    before = peak_mb()
    isolated = reset_peak()
    run = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        t0 = time.perf_counter()
        path = save_checkpoint(run, 1, lrn)
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in path.iterdir())
    finally:
        shutil.rmtree(run, ignore_errors=True)
    return {"seconds": seconds, "save_peak_mb": peak_mb() if isolated else None, "peak_before_save_mb": before,
            "checkpoint_mb": size / 2**20}


def phase_spa(args) -> dict:
    from trainers.progress import ProgressEstimator

    lrn = learner(args.model)
    est = ProgressEstimator(lrn.model, pad_id=lrn.pad_id, seed=0)  # as trainers/loop.py builds it
    trajs = trajectories(args.batch, args.tokens, int(lrn.model.config.vocab_size))
    t0 = time.perf_counter()
    metrics = est.fit(trajs)
    return {"seconds": time.perf_counter() - t0, "loss_after": metrics["progress/loss_after"]}


# -- driver --------------------------------------------------------------------------------------------
def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    result = globals()[f"phase_{args.phase}"](args)
    result.setdefault("seconds", time.perf_counter() - t0)
    result["peak_mb"] = peak_mb()
    print(MARK + json.dumps(result), flush=True)


def run_phase(name: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--model", args.model, "--batch", str(args.batch),
           "--tokens", str(args.tokens), "--micro-batch", str(args.micro_batch), "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return {**json.loads(line[len(MARK):]), "wall": wall}
    why = "killed (SIGKILL: out of memory?)" if proc.returncode == -9 else f"exit {proc.returncode}"
    return {"error": why, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=1200)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads in each phase's process")
    ap.add_argument("--phases", default="all", help=f"comma-separated, of {', '.join(PHASES)}; 'all': every one")
    ap.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)  # internal: run one phase in this process
    args = ap.parse_args()
    if args.phase:
        child(args)
        return
    wanted = PHASES if args.phases == "all" else tuple(p.strip() for p in args.phases.split(","))
    if unknown := set(wanted) - set(PHASES):
        ap.error(f"unknown phases: {sorted(unknown)}")
    if "baseline" not in wanted:
        wanted = ("baseline", *wanted)  # the floor needs the parameter count
    print(f"model {args.model}, {args.batch} x {args.tokens} tokens, micro-batch {args.micro_batch}, fp32 CPU, "
          f"{args.threads} thread(s); one fresh process per phase")
    results = {}
    for name in wanted:
        results[name] = r = run_phase(name, args)
        print(f"  {name}: " + (r["error"] if "error" in r else f"peak {r['peak_mb']:,.0f} MB, {r['seconds']:.1f} s"), flush=True)
    print(f"\n{'phase':<12}{'peak RSS MB':>13}{'above base':>12}{'seconds':>10}  notes")
    base = results["baseline"].get("peak_mb", 0.0)
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<12}{'-':>13}{'-':>12}{r['wall']:>10.1f}  {r['error']}")
            continue
        notes = {k: v for k, v in r.items() if k not in ("peak_mb", "seconds", "wall")}
        notes = ", ".join(f"{k}={v:,.0f}" if isinstance(v, float) and v > 10 else f"{k}={v:.4g}" if isinstance(v, float)
                          else f"{k}={v}" for k, v in notes.items())
        print(f"{name:<12}{r['peak_mb']:>13,.0f}{r['peak_mb'] - base:>12,.0f}{r['seconds']:>10.1f}  {notes}")
    params = results["baseline"].get("params")
    if params:
        mb = params * 4 / 2**20
        print(f"\nfloor (fp32, AdamW): {params:,} params x 4 B = {mb:,.0f} MB weights + {mb:,.0f} grads + "
              f"{2 * mb:,.0f} Adam moments = {4 * mb:,.0f} MB; process baseline (imports + model) {base:,.0f} MB")


if __name__ == "__main__":
    main()
