"""Update throughput: ``Learner.step`` next to a bare torch loop on the same tokens (goal: >= 0.8x).

For each model (the tiny random Llama of ``turngym models tiny``, and a ~3 M-parameter one:
hidden 256, 4 layers, 4 heads), one batch of synthetic token trajectories (a prompt, then turns
of sampled tokens and observations; ~75 % of the targets sampled) goes through

* ``bare``: forward, log-softmax gather, -(A·logp) token-mean over the mask, backward, AdamW step;
* ``Learner.step``: the trainer's path (micro-batching, PPO-clip loss with truncated IS, metrics,
  grad-norm clipping, scheduler), with and without the entropy metric, and with micro-batches
  of half the batch (gradient accumulation).

Runs are interleaved (bare, learner, bare, learner...) so that both see the same machine load;
printed: the best and the median seconds per step, real tokens/s (every non-pad token is
forwarded) and the ratio to ``bare`` (the best time is the least disturbed by other load).  fp32; device per ``--device``.

    python bench/train_step.py [--batch 8] [--tokens 256] [--steps 6] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from agents.models import write_tiny
from agents.trajectory import Trajectory, Turn
from trainers.batch import TokenBatch, build_batch
from trainers.config import LossConfig, OptimConfig
from trainers.learner import Learner

MODELS = {"tiny (h128, 2 layers)": {}, "3M (h256, 4 layers)": {"hidden": 256, "layers": 4, "heads": 4}}


def synthetic_batch(n: int, length: int, vocab: int, pad_id: int, seed: int = 0) -> TokenBatch:
    """n trajectories of ``length`` tokens: prompt (1/8), then turns of 3/8-sampled + 1/8-observation tokens."""
    rng = random.Random(seed)
    trajs, advs = [], []
    for _ in range(n):
        ids = lambda k: [rng.randrange(10, vocab) for _ in range(k)]  # noqa: E731
        prompt, sampled, obs = length // 8, 3 * length // 8, length // 8
        turns = [Turn(action="", observation=[], reward=0.0, token_ids=ids(sampled), observation_ids=ids(obs),
                      logprobs=[-6.0] * sampled) for _ in range(2)]
        trajs.append(Trajectory(env_id="x", task_id="t", split="train", messages=[], prompt_ids=ids(prompt), turns=turns))
        advs.append([rng.choice([-1.0, 1.0])] * 2)
    return build_batch(trajs, advs, pad_id)


def bare_step(model, opt, batch: TokenBatch) -> None:
    ids, mask = batch.input_ids, batch.loss_mask
    logits = model(input_ids=ids, attention_mask=batch.attention_mask).logits[:, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    loss = -(batch.advantages * logp * mask).sum() / mask.sum()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def fresh(batch: TokenBatch) -> TokenBatch:
    return TokenBatch(batch.input_ids, batch.attention_mask, batch.loss_mask, batch.advantages, batch.rollout_logprobs)


def bench_model(name: str, folder: Path, args) -> None:
    from transformers import AutoModelForCausalLM

    learner = Learner(folder, device=args.device, optim=OptimConfig(lr=1e-6))
    bare = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(args.device).train()
    opt = torch.optim.AdamW(bare.parameters(), lr=1e-6, foreach=True)
    batch = synthetic_batch(args.batch, args.tokens, bare.config.vocab_size, learner.pad_id).to(args.device)
    loss_cfg = LossConfig()
    variants = {
        "bare torch loop": lambda: bare_step(bare, opt, batch),
        "Learner.step": lambda: learner.step(fresh(batch), loss_cfg, args.batch),
        "Learner.step, no entropy": lambda: learner.step(fresh(batch), loss_cfg, args.batch, entropy=False),
        f"Learner.step, micro-batch {max(1, args.batch // 2)}": lambda: learner.step(fresh(batch), loss_cfg, max(1, args.batch // 2)),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(args.steps):
        for key, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[key].append(time.perf_counter() - t0)
    tokens = batch.num_tokens
    params = sum(p.numel() for p in bare.parameters())
    base, base_med = min(times["bare torch loop"]), statistics.median(times["bare torch loop"])
    print(f"\n{name}: {params / 1e6:.2f} M parameters, batch {args.batch} x {args.tokens} tokens "
          f"({tokens} real, {batch.num_sampled} sampled), {args.device}, {torch.get_num_threads()} threads")
    print(f"  {'variant':34s} {'best s':>8s} {'tokens/s':>10s} {'vs bare':>8s} {'median s':>9s} {'vs bare':>8s}")
    for key, ts in times.items():
        best, med = min(ts), statistics.median(ts)
        print(f"  {key:34s} {best:8.3f} {tokens / best:10.0f} {base / best:7.2f}x {med:9.3f} {base_med / med:7.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in MODELS.items():
            bench_model(name, write_tiny(Path(tmp) / name.split()[0], **shape), args)


if __name__ == "__main__":
    main()
