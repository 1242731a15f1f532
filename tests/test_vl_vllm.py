"""VLLMPolicy with images on a real vLLM server (tiny-vl, started with ``--logprobs-mode processed_logprobs``
and ``--enable-scale-out``): the multimodal turns it samples carry the logprobs an HF forward pass over
the expanded sequence with the pixels gives, within the text tests' tolerance (1e-3).

vLLM's Qwen2-VL module imports transformers' torchvision image processor: a vLLM virtualenv without a
torchvision that matches its torch (the CPU build here has none: PyPI's torchvision needs CUDA torch)
cannot serve the model, and the test skips saying so."""

import asyncio
import subprocess

import pytest

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from agents.vllm_server import VLLMServer, VLLMUnavailable, vllm_python  # noqa: E402
from tests.test_vl_tokens import FIRST, OBSERVATIONS, max_logprob_gap  # noqa: E402


def _cannot_serve_qwen2_vl() -> str | None:
    try:
        python = vllm_python()
    except VLLMUnavailable as e:
        return str(e)
    probe = subprocess.run([str(python), "-c", "import vllm.model_executor.models.qwen2_vl"], capture_output=True, text=True,
                           timeout=300)
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"vLLM at {python} cannot load its Qwen2-VL model code ({last}): install a torchvision matching its torch"
    return None


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):
    from agents.models import write_tiny_vl

    return write_tiny_vl(tmp_path_factory.mktemp("models") / "tiny-vl")


@pytest.fixture(scope="module")
def server(tiny_vl):
    reason = _cannot_serve_qwen2_vl()
    if reason:
        pytest.skip(reason)
    with VLLMServer(tiny_vl, served_name="tiny-vl", max_model_len=2048,
                    extra_args=["--logprobs-mode", "processed_logprobs"]) as srv:
        yield srv


def test_vllm_multimodal_turns_have_the_hf_logprobs(server, tiny_vl, one_torch_thread):
    from agents import SamplingParams
    from agents.hf_policy import HFPolicy
    from agents.tokens import check_conversation
    from agents.vllm_policy import VLLMPolicy

    assert "--enable-scale-out" in server.command()
    vllm, hf = VLLMPolicy(tiny_vl, server.url), HFPolicy(tiny_vl, device="cpu")
    vision = hf.renderer.vision
    convs = [vllm.start_conversation(FIRST) for _ in range(3)]
    sampling = SamplingParams(temperature=0.8, max_tokens=12, seed=3)
    for k in range(2):  # the second turn's prompt holds three images: the first screen and the observation's
        for conv, c in zip(convs, asyncio.run(vllm.generate_tokens(convs, sampling))):
            assert c.token_ids and not set(c.token_ids) & set(vision.suppress_ids)
            conv.add_completion(c.token_ids, c.logprobs, c.finish_reason)
            conv.add_observation(OBSERVATIONS[k], final=k == 1)
    for conv in convs:
        assert check_conversation(conv) == []
        diff = max_logprob_gap(hf.model, vision, conv, temperature=0.8)
        assert diff < 1e-3, f"vLLM's logprobs differ from the HF forward with pixels by {diff}"
    asyncio.run(vllm.aclose())
