"""The image side of a vision-language model (Qwen2-VL family): pixels, placeholder counts, expansion.

A token conversation keeps an image as **one** placeholder token (``<|image_pad|>``), where the
chat template puts it (``<|vision_start|><|image_pad|><|vision_end|>``): trajectories, turn spans and
loss masks are in these *compact* coordinates, and vLLM takes this form with the images beside it
(it expands the placeholders itself).  A transformers forward pass needs the *expanded* form: each
placeholder repeated ``grid_t · grid_h · grid_w / merge²`` times (the image's merged patches),
with ``pixel_values`` and ``image_grid_thw`` from the model's image processor.
:meth:`VisionProcessor.expand` turns compact per-token lists into expanded ones (the copies are
prompt tokens: mask 0), so loss masks still cover exactly the sampled tokens.

Images are ``image_url`` parts (data URLs or ``file://`` references, as :mod:`tools.content` and
trajectory files hold them), decoded and processed once per content hash (an LRU cache).

A policy never samples the vision tokens (:attr:`VisionProcessor.suppress_ids`): a sampled
``<|image_pad|>`` would be a placeholder with no image in the next turn's prompt.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.content import content_hash, decode_image_url


def is_vision_model(model_dir: str | os.PathLike) -> bool:
    """True for a model folder whose config has a vision tower and which ships an image processor."""
    model_dir = Path(model_dir)
    config = model_dir / "config.json"
    if not config.exists() or not (model_dir / "preprocessor_config.json").exists():
        return False
    return "vision_config" in json.loads(config.read_text())


def model_class(model_dir: str | os.PathLike):
    """``AutoModelForImageTextToText`` for a vision-language folder, else ``AutoModelForCausalLM``."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    return AutoModelForImageTextToText if is_vision_model(model_dir) else AutoModelForCausalLM


def load_image_processor(model_dir: str | os.PathLike):
    """The folder's image processor (``AutoProcessor`` would also need torchvision, for Qwen2-VL's videos)."""
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(model_dir)


class VisionProcessor:
    """A model folder's image processor and vision token ids; see the module docstring."""

    def __init__(self, model_dir: str | os.PathLike, cache_size: int = 256):
        config = json.loads((Path(model_dir) / "config.json").read_text())
        self.image_token_id = int(config["image_token_id"])
        self.suppress_ids = sorted({int(config[k]) for k in ("image_token_id", "video_token_id", "vision_start_token_id",
                                                             "vision_end_token_id") if config.get(k) is not None})
        self.processor = load_image_processor(model_dir)
        self.merge = int(getattr(self.processor, "merge_size", 2))
        self._cache: OrderedDict[str, tuple[Any, tuple[int, int, int]]] = OrderedDict()
        self.cache_size = cache_size

    # -- one image ----------------------------------------------------------------------------
    def process(self, url: str) -> tuple[Any, tuple[int, int, int]]:
        """(pixel_values ``[patches, dim]``, grid (t, h, w)) of one image URL; cached by content hash."""
        import io

        from PIL import Image

        _mime, data = decode_image_url(url)
        key = content_hash(data)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        image = Image.open(io.BytesIO(data)).convert("RGB")
        out = self.processor(images=[image], return_tensors="pt")
        grid = tuple(int(x) for x in out["image_grid_thw"][0].tolist())
        hit = self._cache[key] = (out["pixel_values"], grid)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return hit

    def num_tokens(self, url: str) -> int:
        """Placeholder tokens the image takes in the model's input: t · h · w / merge²."""
        t, h, w = self.process(url)[1]
        return t * h * w // (self.merge * self.merge)

    def inputs(self, urls: Sequence[str]) -> dict[str, Any]:
        """``pixel_values`` and ``image_grid_thw`` of images in order (empty dict for none)."""
        import torch

        if not urls:
            return {}
        done = [self.process(u) for u in urls]
        return {"pixel_values": torch.cat([pv for pv, _ in done]),
                "image_grid_thw": torch.tensor([grid for _, grid in done], dtype=torch.long)}

    # -- sequences ----------------------------------------------------------------------------
    def expand(self, ids: Sequence[int], urls: Sequence[str], *others: Sequence, fill=0) -> list[list]:
        """Expanded ``ids`` (each placeholder repeated its image's token count) and each of ``others``
        (per-token lists aligned with ``ids``) with ``fill`` on the added copies.  The placeholders
        are the image tokens in ``ids``, one per URL, in order."""
        places = [i for i, t in enumerate(ids) if t == self.image_token_id]
        if len(places) != len(urls):
            raise ValueError(f"{len(places)} image placeholders in the sequence but {len(urls)} images")
        counts = dict(zip(places, (self.num_tokens(u) for u in urls)))
        out: list[list] = [[] for _ in range(1 + len(others))]
        for i, tok in enumerate(ids):
            n = counts.get(i, 1)
            out[0] += [tok] * n
            for k, seq in enumerate(others, 1):
                out[k] += [seq[i]] + [fill] * (n - 1)
        return out

    def expanded_length(self, n_ids: int, urls: Sequence[str]) -> int:
        return n_ids + sum(self.num_tokens(u) - 1 for u in urls)

    def token_types(self, input_ids):
        """``mm_token_type_ids`` as Qwen2-VL's M-RoPE wants them: 1 on image placeholders, 0 elsewhere."""
        return (input_ids == self.image_token_id).int()

    def positions(self, model, input_ids, attention_mask, image_grid_thw):
        """M-RoPE position ids ``[3, B, L]`` of a (left- or right-padded) batch, from the model's own rule."""
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        rope = getattr(inner, "get_rope_index", None) or inner.model.get_rope_index
        return rope(input_ids, self.token_types(input_ids), image_grid_thw, None, attention_mask)[0]


def conversation_images(messages: Sequence[dict], observations: Sequence[Sequence[dict]] = ()) -> list[str]:
    """The image URLs of a first observation and later observations, in the order a template places them."""
    from tools.content import image_urls

    out = [u for m in messages for u in image_urls(m.get("content"))]
    for obs in observations:
        out += [u for m in obs for u in image_urls(m.get("content"))]
    return out
