"""Seconds per weight sync into a running vLLM server, next to the raw save + reload it is made of.

    .venv/bin/python bench/sync.py --model tiny --pushes 5      # or --model smollm2
    .venv/bin/python bench/sync.py --model tiny --lora 16       # + LoRA rows (a second server, --enable-lora)

``sync``: :class:`trainers.sync.VLLMReloadSync.push` (save_pretrained to /dev/shm, then
/pause, /collective_rpc reload_weights, /reset_prefix_cache, /resume).  ``raw``: the same
save_pretrained and a bare /collective_rpc reload_weights (no pause, no cache reset), measured
in the same run.  The ratio is what the safety around the reload costs.

``--lora R``: then a server with ``--enable-lora`` and a rank-R adapter (all linear layers):
seconds per :class:`trainers.sync.VLLMLoraSync` push (unload + load, the default) and with
``load_inplace``, next to the full reload above, and sampling tokens/s of the adapter after each
(vLLM 0.32 re-reads an in-place-loaded adapter from disk every engine step), plus how far off a
cached prompt decodes after an in-place load from the same folder without a cache reset (the
stale KV a fresh folder per push and /reset_prefix_cache keep out).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import torch

from agents.models import resolve_model
from trainers.sync import VLLMLoraSync, VLLMReloadSync, training_server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--pushes", type=int, default=5)
    ap.add_argument("--lora", type=int, default=0, help="also time LoRA adapter pushes of this rank (0: off)")
    args = ap.parse_args()
    from transformers import AutoModelForCausalLM

    model_dir = resolve_model(args.model)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    params = sum(p.numel() for p in model.parameters())
    with training_server(model_dir, max_model_len=1024) as server:
        print(f"vLLM up in {server.startup_seconds:.0f} s ({model_dir.name}, {params / 1e6:.1f} M params)")
        sync = VLLMReloadSync(server.url)
        full, save, reload, raw_save, raw_reload = [], [], [], [], []
        try:
            for _ in range(args.pushes):
                with torch.no_grad():
                    for p in model.parameters():
                        p.mul_(1.0001)
                full.append(sync.push(model))
                save.append(sync.last_timings["save"])
                reload.append(sync.last_timings["reload"])
                raw_save.append(sync.save(model))
                began = time.perf_counter()
                httpx.post(f"{server.url}/collective_rpc", timeout=600,
                           json={"method": "reload_weights", "kwargs": {"weights_path": str(sync.folder)}}).raise_for_status()
                raw_reload.append(time.perf_counter() - began)
        finally:
            sync.close()
    med = statistics.median
    raw = med(raw_save) + med(raw_reload)
    print(f"sync (pause, reload, reset cache, resume): {med(full):.3f} s per push (save {med(save):.3f} + reload {med(reload):.3f})")
    print(f"raw save + reload:                         {raw:.3f} s (save {med(raw_save):.3f} + reload {med(raw_reload):.3f})")
    print(f"ratio sync / raw: {med(full) / raw:.2f}x  (medians of {args.pushes}; shared CPU: noisy)")
    if args.lora:
        lora_rows(model_dir, args.lora, args.pushes, med(full))


def lora_rows(model_dir, rank: int, pushes: int, full_push: float) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from agents.policy import SamplingParams
    from agents.vllm_policy import VLLMPolicy

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = get_peft_model(base, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM"))
    adapter = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)

    def nudge() -> None:
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_" in n:
                    p.add_(0.01 * torch.randn_like(p))

    with training_server(model_dir, max_model_len=1024, lora_rank=rank) as server:
        print(f"vLLM --enable-lora up in {server.startup_seconds:.0f} s (adapter r{rank}: {adapter / 1e6:.2f} M params)")
        policy = VLLMPolicy(model_dir, server.url)
        conv = policy.start_conversation([{"role": "user", "content": "Count to one hundred."}])
        sampling = SamplingParams(max_tokens=64, temperature=1.0)

        def tokens_per_s(rounds: int = 2) -> float:
            async def go() -> float:
                try:
                    began = time.perf_counter()
                    done = await policy.generate_tokens([conv] * 8, sampling)
                    return sum(len(c.token_ids) for c in done) / (time.perf_counter() - began)
                finally:
                    await policy.aclose()
            return max(asyncio.run(go()) for _ in range(rounds))

        sync = VLLMLoraSync(server.url, policy)
        rows: dict[str, tuple[list[float], float]] = {}
        try:
            for inplace in (False, True):
                sync.load_inplace = inplace
                seconds = []
                for _ in range(pushes):
                    nudge()
                    seconds.append(sync.push(model))
                rows["load_inplace" if inplace else "unload + load"] = (seconds, tokens_per_s())
            # what a fresh folder per push and the cache reset prevent: an in-place load from the *same* folder,
            # no reset, then greedy decoding of a prompt cached before (decoding reads the prefix cache)
            prompt = list(conv.ids) * 8  # more than one 128-token block (vLLM's CPU block size)
            old = _first_logprob(server.url, sync.lora_name, prompt)  # caches the prompt under the adapter
            nudge()
            model.save_pretrained(sync.folder)
            sync.client.post("/v1/load_lora_adapter", json={"lora_name": sync.lora_name, "lora_path": str(sync.folder),
                                                           "load_inplace": True}).raise_for_status()
            stale = _first_logprob(server.url, sync.lora_name, prompt)
            sync.client.post("/reset_prefix_cache").raise_for_status()
            fresh = _first_logprob(server.url, sync.lora_name, prompt)
        finally:
            sync.close()
    med = statistics.median
    print(f"full reload (above):            {full_push:.3f} s per push")
    for name, (seconds, tps) in rows.items():
        print(f"LoRA push, {name:14s}:     {med(seconds):.3f} s per push (median of {pushes}); sampling after it "
              f"{tps:.0f} tok/s (8 x 64 tokens)")
    print(f"in-place load from the same folder, no cache reset: first greedy token of a cached {len(prompt)}-token prompt "
          f"off by {abs(stale - fresh):.4f} nats (the update moved it {abs(old - fresh):.4f})")


def _first_logprob(url: str, name: str, prompt: list[int]) -> float:
    body = {"model": name, "prompt": prompt, "max_tokens": 1, "temperature": 0.0, "logprobs": 0}
    resp = httpx.post(f"{url}/v1/completions", json=body, timeout=300)
    resp.raise_for_status()
    return float(resp.json()["choices"][0]["logprobs"]["token_logprobs"][0])


if __name__ == "__main__":
    main()
