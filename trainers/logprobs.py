"""Log-probabilities (and entropies) of chosen tokens at a sampling temperature, without ever holding
a ``[B, L, V]`` logits tensor.

At a real vocabulary (V = 49k for SmolLM2, 152k for Qwen) the logits of a batch dominate a policy
update's memory: 4 × 1,200 tokens × 49k × 4 bytes is 0.9 GB per copy, and ``logsumexp``, softmax
and their gradients make several copies.  Here the decoder runs once to its last hidden state
``h [B, L, H]`` (small); only the positions asked for (the sampled targets) go through the output
head, ``chunk_rows`` rows at a time, and in a backward pass each chunk's logits are recomputed
(``torch.utils.checkpoint``) instead of stored.  Peak extra memory is one chunk's ``[rows, V]``.

For every selected target ``y`` at position ``j`` (the logits at ``j`` predict token ``j + 1``)::

    z   = W h_j / T                 (the head in float32; T = the sampling temperature, 1 when T = 0)
    log π_T(y) = z_y − logsumexp(z)
    H_T = logsumexp(z) − Σ softmax(z)·z

The temperature matters: vLLM (``--logprobs-mode processed_logprobs``) and ``HFPolicy`` report
log π_T of what they sampled at T, so the learner's π_old, π_θ, the truncated-IS weight and the
answer probes must all use the same T (as verl divides by the rollout temperature), or the IS
weight measures the temperature instead of the engine mismatch.

Models whose logits are not a plain linear head of the last hidden state (soft-capped or scaled
logits: Gemma 2, Cohere, Granite) fall back to the model's own full forward; the chunked
log-softmax still applies there.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch.utils.checkpoint import checkpoint

CHUNK_ELEMENTS = 1 << 25  # logits per chunk (32 M floats = 128 MB in fp32): rows = this // V
_SCALED_LOGITS = ("final_logit_softcapping", "logit_scale", "logits_scaling")


def effective_temperature(temperature: float | None) -> float:
    """The temperature logits are divided by: greedy (0) and None score the raw distribution."""
    return float(temperature) if temperature else 1.0


def split_model(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """(decoder up to its last hidden state, output head) of a causal LM (peft-wrapped or not), or None
    when its logits are more than a linear head (see the module docstring)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(inner, "base_model", None)
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    if decoder is None or decoder is inner or head is None:
        return None
    cfg = getattr(inner, "config", None)
    for name in _SCALED_LOGITS:
        value = getattr(cfg, name, None)
        if value not in (None, 1, 1.0):
            return None
    return decoder, head


def _head_logits(head: torch.nn.Module, h: torch.Tensor, temperature: float) -> torch.Tensor:
    """fp32 logits / T of rows ``h`` (autocast off: the head runs in its weights' dtype, fp32 master weights
    give fp32 logits)."""
    device_type = h.device.type
    weight = getattr(head, "weight", None)
    dtype = weight.dtype if weight is not None else h.dtype
    with torch.autocast(device_type, enabled=False) if device_type in ("cpu", "cuda") else nullcontext():
        z = head(h.to(dtype)).float()
    return z / temperature if temperature != 1.0 else z


def _chunk(head: torch.nn.Module, h: torch.Tensor, targets: torch.Tensor, temperature: float,
           stats: bool, suppress: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    z = _head_logits(head, h, temperature)
    if suppress:  # tokens the policy never samples (a VLM's vision tokens): out of the distribution
        z = z.index_fill(-1, torch.tensor(suppress, device=z.device), torch.finfo(z.dtype).min)
    lse = torch.logsumexp(z, dim=-1)
    logp = z.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - lse
    if not stats:
        return logp, torch.zeros(0, device=h.device)
    with torch.no_grad():
        zd = z.detach()
        ent = lse.detach() - (torch.softmax(zd, dim=-1) * zd).sum(dim=-1)
        hit = (zd.argmax(dim=-1) == targets).float()
    return logp, torch.stack([ent, hit], dim=-1)


def rows_logprobs(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0, *,
                  stats: bool = False, chunk_rows: int | None = None,
                  suppress: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log π_T(targets[n] | hidden[n]) for rows ``hidden [N, H]``, chunked; with ``stats``, also ``[N, 2]``:
    the entropy of π_T and whether the target is its argmax (no gradient).

    With grad enabled, each chunk is checkpointed: backward recomputes its logits."""
    n = hidden.shape[0]
    vocab = getattr(head, "out_features", None) or int(head.weight.shape[0])
    rows = chunk_rows or max(16, CHUNK_ELEMENTS // max(1, vocab))
    grad = torch.is_grad_enabled() and hidden.requires_grad
    logps, extra = [], []
    for start in range(0, n, rows):
        h, t = hidden[start:start + rows], targets[start:start + rows]
        if grad:
            lp, st = checkpoint(_chunk, head, h, t, temperature, stats, suppress, use_reentrant=False)
        else:
            lp, st = _chunk(head, h, t, temperature, stats, suppress)
        logps.append(lp)
        extra.append(st)
    logp = torch.cat(logps) if logps else hidden.new_zeros(0, dtype=torch.float32)
    if not stats:
        return logp, None
    return logp, torch.cat(extra) if extra else hidden.new_zeros((0, 2), dtype=torch.float32)


def token_logprobs(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   select: torch.Tensor | None = None, temperature: float = 1.0, *, stats: bool = False,
                   chunk_rows: int | None = None, suppress: list[int] | None = None,
                   **inputs) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-target ``[B, L-1]`` log π_T (column j scores token j + 1), filled where ``select`` (bool
    ``[B, L-1]``; None: every position) and 0 elsewhere; with ``stats``, ``[B, L-1, 2]`` entropies and
    argmax hits likewise (see :func:`rows_logprobs`).  ``inputs``: more forward inputs (a vision-language
    model's ``pixel_values``, ``image_grid_thw``, ``mm_token_type_ids``: :meth:`TokenBatch.model_inputs`);
    ``suppress``: token ids the policy never samples (a VLM's vision tokens), left out of the distribution as
    the sampler leaves them out."""
    targets = input_ids[:, 1:]
    select = torch.ones_like(targets, dtype=torch.bool) if select is None else select.to(input_ids.device).bool()
    parts = split_model(model)
    if parts is not None:
        decoder, head = parts
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **inputs).last_hidden_state
        rows = hidden[:, :-1][select]
    else:  # the model's own logits: no saving on the forward, the log-softmax is still chunked
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, **inputs).logits[:, :-1]
        head, rows = torch.nn.Identity(), logits[select]
        head.out_features = logits.shape[-1]
    lp, st = rows_logprobs(head, rows, targets[select], temperature, stats=stats, chunk_rows=chunk_rows, suppress=suppress)
    logp = torch.zeros(targets.shape, dtype=torch.float32, device=input_ids.device)
    logp = logp.masked_scatter(select, lp.float()) if lp.numel() else logp
    extra = None
    if stats:
        extra = torch.zeros((*targets.shape, 2), dtype=torch.float32, device=input_ids.device)
        if st is not None and st.numel():
            extra[select] = st
    return logp, extra
