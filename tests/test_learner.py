"""trainers.learner on the tiny random Llama: gradients, micro-batching, SFT, LoRA, KL, weights, state."""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents.trajectory import Trajectory, Turn  # noqa: E402
from trainers.batch import build_batch, build_sft_batch  # noqa: E402
from trainers.config import LoraConfig, LossConfig, OptimConfig  # noqa: E402
from trainers.learner import Learner, lr_lambda  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return tiny_model  # built once per session (tests/conftest.py)


def traj(prompt, turns, lp=-1.0):
    return Trajectory(
        env_id="turngym/X-v0", task_id="t", split="train", messages=[], prompt_ids=list(prompt),
        turns=[Turn(action="", observation=[], reward=0.0, token_ids=list(s), observation_ids=list(o),
                    logprobs=[lp] * len(s)) for s, o in turns],
    )


TRAJS = [
    traj([5, 6, 7, 8], [([40, 41, 42], [9, 10]), ([43, 44], [11])]),
    traj([5, 6], [([50, 51, 52, 53, 54, 55], [])]),
    traj([5, 6, 7], [([60], [12, 13, 14]), ([61, 62], [])]),
]
ADVS = [[1.0, -0.5], [2.0], [-1.0, 0.5]]


def grads(learner):
    return [p.grad.clone() for p in learner.model.parameters() if p.grad is not None]


def assert_same_grads(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):  # fp32 sums in another order: equal to ~1e-7 relative
        assert float((a - b).norm()) <= 1e-5 * float(b.norm()) + 1e-8


def test_gradient_equals_a_hand_written_policy_gradient(tiny):
    """ρ = 1 on the first update: ∇loss = ∇ of −Σ m·A·logp / Σ m (token-mean), no clipping, no TIS."""
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    learner.backward(batch, LossConfig(tis_cap=None), micro_batch=8)
    ours = grads(learner)
    learner.model.zero_grad(set_to_none=True)
    ids = batch.input_ids
    logits = learner.model(input_ids=ids, attention_mask=batch.attention_mask).logits[:, :-1]
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]
    loss = -(batch.advantages * logp * batch.loss_mask).sum() / batch.loss_mask.sum()
    loss.backward()
    assert_same_grads(ours, grads(learner))
    assert torch.allclose(batch.old_logprobs * batch.loss_mask, logp.detach() * batch.loss_mask, atol=1e-5)


@pytest.mark.parametrize("agg,constant", [("token-mean", None), ("seq-mean-token-sum", 16.0), ("seq-mean-token-mean", None)])
def test_micro_batching_accumulates_the_full_batch_gradient(tiny, agg, constant):
    learner = Learner(tiny, device="cpu")
    cfg = LossConfig(agg=agg, agg_constant=constant, clip_high=0.28)
    full = learner.backward(build_batch(TRAJS, ADVS, learner.pad_id), cfg, micro_batch=3)
    g_full = grads(learner)
    learner.model.zero_grad(set_to_none=True)
    micro = learner.backward(build_batch(TRAJS, ADVS, learner.pad_id), cfg, micro_batch=1)
    assert_same_grads(g_full, grads(learner))
    assert micro["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert full["ratio_mean"] == pytest.approx(1.0) and full["tis_weight_mean"] > 0


def test_steps_raise_positive_and_lower_negative_advantage_tokens(tiny):
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    trajs = [TRAJS[0], TRAJS[1]]
    before, _ = learner.token_logprobs(build_batch(trajs, [[0, 0], [0]], learner.pad_id))
    for _ in range(3):  # no TIS: the made-up rollout logprobs (-1) are far from the model's
        m = learner.step(build_batch(trajs, [[1.0, 1.0], [-1.0]], learner.pad_id), LossConfig(tis_cap=None), micro_batch=2)
    after, _ = learner.token_logprobs(build_batch(trajs, [[0, 0], [0]], learner.pad_id))
    pos = build_batch(trajs, [[1, 1], [0]], learner.pad_id).advantages > 0
    neg = build_batch(trajs, [[0, 0], [1]], learner.pad_id).advantages > 0
    assert after[pos].sum() > before[pos].sum() + 10  # measured: -48.1 -> -0.3
    assert after[neg].sum() < before[neg].sum() - 10  # measured: -105 -> -374
    assert learner.steps_done == 3
    assert {"loss", "grad_norm", "lr", "entropy", "clip_frac_low", "clip_frac_high", "tokens"} <= set(m)
    assert m["tokens"] == 11 and m["entropy"] > 0


def test_second_update_on_a_batch_keeps_pi_old_and_clips(tiny):
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=5e-2))
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    first = learner.step(batch, LossConfig(tis_cap=None), micro_batch=2)
    old = batch.old_logprobs.clone()
    second = learner.step(batch, LossConfig(tis_cap=None), micro_batch=2)
    assert torch.equal(batch.old_logprobs, old)
    assert first["ratio_mean"] == pytest.approx(1.0) and first["approx_kl"] == pytest.approx(0.0, abs=1e-7)
    assert second["approx_kl"] > 0 and second["ratio_mean"] != pytest.approx(1.0)


def test_sft_step_learns_the_assistant_tokens(tiny):
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-2))
    batch = build_sft_batch(TRAJS, learner.pad_id)
    first = learner.sft_step(batch, micro_batch=2)
    for _ in range(25):
        last = learner.sft_step(batch, micro_batch=2)
    assert last["loss"] < first["loss"] * 0.5
    assert last["token_accuracy"] > first["token_accuracy"]


