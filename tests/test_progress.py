"""SPA's progress estimator on a tiny random Llama: fits Σ_t c_t to the outcome, refit cadence, state."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from agents.trajectory import Trajectory, Turn
from trainers.credit import Signals, get_credit
from trainers.progress import ProgressEstimator


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256)
    return transformers.LlamaForCausalLM(cfg).eval()


def token_traj(turn_ids: list[list[int]], outcome: float, sample: int = 0) -> Trajectory:
    turns = [Turn(action="a", observation=[], reward=outcome if k == len(turn_ids) - 1 else 0.0, token_ids=ids,
                  logprobs=[-1.0] * len(ids), observation_ids=[3, 4], info={"outcome": outcome} if k == len(turn_ids) - 1 else {})
             for k, ids in enumerate(turn_ids)]
    return Trajectory(env_id="turngym/Test-v0", task_id="t", split="train", sample=sample, messages=[], prompt_ids=[1, 2, 5],
                      turns=turns)


def dataset(n: int = 48):
    # success iff the final turn ends on token 40 (the answer the policy committed to); 1-3 turns
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        turns = 1 + i % 3
        ids = [[int(x) for x in torch.randint(6, 30, (3,), generator=g)] for _ in range(turns)]
        win = i % 2 == 0
        ids[-1][-1] = 40 if win else 41
        out.append(token_traj(ids, 1.0 if win else 0.0, sample=i))
    return out


def test_fit_makes_turn_sums_match_outcomes_and_state_round_trips():
    data = dataset()
    est = ProgressEstimator(tiny_model(), epochs=60, lr=5e-2, batch_size=16, refit_every=2)
    metrics = est.fit(data)
    assert metrics["progress/loss_before"] > 0.2  # a random head is far from the 0/1 outcomes
    assert metrics["progress/loss_after"] < 0.02
    c = est.predict(data)
    assert [len(row) for row in c] == [len(t.turns) for t in data]
    sums = [sum(row) for row in c]
    assert all(abs(s - t.outcome) < 0.3 for s, t in zip(sums, data))
    # a fresh estimator loaded from the state predicts the same numbers
    other = ProgressEstimator(tiny_model(seed=5), epochs=1)
    other.load_state_dict(est.state_dict())
    for mine, theirs in zip(est.predict(data[:5]), other.predict(data[:5])):
        assert theirs == pytest.approx(mine, abs=1e-6)
    assert other.fits == 1
    # its c_t drive SPA's credit directly
    adv = get_credit("spa").assign(data[:4], Signals(progress=c[:4]))
    assert [len(a) for a in adv] == [1, 2, 3, 1]


def test_refit_cadence_and_buffer_skips_failed_and_tokenless():
    est = ProgressEstimator(tiny_model(), epochs=2, refit_every=3, buffer_size=10)
    data = dataset(12)
    bad = data[0].model_copy(update={"failed": True})
    textless = data[1].model_copy(update={"prompt_ids": None})
    assert est.maybe_refit(3) is None  # nothing observed yet
    est.observe([bad, textless] + data[2:])
    assert len(est.buffer) == 10
    assert est.maybe_refit(1)["progress/fit_trajectories"] == 10.0  # the first fit comes as soon as there is data
    assert est.maybe_refit(2) is None and est.fits == 1
    assert est.maybe_refit(3)["progress/fit_trajectories"] == 10.0
    assert est.fits == 2


def test_backbone_is_snapshotted_at_the_first_fit_not_at_construction():
    policy = tiny_model()
    est = ProgressEstimator(policy, epochs=1)
    with torch.no_grad():  # e.g. the SFT warm start, which runs after the loop made the estimator
        policy.model.embed_tokens.weight.mul_(2.0)
    est.fit(dataset(4))
    assert torch.equal(est.backbone.model.embed_tokens.weight, policy.model.embed_tokens.weight)
    with torch.no_grad():  # later policy updates do not move the estimator's backbone
        policy.model.embed_tokens.weight.add_(1.0)
    assert not torch.equal(est.backbone.model.embed_tokens.weight, policy.model.embed_tokens.weight)


def test_trained_backbone_changes_and_is_checkpointed():
    est = ProgressEstimator(tiny_model(), train_backbone=True, epochs=3, lr=1e-3)
    before = {k: v.clone() for k, v in est.backbone.state_dict().items()}
    est.fit(dataset(8))
    state = est.state_dict()
    assert any(not torch.equal(before[k], v) for k, v in state["backbone"].items())
    with pytest.raises(ValueError, match="no trajectories"):
        est.fit([])


def test_snapshot_is_in_the_compute_dtype_and_reads_only_the_last_hidden_state():
    policy = tiny_model()  # fp32 weights, output layer not tied: 64 x 32
    assert ProgressEstimator(policy).backbone.model.embed_tokens.weight.dtype == torch.float32  # default: the weights'
    est = ProgressEstimator(policy, dtype=torch.bfloat16, epochs=40, lr=5e-2)
    assert {p.dtype for p in est.backbone.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in policy.parameters()} == {torch.float32}  # the policy itself is untouched
    assert not any("lm_head" in k for k in est.backbone.state_dict())  # no vocabulary-sized output layer copied
    calls = []
    for module in est.backbone.modules():
        module.register_forward_pre_hook(lambda m, args, kwargs: calls.append((m, kwargs)), with_kwargs=True)
    data = dataset(12)
    metrics = est.fit(data)
    assert calls and not any(kw.get("output_hidden_states") for _, kw in calls)  # every layer's states never kept
    names = {id(m): n for n, m in est.backbone.named_modules()}
    assert "lm_head" not in {names[id(m)] for m, _ in calls}  # no logits over the vocabulary
    assert metrics["progress/loss_after"] < metrics["progress/loss_before"]
    # resume: a fresh estimator of the same dtype loaded from the state predicts exactly the same
    other = ProgressEstimator(tiny_model(seed=5), dtype="bfloat16", epochs=1)
    other.load_state_dict(est.state_dict())
    assert other.predict(data) == est.predict(data)
