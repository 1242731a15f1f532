"""HFPolicy's decode loop (agents/hf_policy.py): logprobs of the sampled tokens at the sampling
temperature (vLLM's processed logprobs), greedy argmax, top-p, seeding, and no steps × vocab logits.

On the tiny random Llama, CPU, float32.
"""

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents.policy import SamplingParams  # noqa: E402
from agents.tokens import TokenConversation  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUESTIONS = ("a", "What is 2 + 2 in SQL?", "Name the artist with the most albums in the store, please.")


@pytest.fixture(scope="module")
def hf(tiny_model):
    from agents.hf_policy import HFPolicy

    return HFPolicy(tiny_model, device="cpu", max_batch=8)


@pytest.fixture(scope="module")
def prompts(hf):
    system = {"role": "system", "content": "You are an agent. Call tools."}
    return [TokenConversation(hf.renderer, [system, {"role": "user", "content": q}]).ids for q in QUESTIONS]


def _scaled_forward(model, ids, temperature, top_p=1.0):
    """log_softmax(logits / T) (top-p filtered) of one unpadded sequence: row j predicts ids[j + 1]."""
    from agents.hf_policy import top_p_filter

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float() / temperature
    return torch.log_softmax(top_p_filter(logits, top_p) if top_p < 1 else logits, dim=-1)


def _sampled_rows(logp, prompt, completion):
    return [logp[len(prompt) - 1 + k, tok].item() for k, tok in enumerate(completion.token_ids)]


@pytest.mark.parametrize("temperature", [0.6, 1.0])
def test_logprobs_of_sampled_tokens_are_log_softmax_of_logits_over_t(hf, prompts, temperature):
    seen = []  # the last-position logits of every forward the decode loop ran
    hook = hf.model.register_forward_hook(lambda _m, _i, out: seen.append(out.logits[:, -1].float().clone()))
    try:
        completions = hf.generate_ids(prompts, SamplingParams(temperature=temperature, max_tokens=16, seed=11))
    finally:
        hook.remove()
    for row, (prompt, c) in enumerate(zip(prompts, completions)):  # one left-padded batch of three lengths
        assert len(c.token_ids) == len(c.logprobs) >= 1
        # Exactly the float32 log_softmax(logits / T) of the logits each token was drawn from ...
        exact = [torch.log_softmax(seen[k][row] / temperature, -1)[tok].item() for k, tok in enumerate(c.token_ids)]
        assert max(abs(a - b) for a, b in zip(c.logprobs, exact)) < 1e-6
        # ... and a separate forward pass agrees up to float32 noise: the tiny model's logits reach ~20, and a
        # KV-cache step and a full pass differ by ~1e-5 there (even two full passes of different lengths by 6e-6).
        logp = _scaled_forward(hf.model, prompt + c.token_ids, temperature)
        assert max(abs(a - b) for a, b in zip(c.logprobs, _sampled_rows(logp, prompt, c))) < 1e-4
        # forward_logprobs (the answer probes' path) scores at the same temperature
        (fwd,) = hf.forward_logprobs([prompt + c.token_ids], temperature=temperature)
        assert max(abs(a - b) for a, b in zip(c.logprobs, fwd[len(prompt) - 1:])) < 1e-4
        if temperature != 1.0:  # what was returned before: the T = 1 logprobs of tokens drawn at T
            raw = _sampled_rows(_scaled_forward(hf.model, prompt + c.token_ids, 1.0), prompt, c)
            assert max(abs(a - b) for a, b in zip(c.logprobs, raw)) > 1e-2


def test_answer_scores_take_the_temperature(hf, prompts):
    import asyncio

    at_1 = asyncio.run(hf.score_answers(prompts[:2], ["347", "Let There Be Rock"]))
    assert at_1 == asyncio.run(hf.score_answers(prompts[:2], ["347", "Let There Be Rock"], temperature=1.0))
    at_06 = asyncio.run(hf.score_answers(prompts[:2], ["347", "Let There Be Rock"], temperature=0.6))
    for prefix, answer, score in zip(prompts, ["347", "Let There Be Rock"], at_06):
        ids = prefix + hf.renderer.encode(answer)
        logp = _scaled_forward(hf.model, ids, 0.6)
        manual = [logp[j - 1, ids[j]].item() for j in range(len(prefix), len(ids))]
        assert abs(score - sum(manual) / len(manual)) < 1e-5
    assert all(abs(a - b) > 1e-4 for a, b in zip(at_1, at_06))


