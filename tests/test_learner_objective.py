"""What the learner optimises at a real run's settings (issue #18): the sampling temperature, the KL
reference after SFT, the lr horizon under several updates per batch, π_old without dropout, the KL
estimators' gradients, and memory that does not scale with positions × vocabulary."""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from trainers.batch import build_batch, build_sft_batch  # noqa: E402
from trainers.config import LoraConfig, LossConfig, OptimConfig  # noqa: E402
from trainers.learner import Learner  # noqa: E402
from trainers.losses import kl_penalty, policy_loss  # noqa: E402

from tests.test_learner import ADVS, TRAJS  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return tiny_model


def forward_logits(learner, batch):
    with torch.no_grad():
        return learner.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1]


def test_logprobs_are_those_of_the_sampling_temperature(tiny):
    learner = Learner(tiny, device="cpu", temperature=0.6)
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    logp, ent = learner.token_logprobs(batch, entropy=True)
    z = forward_logits(learner, batch) / 0.6
    expected = torch.log_softmax(z, -1).gather(-1, batch.input_ids[:, 1:, None])[..., 0]
    real = batch.attention_mask[:, 1:].bool()
    assert torch.allclose(logp[real], expected[real], atol=1e-5)
    sampled = batch.loss_mask.bool()
    p = torch.softmax(z, -1)
    assert torch.allclose(ent[sampled], -(p * torch.log(p)).sum(-1)[sampled], atol=1e-4)
    # π_old (filled by the first update) is log π_0.6 too, not log π_1
    learner.step(batch, LossConfig(), micro_batch=3)
    assert torch.allclose(batch.old_logprobs[sampled], expected[sampled], atol=1e-5)
    # greedy rollouts (T = 0) score the raw distribution
    assert Learner(tiny, device="cpu", temperature=0.0).temperature == 1.0


def test_worked_example_is_weights_one_when_both_sides_use_the_temperature():
    """Issue #18's example: logits (2, 0) sampled at T = 0.6.  Scored at T = 1 by the learner, the
    truncated-IS weight averages ≈ 0.95 under the sampler; scored at T = 0.6 it is exactly 1."""
    logits = torch.tensor([2.0, 0.0])
    sampler = torch.log_softmax(logits / 0.6, -1)
    at_t1 = torch.log_softmax(logits, -1)
    mean_weight_t1 = float((sampler.exp() * torch.exp(at_t1 - sampler).clamp(max=2.0)).sum())
    assert mean_weight_t1 == pytest.approx(0.95, abs=0.01)
    mask = torch.ones(1, 2)
    _, m = policy_loss(sampler[None], sampler[None], torch.ones(1, 2), mask, clip_low=0.2, clip_high=0.2,
                       rollout_logp=sampler[None], tis_cap=2.0)
    assert m["tis_weight_mean"] == 1.0


@pytest.mark.parametrize("lora", [None, LoraConfig(r=4, alpha=8)], ids=["full", "lora"])
def test_the_kl_reference_is_the_model_rl_starts_from(tiny, lora):
    learner = Learner(tiny, device="cpu", lora=lora, ref_model=True, optim=OptimConfig(lr=5e-2))
    sft = build_sft_batch(TRAJS, learner.pad_id)
    for _ in range(3):  # an SFT warm start moves the weights away from the initial model
        learner.sft_step(sft, micro_batch=3)
    learner.freeze_reference()
    loss = LossConfig(kl_coef=0.1)
    first = learner.step(build_batch(TRAJS, ADVS, learner.pad_id), loss, micro_batch=3)
    assert first["kl_ref"] == pytest.approx(0.0, abs=1e-7)  # the reference is the post-SFT policy
    frozen = learner.reference_state()
    second = learner.step(build_batch(TRAJS, ADVS, learner.pad_id), loss, micro_batch=3)
    assert second["kl_ref"] > 0
    after = learner.reference_state()  # the reference stays frozen while the policy moves
    for key in (frozen.get("model") or frozen["adapter"]):
        part = "model" if "model" in frozen else "adapter"
        assert torch.equal(frozen[part][key], after[part][key]), key
    # a resumed learner rebuilds the same reference
    other = Learner(tiny, device="cpu", lora=lora, ref_model=True)
    other.load_state_dict(learner.state_dict())
    other.load_reference_state(frozen)
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    mask = batch.loss_mask > 0
    assert torch.allclose(other._ref_logprobs(batch, mask), learner._ref_logprobs(batch, mask), atol=1e-6)
    if lora is not None:  # only the policy's adapter trains; the reference adapter is frozen
        trainable = [n for n, p in learner.model.named_parameters() if p.requires_grad]
        assert trainable and all(".default." in n for n in trainable)


def test_the_lr_horizon_counts_rl_steps_under_several_updates(tiny):
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1.0, warmup_steps=1, schedule="linear"),
                      total_steps=3, updates_per_step=2)
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    lrs = []
    for _ in range(3):  # 3 RL steps × 2 updates
        for _ in range(2):
            lrs.append(learner.step(batch, LossConfig(), micro_batch=3)["lr"])
    # warm-up lasts the first RL step's 2 updates, then linear decay over the remaining 4 updates
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


def test_pi_old_is_computed_without_dropout(tiny):
    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    learner.model.config.attention_dropout = 0.5  # Llama applies it in train mode only
    for module in learner.model.modules():
        if hasattr(module, "attention_dropout"):
            module.attention_dropout = 0.5
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    eval_logp, _ = learner.token_logprobs(batch, sampled_only=True)
    torch.manual_seed(0)
    learner.step(batch, LossConfig(), micro_batch=3)
    sampled = batch.loss_mask.bool()
    assert torch.allclose(batch.old_logprobs[sampled], eval_logp[sampled], atol=1e-6)


