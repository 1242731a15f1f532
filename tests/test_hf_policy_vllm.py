"""HFPolicy and a vLLM server started with ``--logprobs-mode processed_logprobs`` (as the trainer
starts it) report the same logprob for a sampled token: log_softmax(logits / T), over the top-p
nucleus when top_p < 1.  One CPU server on the tiny model (~1-2 min start-up on 2 cores)."""

import asyncio

import pytest

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents.policy import SamplingParams  # noqa: E402
from agents.vllm_server import VLLMServer, VLLMUnavailable, vllm_python  # noqa: E402

MESSAGES = [{"role": "system", "content": "You are an agent. Call tools."}, {"role": "user", "content": "How many albums?"}]


@pytest.fixture(scope="module")
def server(tiny_model):
    try:
        vllm_python()
    except VLLMUnavailable as e:
        pytest.skip(str(e))
    with VLLMServer(tiny_model, served_name="tiny", max_model_len=1024,
                    extra_args=["--logprobs-mode", "processed_logprobs"]) as srv:
        yield srv


@pytest.mark.parametrize(("temperature", "top_p"), [(0.6, 1.0), (0.8, 0.5)])
def test_vllm_processed_logprobs_equal_hf_at_the_temperature_and_top_p(server, tiny_model, temperature, top_p):
    from agents.hf_policy import HFPolicy, top_p_filter
    from agents.vllm_policy import VLLMPolicy

    vllm, hf = VLLMPolicy(tiny_model, server.url), HFPolicy(tiny_model, device="cpu")
    sampling = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=24, seed=3)
    convs = [vllm.start_conversation(MESSAGES) for _ in range(4)]
    completions = asyncio.run(vllm.generate_tokens(convs, sampling))
    for conv, c in zip(convs, completions):
        ids = conv.ids + c.token_ids
        with torch.no_grad():
            logits = hf.model(torch.tensor([ids])).logits[0].float() / temperature
        logp = torch.log_softmax(top_p_filter(logits, top_p) if top_p < 1 else logits, dim=-1)
        expected = [logp[len(conv.ids) - 1 + k, tok].item() for k, tok in enumerate(c.token_ids)]
        assert max(abs(a - b) for a, b in zip(c.logprobs, expected)) < 1e-3, (c.logprobs, expected)
        if top_p == 1.0:  # the HF policy's own scoring path at T agrees too
            (fwd,) = hf.forward_logprobs([ids], temperature=temperature)
            assert max(abs(a - b) for a, b in zip(c.logprobs, fwd[len(conv.ids) - 1:])) < 1e-3
    asyncio.run(vllm.aclose())
