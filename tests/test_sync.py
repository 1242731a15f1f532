"""Weight sync: the in-process route bumps the version on the shared module; the vLLM route makes the
server's logprobs equal the trainer model's forward pass (fp32, |Δ| <= 1e-3), and differ from before;
``check`` passes right after a push and raises :class:`SyncMismatch` naming both values when the learner
moved on without a push (the server here runs with ``--logprobs-mode processed_logprobs``, as the loop
starts it for T != 1: prompt logprobs stay raw)."""

from __future__ import annotations

import asyncio

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.models import resolve_model  # noqa: E402
from trainers.sync import (  # noqa: E402
    SharedModuleSync, SyncError, SyncMismatch, VLLMReloadSync, check_ids, model_logprobs, sync_tolerance, training_server,
)


def _forward_logprobs(model, ids: list[int]) -> list[float]:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:]).unsqueeze(-1)).squeeze(-1).tolist()


def test_shared_module_sync_bumps_the_version_and_refuses_a_copy():
    from agents.hf_policy import HFPolicy
    from transformers import AutoModelForCausalLM

    model_dir = resolve_model("tiny")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    policy = HFPolicy(model_dir, model_obj=model, device="cpu")
    sync = SharedModuleSync(policy)
    assert (sync.push(model), policy.policy_version) == (0.0, 1)
    sync.push(model)
    assert policy.policy_version == 2
    other = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with pytest.raises(SyncError, match="own module"):
        sync.push(other)
    assert policy.policy_version == 2
    ids = check_ids(policy.renderer)
    expected = model_logprobs(model, ids)
    assert expected == pytest.approx(_forward_logprobs(model, ids), abs=1e-6) and model.training is False
    assert sync.check(expected, ids, sync_tolerance("float32", "cpu")) <= 1e-5
    expected[3] -= 0.5
    with pytest.raises(SyncMismatch, match=rf"at position 4 \(token {ids[4]}\): policy -\d+\.\d+, learner"):
        sync.check(expected, ids, 1e-3)


@pytest.mark.slow
def test_vllm_server_samples_from_the_pushed_weights(tmp_path):
    from agents.vllm_policy import VLLMPolicy
    from agents.vllm_server import VLLMUnavailable
    from transformers import AutoModelForCausalLM

    model_dir = resolve_model("tiny")
    try:
        server = training_server(model_dir, max_model_len=512, processed_logprobs=True, log_path=tmp_path / "vllm.log")
    except VLLMUnavailable as e:
        pytest.skip(f"no vLLM here: {e}")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    with server:
        policy = VLLMPolicy(model_dir, server.url)
        conv = policy.start_conversation([{"role": "system", "content": "Use lookup(key)."}, {"role": "user", "content": 'Code of "bazo"?'}])
        ids = list(conv.ids) + policy.renderer.encode('<tool_call>{"name": "lookup", "arguments": {"key": "bazo"}}</tool_call>')

        async def server_logprobs() -> list[float]:
            try:
                return await policy.token_logprobs(ids)
            finally:
                await policy.aclose()

        before = asyncio.run(server_logprobs())  # also leaves the prompt in vLLM's prefix cache
        assert max(abs(a - b) for a, b in zip(before, _forward_logprobs(model, ids))) <= 1e-3
        torch.manual_seed(0)
        with torch.no_grad():  # new weights, as an optimizer step would leave them
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        expected = _forward_logprobs(model, ids)
        sync = VLLMReloadSync(server.url, policy, timeout=120)
        try:
            seconds = sync.push(model)
            fixed = check_ids(policy.renderer)
            atol = sync_tolerance("float32", "cpu")
            checks = [sync.check(model_logprobs(model, fixed), fixed, atol)]  # right after the push: passes
            checks.append(sync.check(expected, ids, atol))
            check_seconds = sync.last_timings["check"]
            stale = model_logprobs(model, fixed)
            with torch.no_grad():  # the learner moves on, the push is forgotten
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            with pytest.raises(SyncMismatch, match=r"tolerance 0.001 at position \d+ \(token \d+\): server -?\d+\.\d+, learner"):
                sync.check(model_logprobs(model, fixed), fixed, atol)
            assert sync.check(stale, fixed, atol) <= atol  # the server still holds the pushed weights
        finally:
            sync.close()
        after = asyncio.run(server_logprobs())
        sampled = sampled_at_temperature(server.url, model_dir, model, 0.6)
    print(f"check: {check_seconds:.3f} s for {len(fixed)} ids; max |Δ| {max(checks):.2g}")
    # issue #18: at T = 0.6 the sampler reports log π_0.6 and the learner scores log π_0.6 of the same tokens
    tokens, gap, weight = sampled
    print(f"T = 0.6: {tokens} sampled tokens, max |Δ logprob| {gap:.2g}, mean truncated-IS weight {weight:.4f}")
    assert tokens >= 40 and gap <= 1e-3 and weight == pytest.approx(1.0, abs=2e-3)
    assert seconds > 0 and policy.policy_version == 1 and max(checks) <= atol
    assert len(after) == len(expected) == len(ids) - 1
    assert max(abs(a - b) for a, b in zip(after, expected)) <= 1e-3
    assert max(abs(a - b) for a, b in zip(before, after)) > 0.05


