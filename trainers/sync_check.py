"""Proving a weight sync: the errors a sync raises, the per-dtype tolerance, and the comparisons the
loop runs after every push (a fixed chat scored on both sides; every turn's ``policy_version``).
Re-exported by :mod:`trainers.sync`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


class SyncError(RuntimeError):
    """A push (or a check's request) failed or ran past its timeout; the message names the stage."""


class SyncMismatch(SyncError):
    """The serving side does not sample from the learner's weights (or versions disagree); names both values."""


def sync_tolerance(dtype_name: str | None, device: str) -> float:
    """The largest |Δ logprob| a correct sync shows between the learner and the serving side.

    ``dtype_name``: the coarser compute dtype of the two sides (``TrainConfig.dtype``; None is fp32 on CPU,
    bf16 autocast on CUDA).  fp32: measured here <= 3e-4 (SmolLM2-135M) and 2e-5 (tiny) between vLLM's CPU
    kernels and an HF forward pass; 1e-3 leaves 3x room for other summation orders.  fp16 (10-bit
    mantissa): logits of size ~10-20 round by ~1e-2: 0.03.  bf16 (7-bit mantissa, 8x coarser than fp16):
    two different kernels' logprobs differ by a few 1e-2 per token, the max over a short sequence by up
    to ~0.1.  So a bf16 check catches a stale or wrong model rather than one missed small step.
    """
    name = dtype_name or ("bfloat16" if device.startswith("cuda") else "float32")
    tolerances = {"float32": 1e-3, "float16": 0.03, "bfloat16": 0.1}
    if name not in tolerances:
        raise ValueError(f"no sync tolerance for dtype {name!r}: one of {sorted(tolerances)}")
    return tolerances[name]


def compare_logprobs(served: Sequence[float], expected: Sequence[float], atol: float, ids: Sequence[int] | None = None,
                     where: str = "server") -> float:
    """Max |served - expected|; :class:`SyncMismatch` naming both values when over ``atol`` or not finite."""
    if len(served) != len(expected):
        raise SyncMismatch(f"sync check: {where} scored {len(served)} positions, learner {len(expected)}")
    gaps = [abs(float(a) - float(b)) for a, b in zip(served, expected)]
    gaps = [g if g == g else math.inf for g in gaps]  # NaN: a mismatch
    at = max(range(len(gaps)), key=gaps.__getitem__, default=0)
    worst = gaps[at] if gaps else 0.0
    if worst > atol:
        token = f" (token {ids[at + 1]})" if ids is not None and at + 1 < len(ids) else ""
        raise SyncMismatch(f"weight sync check failed: max |Δ logprob| {worst:.3g} > tolerance {atol:.3g} at position "
                           f"{at + 1}{token}: {where} {float(served[at]):.6f}, learner {float(expected[at]):.6f}")
    return worst


def check_policy_versions(trajectories: Iterable[Any], expected: int) -> None:
    """Every turn sampled after a push carries that push's ``policy_version``; else :class:`SyncMismatch`."""
    for traj in trajectories:
        for i, turn in enumerate(getattr(traj, "turns", [])):
            got = getattr(turn, "policy_version", None)
            if got != expected:
                raise SyncMismatch(f"turn {i} of task {getattr(traj, 'task_id', '?')!r} was sampled by policy_version "
                                   f"{got}, expected {expected} (the version of the last push)")


CHECK_MESSAGES = [{"role": "system", "content": "Use lookup(key), then answer(value)."},
                  {"role": "user", "content": 'Code of "bazo"?'},
                  {"role": "assistant", "content": '<tool_call>{"name": "lookup", "arguments": {"key": "bazo"}}</tool_call>'}]


def check_ids(renderer: Any) -> list[int]:
    """The short fixed sequence a check scores: a chat with one tool call through the model's template."""
    return renderer.encode(renderer.render(CHECK_MESSAGES, False))


def model_logprobs(model: Any, ids: Sequence[int], autocast_dtype: Any = None) -> list[float]:
    """log p(ids[i] | ids[:i]) for i >= 1 from ``model`` at T = 1 (eval mode, no grad, fp32 log-softmax)."""
    import torch

    from agents.models import autocast

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        x = torch.tensor([list(ids)], dtype=torch.long, device=device)
        with torch.no_grad(), autocast(device.type, autocast_dtype):
            logits = model(input_ids=x).logits[0, :-1]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, x[0, 1:].unsqueeze(-1)).squeeze(-1)
    finally:
        model.train(was_training)
    return logp.cpu().tolist()
