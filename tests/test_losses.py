"""trainers.losses: every branch of the PPO-clip family against hand-computed numbers."""

import math

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")

from trainers.losses import (
    aggregate,
    entropy_from_logits,
    kl_k3,
    normalizer,
    policy_loss,
    token_logprobs_from_logits,
)

LN = math.log


def t(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def loss_of(ratio, adv, **kw):
    """Single-token loss with ρ = ratio (old_logp 0, logp ln ρ)."""
    logp = torch.tensor([[LN(ratio)]], requires_grad=True)
    kw = {"clip_low": 0.2, "clip_high": 0.28, **kw}
    loss, metrics = policy_loss(logp, t([0.0]), t([adv]), t([1.0]), **kw)
    loss.backward()
    return loss.item(), float(logp.grad[0, 0]), metrics


def test_unclipped_region_is_minus_a_times_ratio_with_gradient():
    loss, grad, m = loss_of(1.1, 2.0)
    assert loss == pytest.approx(-2.2)
    assert grad == pytest.approx(-2.2)  # d(-A·exp(logp))/dlogp = -A·ρ
    assert m["clip_frac_high"] == 0.0 and m["clip_frac_low"] == 0.0
    assert m["ratio_mean"] == pytest.approx(1.1)


def test_clip_high_caps_a_positive_advantage_and_stops_the_gradient():
    loss, grad, m = loss_of(1.5, 1.0)  # clip(1.5) = 1.28 → L = max(-1.5, -1.28) = -1.28
    assert loss == pytest.approx(-1.28)
    assert grad == 0.0
    assert m["clip_frac_high"] == 1.0 and m["clip_frac_low"] == 0.0


def test_clip_high_is_separate_from_clip_low():
    loss, _, _ = loss_of(1.25, 1.0)  # inside 1 + 0.28, outside 1 + 0.2: not clipped with clip-higher
    assert loss == pytest.approx(-1.25)
    loss, _, _ = loss_of(1.25, 1.0, clip_high=0.2)
    assert loss == pytest.approx(-1.2)


def test_clip_low_caps_a_negative_advantage():
    loss, grad, m = loss_of(0.5, -1.0)  # clip(0.5) = 0.8 → L = max(0.5, 0.8) = 0.8
    assert loss == pytest.approx(0.8)
    assert grad == 0.0
    assert m["clip_frac_low"] == 1.0 and m["clip_frac_high"] == 0.0


def test_no_clip_when_the_ratio_moves_against_the_advantage():
    loss, grad, m = loss_of(0.5, 1.0)  # A > 0, ρ < 1 - ε: unclipped term is larger: -0.5
    assert loss == pytest.approx(-0.5) and grad == pytest.approx(-0.5)
    assert m["clip_frac_low"] == 0.0 and m["clip_frac_high"] == 0.0


def test_dual_clip_bounds_a_negative_advantage_loss_at_c_times_abs_a():
    loss, grad, m = loss_of(5.0, -1.0)  # L = 5.0 unbounded
    assert loss == pytest.approx(5.0) and grad == pytest.approx(5.0)
    loss, grad, m = loss_of(5.0, -1.0, dual_clip=3.0)  # min(5, 3) = 3, gradient gone
    assert loss == pytest.approx(3.0) and grad == 0.0
    assert m["dual_clip_frac"] == 1.0
    loss, _, m = loss_of(2.0, -1.0, dual_clip=3.0)  # 2 < 3: untouched
    assert loss == pytest.approx(2.0) and m["dual_clip_frac"] == 0.0
    loss, _, _ = loss_of(5.0, 1.0, dual_clip=3.0)  # A > 0: dual clip does not apply (clip high: -1.28)
    assert loss == pytest.approx(-1.28)


def test_dual_clip_must_exceed_one():
    with pytest.raises(ValueError, match="dual_clip"):
        loss_of(1.0, 1.0, dual_clip=1.0)


def test_truncated_importance_weight_scales_the_loss_and_is_capped():
    # old = 0, rollout = ln 0.5 → w = exp(0 - ln 0.5) = 2 (at the cap 2); ρ = 1, A = 1: L = -1·2
    logp = torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss, m = policy_loss(logp, t([0.0, 0.0]), t([1.0, 1.0]), t([1.0, 1.0]), clip_low=0.2, clip_high=0.2,
                          rollout_logp=t([LN(0.5), LN(0.25)]), tis_cap=2.0)
    # token 1: w = 2; token 2: exp(ln 4) = 4 capped to 2 → both -2, mean -2
    assert loss.item() == pytest.approx(-2.0)
    assert m["tis_weight_mean"] == pytest.approx(2.0)
    loss, m = policy_loss(logp, t([0.0, 0.0]), t([1.0, 1.0]), t([1.0, 1.0]), clip_low=0.2, clip_high=0.2,
                          rollout_logp=t([LN(0.5), LN(2.0)]), tis_cap=2.0)
    # weights 2 and 0.5 → mean loss -(2 + 0.5)/2
    assert loss.item() == pytest.approx(-1.25)
    assert m["tis_weight_mean"] == pytest.approx(1.25)
    loss, m = policy_loss(logp, t([0.0, 0.0]), t([1.0, 1.0]), t([1.0, 1.0]), clip_low=0.2, clip_high=0.2,
                          rollout_logp=t([LN(0.5), LN(2.0)]), tis_cap=None)
    assert loss.item() == pytest.approx(-1.0) and m["tis_weight_mean"] == 1.0


def test_approx_kl_and_ratio_metrics_are_masked_token_means():
    logp = t([LN(2.0), LN(0.5), 5.0])
    _, m = policy_loss(logp, t([0.0, 0.0, 0.0]), t([1.0, 1.0, 1.0]), t([1.0, 1.0, 0.0]), clip_low=0.2, clip_high=0.2)
    assert m["ratio_mean"] == pytest.approx((2.0 + 0.5) / 2)
    # k3 with r = ln ρ: (2 - ln2 - 1) and (0.5 + ln2 - 1)
    assert m["approx_kl"] == pytest.approx(((1 - LN(2)) + (LN(2) - 0.5)) / 2)


# values [[1, 2, 3], [4, 5, 6]], mask [[1, 1, 0], [1, 0, 0]]
VALUES = t([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
MASK = t([1.0, 1.0, 0.0], [1.0, 0.0, 0.0])


def test_aggregation_modes():
    assert float(aggregate(VALUES, MASK, "token-mean")) == pytest.approx((1 + 2 + 4) / 3)
    assert float(aggregate(VALUES, MASK, "seq-mean-token-sum")) == pytest.approx((3 + 4) / 2)
    assert float(aggregate(VALUES, MASK, "seq-mean-token-sum", constant=10.0)) == pytest.approx((3 / 10 + 4 / 10) / 2)
    assert float(aggregate(VALUES, MASK, "seq-mean-token-mean")) == pytest.approx((1.5 + 4) / 2)


def test_sequences_without_sampled_tokens_do_not_count_in_seq_means():
    values = torch.cat([VALUES, t([9.0, 9.0, 9.0])])
    mask = torch.cat([MASK, t([0.0, 0.0, 0.0])])
    assert normalizer(mask, "seq-mean-token-mean") == 2.0
    assert float(aggregate(values, mask, "seq-mean-token-mean")) == pytest.approx((1.5 + 4) / 2)
    assert float(aggregate(values, torch.zeros_like(mask), "token-mean")) == 0.0


def test_micro_batches_with_the_global_normalizer_add_up_to_the_full_batch():
    for mode in ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean"):
        norm = normalizer(MASK, mode)
        parts = sum(float(aggregate(VALUES[i:i + 1], MASK[i:i + 1], mode, 7.0 if mode == "seq-mean-token-sum" else None, norm))
                    for i in range(2))
        full = float(aggregate(VALUES, MASK, mode, 7.0 if mode == "seq-mean-token-sum" else None))
        assert parts == pytest.approx(full), mode


def test_policy_loss_aggregates_by_mode():
    logp = t([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    adv = -VALUES  # ρ = 1: loss = -A = VALUES
    loss, _ = policy_loss(logp, logp, adv, MASK, clip_low=0.2, clip_high=0.2, agg="seq-mean-token-mean")
    assert loss.item() == pytest.approx(2.75)


def test_kl_k3():
    # r = ref - logp = ln 2 → 2 - ln 2 - 1; equal logprobs → 0
    out = kl_k3(t([0.0, -1.0]), t([LN(2.0), -1.0]))
    assert out[0].tolist() == pytest.approx([1 - LN(2.0), 0.0])


def test_entropy_and_token_logprobs_from_logits():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [LN(3.0), 0.0, -100.0, -100.0]]])
    assert entropy_from_logits(logits)[0].tolist() == pytest.approx([LN(4.0), -(0.75 * LN(0.75) + 0.25 * LN(0.25))], abs=1e-5)
    lp = token_logprobs_from_logits(logits, torch.tensor([[2, 0]]))
    assert lp[0].tolist() == pytest.approx([LN(0.25), LN(0.75)], abs=1e-6)