def test_a_checkpoint_snapshot_copies_the_optimizer_state_on_the_host(tiny, monkeypatch):
    import trainers.learner as module

    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    learner.step(build_batch(TRAJS, ADVS, learner.pad_id), LossConfig(), micro_batch=3)
    monkeypatch.setattr(module.copy, "deepcopy", lambda *a, **k: pytest.fail("deep copy of device state"))
    state = learner.state_dict()
    exp_avg = next(iter(state["optimizer"]["state"].values()))["exp_avg"]
    assert exp_avg.device.type == "cpu"
    live = next(iter(learner.optimizer.state.values()))["exp_avg"]
    assert exp_avg.data_ptr() != live.data_ptr()  # a copy: later steps do not change the snapshot


def expected_grad(estimator, logits, ref_logits):
    """E_{x~π}[∇ k(x)] with the penalty differentiated as is (the sample's probability not reweighted)."""
    theta = logits.clone().requires_grad_(True)
    logp = torch.log_softmax(theta, -1)
    ref = torch.log_softmax(ref_logits, -1)
    (logp.exp().detach() * kl_penalty(logp, ref, estimator)).sum().backward()
    return theta.grad


def analytic_grad(direction, logits, ref_logits):
    theta = logits.clone().requires_grad_(True)
    p, q = torch.softmax(theta, -1), torch.softmax(ref_logits, -1)
    kl = (p * (p.log() - q.log())).sum() if direction == "forward" else (q * (q.log() - p.log())).sum()
    kl.backward()
    return theta.grad


def test_kl_estimators_gradients_are_what_the_docstring_says():
    logits, ref_logits = torch.tensor([1.0, -0.5, 0.3]), torch.tensor([0.2, 0.4, -1.0])
    assert torch.allclose(expected_grad("k2", logits, ref_logits), analytic_grad("forward", logits, ref_logits), atol=1e-6)
    assert torch.allclose(expected_grad("k3", logits, ref_logits), analytic_grad("reverse", logits, ref_logits), atol=1e-6)
    assert torch.allclose(expected_grad("k1", logits, ref_logits), torch.zeros(3), atol=1e-6)
    # and k3's value is unbiased for KL(π‖ref)
    p, q = torch.softmax(logits, -1), torch.softmax(ref_logits, -1)
    value = (p * kl_penalty(p.log(), q.log(), "k3")).sum()
    assert float(value) == pytest.approx(float((p * (p.log() - q.log())).sum()), abs=1e-6)


def test_the_update_runs_the_head_only_on_sampled_targets_in_chunks(tiny, monkeypatch):
    import trainers.logprobs as lp

    learner = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    head = learner.model.get_output_embeddings()
    rows = []
    hook = head.register_forward_hook(lambda _m, args, _out: rows.append(args[0].shape[:-1]))
    monkeypatch.setattr(lp, "CHUNK_ELEMENTS", 5 * head.out_features)  # 16-row chunks at the floor of 16
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    learner.step(batch, LossConfig(), micro_batch=3, entropy=False)
    hook.remove()
    assert all(len(shape) == 1 and shape[0] <= 16 for shape in rows)  # [rows, H], never [B, L, H]
    forward_rows = sum(shape[0] for shape in rows) / 2  # each chunk ran forward, then again in backward
    assert forward_rows == batch.num_sampled


def test_lora_saves_only_the_policy_adapter(tiny, tmp_path):
    learner = Learner(tiny, device="cpu", lora=LoraConfig(r=4, alpha=8), ref_model=True)
    learner.freeze_reference()
    out = learner.save_weights(tmp_path / "adapter", merged=False)
    assert (out / "adapter_model.safetensors").exists() and not (out / "reference").exists()
    merged = learner.save_weights(tmp_path / "merged")
    assert (merged / "config.json").exists()


def test_a_training_config_refuses_top_p_below_one():
    from trainers.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="sampling.top_p: is 0.9"):
        load_config(preset="demo", overrides=["sampling.top_p=0.9"])


def test_the_lora_reference_is_scored_without_dropout(tiny):
    learner = Learner(tiny, device="cpu", lora=LoraConfig(r=4, alpha=8, dropout=0.5), ref_model=True)
    learner.freeze_reference()
    batch = build_batch(TRAJS, ADVS, learner.pad_id)
    mask = batch.loss_mask > 0
    learner.model.train()  # as inside an update
    first, second = learner._ref_logprobs(batch, mask), learner._ref_logprobs(batch, mask)
    assert torch.equal(first, second) and learner.model.training


def test_activation_checkpointing_gives_the_same_update(tiny):
    plain = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3))
    ckpt = Learner(tiny, device="cpu", optim=OptimConfig(lr=1e-3), activation_checkpointing=True)
    a = plain.step(build_batch(TRAJS, ADVS, plain.pad_id), LossConfig(), micro_batch=3)
    b = ckpt.step(build_batch(TRAJS, ADVS, ckpt.pad_id), LossConfig(), micro_batch=3)
    assert b["loss"] == pytest.approx(a["loss"], abs=1e-6) and b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)
    assert ckpt.model.is_gradient_checkpointing and not plain.model.is_gradient_checkpointing
    for p, q in zip(plain.model.parameters(), ckpt.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