def test_warmup_and_schedules():
    f = lr_lambda(4, "constant", None)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    f = lr_lambda(2, "linear", 6)
    assert [f(s) for s in range(7)] == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0])
    f = lr_lambda(0, "cosine", 4)
    assert [f(s) for s in range(5)] == pytest.approx([1.0, 0.8535534, 0.5, 0.1464466, 0.0])
    with pytest.raises(ValueError, match="total_steps"):
        lr_lambda(0, "linear", None)


def test_lora_trains_only_the_adapter_and_saves_merged_or_adapter(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    learner = Learner(tiny, device="cpu", lora=LoraConfig(r=4, alpha=8), optim=OptimConfig(lr=1e-2), ref_model=True)
    assert 0 < learner.num_parameters(trainable=True) < learner.num_parameters() / 4
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    m = learner.step(batch, LossConfig(kl_coef=0.1), micro_batch=3)
    assert m["kl_ref"] == pytest.approx(0.0, abs=1e-7)  # LoRA B starts at 0: policy == reference
    m = learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(kl_coef=0.1), micro_batch=3)
    assert m["kl_ref"] > 0
    merged = learner.save_weights(tmp_path / "merged")
    assert (merged / "tokenizer.json").exists() and (merged / "config.json").exists()
    reloaded = AutoModelForCausalLM.from_pretrained(merged)
    ids = batch.input_ids[:1]
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, learner.model(input_ids=ids).logits, atol=1e-4)
    adapter = learner.save_weights(tmp_path / "adapter", merged=False)
    assert (adapter / "adapter_config.json").exists()


def test_full_finetune_kl_needs_a_reference(tiny):
    learner = Learner(tiny, device="cpu")
    with pytest.raises(ValueError, match="ref_model"):
        learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(kl_coef=0.1), micro_batch=3)
    learner = Learner(tiny, device="cpu", ref_model=True, optim=OptimConfig(lr=1e-2))
    learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(kl_coef=0.1), micro_batch=3)
    m = learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(kl_coef=0.1), micro_batch=3)
    assert m["kl_ref"] > 0


def test_state_dict_round_trip_continues_identically(tiny):
    a = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-2, warmup_steps=3))
    a.step(build_batch(TRAJS, ADVS, a.pad_id), LossConfig(), micro_batch=3)
    b = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-2, warmup_steps=3))
    b.load_state_dict(a.state_dict())
    assert b.lr == a.lr and b.steps_done == 1
    ma = a.step(build_batch(TRAJS, ADVS, a.pad_id), LossConfig(), micro_batch=3)
    mb = b.step(build_batch(TRAJS, ADVS, b.pad_id), LossConfig(), micro_batch=3)
    assert ma["loss"] == mb["loss"]
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_an_hf_policy_shares_the_learner_module(tiny):
    from agents.hf_policy import HFPolicy

    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=5e-2))
    policy = HFPolicy(tiny, model_obj=learner.model)
    seq = TRAJS[1].token_ids()
    before = policy.forward_logprobs([seq])[0]
    learner.step(build_batch([TRAJS[1]], [[1.0]], learner.pad_id), LossConfig(), micro_batch=1)
    after = policy.forward_logprobs([seq])[0]
    ours, _ = learner.token_logprobs(build_batch([TRAJS[1]], [[0.0]], learner.pad_id))
    assert after != pytest.approx(before, abs=1e-3)
    assert after == pytest.approx(ours[0].tolist(), abs=1e-5)
    assert not learner.model.training


def test_an_hf_policy_with_autocast_computes_in_bf16_on_the_shared_fp32_module(tiny):
    """What a CUDA trainer does (fp32 master weights, bf16 compute), checked with CPU autocast."""
    from agents.hf_policy import HFPolicy

    learner = Learner(tiny, device="cpu")
    exact, bf16 = HFPolicy(tiny, model_obj=learner.model), HFPolicy(tiny, model_obj=learner.model, autocast="bfloat16")
    seq = TRAJS[0].token_ids()
    fp32_lp, bf16_lp = exact.forward_logprobs([seq])[0], bf16.forward_logprobs([seq])[0]
    assert bf16_lp != fp32_lp  # autocast is on: bf16 rounding shows
    assert bf16_lp == pytest.approx(fp32_lp, rel=0.02)  # and it is only rounding (measured: ≤ 0.7 % of ~-14 nats)
    assert next(learner.model.parameters()).dtype == torch.float32  # the master weights are untouched


def test_token_logprobs_and_entropies_match_a_forward_pass(tiny):
    from trainers.losses import entropy_from_logits

    learner = Learner(tiny, device="cpu")
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    logp, ent = learner.token_logprobs(batch, micro_batch=2, entropy=True)
    with torch.no_grad():
        logits = learner.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1]
    real = batch.attention_mask[:, 1:].bool()
    expected = torch.log_softmax(logits, -1).gather(-1, batch.input_ids[:, 1:, None])[..., 0]
    assert torch.allclose(logp[real], expected[real], atol=1e-5)
    sampled = batch.loss_mask.bool()
    assert torch.allclose(ent[sampled], entropy_from_logits(logits)[sampled], atol=1e-5)
    assert torch.all(ent[~sampled] == 0)
