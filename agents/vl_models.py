"""``tiny-vl``: a tiny random vision-language model of a real architecture (Qwen2-VL), built locally.

The folder holds what a hub checkpoint of Qwen2-VL holds, scaled down so that it builds in seconds
and runs on a CPU:

* ``config.json``: a ``Qwen2VLConfig`` with a 2-layer vision tower (embed 64, 1 head, patch 14,
  spatial merge 2) and a 2-layer language model (hidden 128, 2 heads of head_dim 64: vLLM's CPU
  attention rejects smaller heads; M-RoPE sections 8/12/12, which sum to head_dim / 2);
* the tokenizer of ``tiny`` (a byte-level BPE, :mod:`agents.chat_format`) plus the
  architecture's special tokens ``<|vision_start|>``, ``<|vision_end|>``, ``<|image_pad|>``,
  ``<|video_pad|>``, and a chat template that renders an image part as
  ``<|vision_start|><|image_pad|><|vision_end|>`` (one placeholder per image: the processor
  expands it to the image's token count) and tools Hermes-style like ``tiny``;
* ``preprocessor_config.json``: Qwen2-VL's image processor with ``max_pixels`` = 16 merged patches
  (28 × 28 × 16 pixels), so an image becomes at most 16 placeholder tokens.

transformers loads it with ``Qwen2VLForConditionalGeneration`` / ``AutoModelForImageTextToText``
and vLLM serves it.  ``AutoProcessor`` also needs torchvision (Qwen2-VL's video processor);
:func:`agents.vision.load_image_processor` needs only the image processor.
"""

from __future__ import annotations

from pathlib import Path

from agents.chat_format import CHAT_TEMPLATE, tiny_tokenizer

VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
PATCH, MERGE = 14, 2
MIN_PIXELS, MAX_PIXELS = (PATCH * MERGE) ** 2 * 4, (PATCH * MERGE) ** 2 * 16

# A message's content: a string, or parts where an image is one placeholder between the vision tokens.
_CONTENT_MACRO = (
    "{%- macro content(c) -%}"
    "{%- if c is string -%}{{ c }}"
    "{%- else -%}{%- for part in c -%}"
    "{%- if part.type in ('image', 'image_url') -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif part.type == 'text' -%}{{ part.text }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
)
VL_CHAT_TEMPLATE = _CONTENT_MACRO + CHAT_TEMPLATE.replace(
    "{{ messages[0].content }}", "{{ content(messages[0].content) }}"
).replace("{{ message.content }}", "{{ content(message.content) }}")


def tiny_vl_tokenizer(vocab_size: int = 512):
    tokenizer = tiny_tokenizer(vocab_size)
    tokenizer.add_special_tokens({"additional_special_tokens": VISION_TOKENS})
    tokenizer.chat_template = VL_CHAT_TEMPLATE
    return tokenizer


def build_tiny_vl(out: Path, *, seed: int = 0, vocab_size: int = 512, hidden: int = 128, layers: int = 2, heads: int = 2,
                  vision_layers: int = 2, vision_dim: int = 64, max_positions: int = 4096) -> None:
    """Write ``tiny-vl`` (see the module docstring) into the folder ``out``; :func:`agents.models.write_tiny_vl`
    builds it atomically and caches it."""
    import torch
    from transformers import GenerationConfig, Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = tiny_vl_tokenizer(vocab_size)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ["<|endoftext|>", "<|im_end|>", *VISION_TOKENS]}
    head_dim = hidden // heads
    eighth = head_dim // 16  # M-RoPE sections (temporal, height, width): 2:3:3 of the head_dim / 2 frequencies
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=max_positions,
            rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0,
                             "mrope_section": [2 * eighth, 3 * eighth, 3 * eighth]},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False,
        ),
        vision_config=dict(depth=vision_layers, embed_dim=vision_dim, hidden_size=hidden, num_heads=max(1, vision_dim // 64),
                           mlp_ratio=2, patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config)
    with torch.no_grad():  # wider logits than the default init: sampled text is varied, not flat
        model.lm_head.weight.normal_(0.0, 0.5)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    Qwen2VLImageProcessorPil(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=PATCH, merge_size=MERGE,
                             temporal_patch_size=2).save_pretrained(out)

