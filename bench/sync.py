"""Seconds per weight sync into a running vLLM server, next to the raw save + reload it is made of.

    .venv/bin/python bench/sync.py --model tiny --pushes 5      # or --model smollm2

``sync``: :class:`trainers.sync.VLLMReloadSync.push` (save_pretrained to /dev/shm, then
/pause, /collective_rpc reload_weights, /reset_prefix_cache, /resume).  ``raw``: the same
save_pretrained and a bare /collective_rpc reload_weights (no pause, no cache reset), measured
in the same run.  The ratio is what the safety around the reload costs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
import torch

from agents.models import resolve_model
from trainers.sync import VLLMReloadSync, training_server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--pushes", type=int, default=5)
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


if __name__ == "__main__":
    main()
