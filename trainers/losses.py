"""Policy-gradient losses as pure functions of per-token tensors (``[B, T]``, mask 1 on sampled tokens).

PPO-clip with separate bounds (clip-higher) and dual clip, per token::

    ρ  = exp(logp − old_logp)
    L  = max(−A·ρ, −A·clip(ρ, 1 − clip_low, 1 + clip_high))
    L  = min(L, −c·A)            where A < 0, when dual_clip = c (c > 1)
    L  = w · L,  w = min(exp(old_logp − rollout_logp), C) (detached)   truncated IS, when tis_cap = C

Aggregation (``agg``) over the masked tokens::

    token-mean           Σ m·L / Σ m
    seq-mean-token-sum   (1/S) Σ_i (Σ_t m·L) / K        K = agg_constant or 1 (Dr.GRPO: a fixed K)
    seq-mean-token-mean  (1/S) Σ_i (Σ_t m·L) / (Σ_t m)

S counts sequences with at least one masked token.  ``normalizer`` replaces the denominator
(Σ m, or S) so that micro-batches of one batch each divide by the *whole* batch's count and
their gradients add up to the full batch's (see :func:`normalizer`).

KL penalty to a reference, per sampled token with r = ref_logp − logp (``kl_penalty``; Schulman's
estimators).  Tokens are drawn from π, and the penalty is differentiated as is
(no reweighting), so *value* and *gradient* estimate different things:

    k1 = −r             value: KL(π‖ref) unbiased    gradient: E[∇k1] = 0 (only a
                        baseline-free score term; it does not pull π toward ref on its own)
    k2 = r² / 2         value: biased, ≥ 0           gradient: ∇KL(π‖ref) exactly (on-policy)
    k3 = e^r − r − 1    value: KL(π‖ref) unbiased, ≥ 0
                        gradient: E[(1 − ref/π)∇log π] = −Σ ref ∇log π = ∇KL(ref‖π) (the reverse KL)

k3 is the default (GRPO, verl's ``low_var_kl``): it penalises the reverse KL(ref‖π); choose k2 for
the gradient of KL(π‖ref).
Metrics: clip fractions (``clip_frac_low``: A < 0 and ρ < 1 − clip_low; ``clip_frac_high``:
A > 0 and ρ > 1 + clip_high; ``dual_clip_frac``), ``ratio_mean``, ``approx_kl`` (k3 of π_old vs
π_θ), ``tis_weight_mean``: token means over the mask, as Python floats.
"""

from __future__ import annotations

from typing import Literal

import torch

Agg = Literal["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"]
AGG_MODES = ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean")


def normalizer(mask: torch.Tensor, mode: Agg) -> float:
    """The denominator ``mode`` divides by over this mask: masked tokens, or sequences with any."""
    if mode == "token-mean":
        return float(mask.sum())
    if mode in ("seq-mean-token-sum", "seq-mean-token-mean"):
        return float((mask.sum(dim=-1) > 0).sum())
    raise ValueError(f"unknown aggregation {mode!r}; use one of {AGG_MODES}")


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: Agg, constant: float | None = None,
              norm: float | None = None) -> torch.Tensor:
    """Reduce per-token ``values`` over ``mask`` (see the module docstring); 0 when nothing is masked."""
    mask = mask.to(values.dtype)
    denom = normalizer(mask, mode) if norm is None else float(norm)
    if denom <= 0:
        return (values * mask).sum() * 0.0  # keeps the graph; no tokens, no gradient
    if mode == "token-mean":
        return (values * mask).sum() / denom
    seq_sums = (values * mask).sum(dim=-1)
    if mode == "seq-mean-token-sum":
        return seq_sums.sum() / (constant or 1.0) / denom
    counts = mask.sum(dim=-1)
    return (seq_sums / counts.clamp(min=1.0)).sum() / denom


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    n = float(mask.sum())
    return float((values * mask).sum()) / n if n else 0.0


def policy_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, *,
    clip_low: float, clip_high: float, dual_clip: float | None = None, agg: Agg = "token-mean",
    agg_constant: float | None = None, rollout_logp: torch.Tensor | None = None, tis_cap: float | None = None,
    norm: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO-clip loss (clip-higher, dual clip, truncated IS) aggregated by ``agg``; returns (loss, metrics)."""
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
    mask = mask.to(logp.dtype)
    adv = advantages.to(logp.dtype)
    log_ratio = logp - old_logp.detach()
    ratio = torch.exp(log_ratio)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(unclipped, clipped)
    dual = torch.zeros_like(mask, dtype=torch.bool)
    if dual_clip is not None:
        bound = -adv * dual_clip
        dual = (adv < 0) & (loss > bound)
        loss = torch.where(adv < 0, torch.minimum(loss, bound), loss)
    weight = None
    if tis_cap is not None and rollout_logp is not None:
        weight = torch.exp(old_logp.detach() - rollout_logp).clamp(max=tis_cap).detach()
        loss = loss * weight
    with torch.no_grad():
        metrics = {
            "clip_frac_low": _masked_mean(((adv < 0) & (ratio < 1.0 - clip_low)).to(mask.dtype), mask),
            "clip_frac_high": _masked_mean(((adv > 0) & (ratio > 1.0 + clip_high)).to(mask.dtype), mask),
            "dual_clip_frac": _masked_mean(dual.to(mask.dtype), mask),
            "ratio_mean": _masked_mean(ratio, mask),
            "approx_kl": _masked_mean(torch.exp(log_ratio) - log_ratio - 1.0, mask),
            "tis_weight_mean": _masked_mean(weight, mask) if weight is not None else 1.0,
        }
    return aggregate(loss, mask, agg, agg_constant, norm), metrics


KL_ESTIMATORS = ("k1", "k2", "k3")


def kl_penalty(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token KL penalty ``estimator`` of r = ref_logp − logp (see the module docstring for what
    each one's value and gradient estimate); r clamped to ±20."""
    r = (ref_logp - logp).clamp(-20.0, 20.0)
    if estimator == "k1":
        return -r
    if estimator == "k2":
        return 0.5 * r * r
    if estimator == "k3":
        return torch.exp(r) - r - 1.0
    raise ValueError(f"unknown KL estimator {estimator!r}; use one of {KL_ESTIMATORS}")


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """k3: exp(r) − r − 1; its value estimates KL(π‖ref), its gradient ∇KL(ref‖π) (module docstring)."""
    return kl_penalty(logp, ref_logp, "k3")


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the softmax over the last dim: logsumexp(z) − Σ softmax(z)·z (float32 inside)."""
    z = logits.float()
    return torch.logsumexp(z, dim=-1) - (torch.softmax(z, dim=-1) * z).sum(dim=-1)


def token_logprobs_from_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] per position, in float32, without materialising the full log-softmax."""
    z = logits.float()
    return z.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(z, dim=-1)