def sampled_at_temperature(url, model_dir, model, temperature):
    """Push ``model``, sample four replies at ``temperature`` and score their tokens with the learner's
    logprob path at the same temperature: (sampled tokens, max |Δ|, mean min(exp(learner − sampler), 2))."""
    from agents.policy import SamplingParams
    from agents.vllm_policy import VLLMPolicy
    from trainers.logprobs import token_logprobs

    policy = VLLMPolicy(model_dir, url)
    sync = VLLMReloadSync(url, policy, timeout=120)
    try:
        sync.push(model)
    finally:
        sync.close()
    messages = [{"role": "system", "content": "Use lookup(key)."}, {"role": "user", "content": 'Code of "bazo"?'}]

    async def sample():
        try:
            convs = [policy.start_conversation(messages) for _ in range(4)]
            outs = [await policy.generate_tokens([conv], SamplingParams(temperature=temperature, max_tokens=32, seed=s))
                    for s, conv in enumerate(convs)]
            return [(list(conv.ids), out[0]) for conv, out in zip(convs, outs)]
        finally:
            await policy.aclose()

    gaps, weights = [], []
    for prompt, completion in asyncio.run(sample()):
        ids = prompt + list(completion.token_ids)
        select = torch.zeros((1, len(ids) - 1), dtype=torch.bool)
        select[0, len(prompt) - 1:] = True
        with torch.no_grad():
            ours = token_logprobs(model, torch.tensor([ids]), torch.ones((1, len(ids)), dtype=torch.long), select, temperature)[0]
        learner = ours[select]
        sampler = torch.tensor(completion.logprobs)
        gaps.append(float((learner - sampler).abs().max()))
        weights += torch.exp(learner - sampler).clamp(max=2.0).tolist()
    return len(weights), max(gaps), sum(weights) / len(weights)


def tied_tiny(tmp_path):
    """The tiny model with its output layer tied to its embeddings (as SmolLM2's is)."""
    import shutil

    from transformers import AutoModelForCausalLM

    src = resolve_model("tiny")
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    model.config.tie_word_embeddings = True
    model.lm_head.weight = model.get_input_embeddings().weight
    out = tmp_path / "tied-tiny"
    model.save_pretrained(out)
    for f in src.iterdir():
        if f.is_file() and not (out / f.name).exists():
            shutil.copy2(f, out / f.name)
    return out


def test_a_tied_model_is_written_untied_for_the_server(tmp_path):
    import json

    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from trainers.sync_files import ties_embeddings, untied_copy

    tied = tied_tiny(tmp_path)
    assert ties_embeddings(tied) and not ties_embeddings(resolve_model("tiny"))
    out = untied_copy(tied, tmp_path / "untied")
    weights = load_file(str(out / "model.safetensors"))
    assert torch.equal(weights["lm_head.weight"], weights["model.embed_tokens.weight"])
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is False
    assert (out / "tokenizer.json").exists()
    a = AutoModelForCausalLM.from_pretrained(tied, dtype=torch.float32)
    b = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    ids = check_ids(__import__("agents.tokens", fromlist=["load_renderer"]).load_renderer(tied))
    assert model_logprobs(a, ids) == pytest.approx(model_logprobs(b, ids), abs=1e-6)


@pytest.mark.slow
def test_a_push_reaches_the_output_layer_of_a_tied_model(tmp_path):
    """vLLM 0.32's reload_weights leaves a tied lm_head stale (SmolLM2: 0.26-0.41 nats off after a push);
    the training server serves an untied copy and pushes untied weights, so the check passes."""
    from agents.vllm_policy import VLLMPolicy
    from agents.vllm_server import VLLMUnavailable
    from transformers import AutoModelForCausalLM

    tied = tied_tiny(tmp_path)
    try:
        server = training_server(tied, max_model_len=512, log_path=tmp_path / "vllm.log")
    except VLLMUnavailable as e:
        pytest.skip(f"no vLLM here: {e}")
    assert server.untied_dir is not None and server.served_name == tied.name
    model = AutoModelForCausalLM.from_pretrained(tied, dtype=torch.float32)
    with server:
        policy = VLLMPolicy(tied, server.url)
        sync = VLLMReloadSync(server.url, policy, timeout=120)
        try:
            ids = check_ids(policy.renderer)
            torch.manual_seed(0)
            with torch.no_grad():
                model.get_input_embeddings().weight.add_(0.05 * torch.randn_like(model.get_input_embeddings().weight))
            sync.push(model)
            assert sync.check(model_logprobs(model, ids), ids, sync_tolerance("float32", "cpu")) <= 1e-3
        finally:
            sync.close()
        untied = server.untied_dir
    assert not untied.exists()  # the copy goes with the server