def test_greedy_is_the_argmax_with_raw_logprobs(hf, prompts):
    completions = hf.generate_ids(prompts, SamplingParams(temperature=0.0, max_tokens=12))
    for prompt, c in zip(prompts, completions):
        logp = _scaled_forward(hf.model, prompt + c.token_ids, 1.0)
        rows = logp[len(prompt) - 1: len(prompt) - 1 + len(c.token_ids)]
        assert rows.argmax(-1).tolist() == c.token_ids
        assert max(abs(a - b) for a, b in zip(c.logprobs, _sampled_rows(logp, prompt, c))) < 1e-4


def test_top_p_keeps_the_nucleus_and_reports_its_renormalized_logprob(hf, prompts):
    from agents.hf_policy import top_p_filter

    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = torch.softmax(top_p_filter(probs.log(), 0.7), dim=-1)  # 0.15 + 0.05 <= 0.3: that tail goes
    assert torch.allclose(kept, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    sampling = SamplingParams(temperature=0.8, top_p=0.5, max_tokens=12, seed=5)
    for prompt, c in zip(prompts, hf.generate_ids(prompts, sampling)):
        logp = _scaled_forward(hf.model, prompt + c.token_ids, 0.8, top_p=0.5)
        expected = _sampled_rows(logp, prompt, c)
        assert all(x > -float("inf") for x in expected)  # every draw came from the nucleus
        assert max(abs(a - b) for a, b in zip(c.logprobs, expected)) < 1e-4


def test_a_seeded_batch_repeats_and_leaves_the_global_rng_alone(hf, prompts):
    sampling = SamplingParams(temperature=1.0, max_tokens=12, seed=7)
    state = torch.get_rng_state()
    first, again = hf.generate_ids(prompts, sampling), hf.generate_ids(prompts, sampling)
    assert torch.equal(torch.get_rng_state(), state)
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    assert [c.logprobs for c in first] == [c.logprobs for c in again]
    other = hf.generate_ids(prompts, sampling.model_copy(update={"seed": 8}))
    assert [c.token_ids for c in other] != [c.token_ids for c in first]


def test_rows_end_at_a_stop_id_or_their_room(hf, prompts):
    saved = hf.max_model_len
    hf.max_model_len = len(prompts[2]) + 3  # the longest prompt has room for 3 tokens, the others for 8
    try:
        completions = hf.generate_ids(prompts, SamplingParams(temperature=1.0, max_tokens=8, seed=1))
    finally:
        hf.max_model_len = saved
    for c, room in zip(completions, [8, 8, 3]):
        stops = [k for k, t in enumerate(c.token_ids) if t in hf.renderer.stop_ids]
        if c.finish_reason == "stop":
            assert stops == [len(c.token_ids) - 1] and len(c.token_ids) <= room
        else:
            assert stops == [] and len(c.token_ids) == room


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * __import__("os").sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="reads the RSS from /proc")
def test_sampling_never_holds_logits_of_every_step(tiny_model):
    """At V = 131,072, 2 rows × 96 steps of float32 logits are 100 MB: generate(output_logits=True)
    held them all until the end; the decode loop holds one step's (1 MB) at a time."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from agents.hf_policy import HFPolicy

    vocab, steps = 131_072, 96
    config = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=1, num_key_value_heads=1, head_dim=64, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    policy = HFPolicy(tiny_model, model_obj=model, device="cpu")
    peak = [0]
    model.register_forward_hook(lambda *_: peak.__setitem__(0, max(peak[0], _rss())))
    prompts = [[5, 6, 7, 8, 9, 10], [11, 12, 13]]
    sampling = SamplingParams(temperature=1.0, max_tokens=steps, seed=0)
    policy.generate_ids(prompts, sampling)  # warm-up: one-time allocations are not what is measured
    before = peak[0] = _rss()
    out = policy.generate_ids(prompts, sampling)
    assert [len(c.token_ids) for c in out] == [steps, steps]  # random weights over 131k ids: no stop id drawn
    grew = (peak[0] - before) / 2**20
    assert grew < 30, f"RSS grew {grew:.0f} MB while sampling; the logits of every step would be 100 MB"
