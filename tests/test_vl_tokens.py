"""Token conversations with images on a vision-language model (tiny-vl): the multi-turn sequence is
exact (each image one placeholder where the template puts it), HFPolicy samples from the images and
reports the logprobs a full forward pass over the expanded sequence with the pixels gives."""

import asyncio
import json

import pytest

torch = pytest.importorskip("torch", reason="torch not installed: install the [train] extra (torch==2.13.0 first on CPU)")
pytest.importorskip("transformers", reason="transformers not installed: install the [train] extra")

from tests.image_env import png  # noqa: E402
from tools.content import image_part, text_part  # noqa: E402

RED, BLUE = image_part(png(64, 40, (255, 0, 0))), image_part(png(300, 200, (0, 0, 255)))  # 6 and 12 image tokens
FIRST = [{"role": "system", "content": "You see screens. Call tools."},
         {"role": "user", "content": [text_part("Screen:"), RED, text_part("What next?")]}]
OBSERVATIONS = [[{"role": "tool", "name": "look", "content": [text_part("now:"), BLUE]}],
                [{"role": "user", "content": [RED, text_part("and again"), BLUE]}]]


@pytest.fixture(scope="module")
def tiny_vl(tmp_path_factory):
    from agents.models import write_tiny_vl

    return write_tiny_vl(tmp_path_factory.mktemp("models") / "tiny-vl")


@pytest.fixture(scope="module")
def hf(tiny_vl, one_torch_thread):
    from agents.hf_policy import HFPolicy

    return HFPolicy(tiny_vl, device="cpu")


def _call(name: str, **arguments) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call><|im_end|>"


def test_a_multi_turn_conversation_with_images_is_the_full_rendering_token_for_token(hf):
    from agents.tokens import check_conversation

    renderer, vision = hf.renderer, hf.renderer.vision
    conv = hf.start_conversation(FIRST)
    actions = [_call("look"), _call("click", id="ok"), _call("answer", colour="red")]
    for k, action in enumerate(actions):
        ids = renderer.encode(action)
        assert conv.add_completion(ids, [-0.5] * len(ids), "stop") == action.removesuffix("<|im_end|>")
        conv.add_observation(OBSERVATIONS[k] if k < 2 else [{"role": "user", "content": "done"}], final=k == 2)
    history = FIRST + [m for k, a in enumerate(actions) for m in
                       [{"role": "assistant", "content": a.removesuffix("<|im_end|>")},
                        *(OBSERVATIONS[k] if k < 2 else [{"role": "user", "content": "done"}])]]
    assert conv.ids == renderer.encode(renderer.render(history, False))  # the full-render reference
    urls = [p["image_url"]["url"] for p in (RED, BLUE, RED, BLUE)]
    assert conv.images == urls and conv.ids.count(vision.image_token_id) == 4  # counted once each
    assert check_conversation(conv) == []
    assert [i for i, m in enumerate(conv.mask) if m] == [i for s, e in conv.spans() for i in range(s, e)]
    assert conv.model_len() == len(conv.ids) + (6 - 1) + (12 - 1) + (6 - 1) + (12 - 1)
    expanded, mask = vision.expand(conv.ids, conv.images, conv.mask)
    assert len(expanded) == conv.model_len() and sum(mask) == sum(conv.mask) == sum(len(renderer.encode(a)) for a in actions)
    assert expanded.count(vision.image_token_id) == 6 + 12 + 6 + 12


def test_hf_policy_samples_with_images_and_its_logprobs_equal_a_full_forward_with_pixels(hf):
    from agents import SamplingParams
    from agents.tokens import check_conversation

    vision = hf.renderer.vision
    convs = [hf.start_conversation(FIRST) for _ in range(3)]
    sampling = SamplingParams(temperature=0.8, max_tokens=10, seed=5)
    for k in range(2):  # two turns, batched and left-padded, the second after an observation with an image
        for conv, c in zip(convs, asyncio.run(hf.generate_tokens(convs, sampling))):
            assert not set(c.token_ids) & set(vision.suppress_ids)  # a vision token is never sampled
            conv.add_completion(c.token_ids, c.logprobs, c.finish_reason)
            conv.add_observation(OBSERVATIONS[k], final=k == 1)
    for conv in convs:
        assert check_conversation(conv) == [] and len(conv.images) == 1 + 1 + 2
        diff = max_logprob_gap(hf.model, vision, conv, temperature=0.8)
        assert diff < 1e-4, diff


def max_logprob_gap(model, vision, conv, temperature: float) -> float:
    """The largest |sampled logprob - the HF forward's over the expanded sequence with every turn's pixels|
    over ``conv``'s sampled tokens (vision tokens never sampled, as the samplers do)."""
    ids, mask, lps = vision.expand(conv.ids, conv.images, conv.mask, conv.logprobs)
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=x, attention_mask=torch.ones_like(x), mm_token_type_ids=vision.token_types(x),
                       **vision.inputs(conv.images)).logits[0].float() / temperature
    logits[:, vision.suppress_ids] = -torch.inf
    logp = torch.log_softmax(logits, dim=-1)
    return max(abs(logp[i - 1, ids[i]].item() - lps[i]) for i in range(1, len(ids)) if mask[i])


def test_a_vision_language_conversation_leaves_no_room_once_the_expanded_images_fill_the_context(tiny_vl, one_torch_thread):
    from agents import SamplingParams
    from agents.hf_policy import HFPolicy
    from agents.tokens import ContextExhausted

    probe = HFPolicy(tiny_vl, device="cpu")
    conv = probe.start_conversation(FIRST)
    probe.max_model_len = conv.model_len()  # the compact ids would fit; the 6 image tokens do not
    assert len(conv.ids) < probe.max_model_len and conv.room(probe.max_model_len) == 0
    with pytest.raises(ContextExhausted, match=f"{conv.model_len()} tokens fill"):
        asyncio.run(probe.generate_tokens([conv], SamplingParams(max_tokens=4)))
