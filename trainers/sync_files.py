"""Weight files a full-weight sync writes: tied-embedding models as untied copies.

vLLM 0.32's in-place ``reload_weights`` refreshes a tied model's embeddings but not its ``lm_head``
(the loop's sync check found SmolLM2 0.26-0.41 nats off after a push; served untied, 5e-5), so a
full-weight run serves an untied copy (:func:`untied_copy`) and pushes untied weights
(:func:`write_untied`); the learner's own model stays tied.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any


def ties_embeddings(model_dir: str | os.PathLike) -> bool:
    """Whether a model folder's config ties the output layer to the input embeddings."""
    import json

    return bool(json.loads((Path(model_dir) / "config.json").read_text()).get("tie_word_embeddings", False))


def write_untied(model: Any, out: Path) -> Path:
    """``model``'s weights as safetensors with ``lm_head.weight`` stored on its own and a config that says
    ``tie_word_embeddings: false`` (replacing earlier weight files in ``out``)."""
    import json

    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.safetensors*"):
        old.unlink()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    embed = model.get_input_embeddings().weight.detach()
    state["lm_head.weight"] = embed.clone()  # its own storage: safetensors refuses shared tensors
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict()
    config["tie_word_embeddings"] = False
    (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


def untied_copy(model_dir: Path, out: Path) -> Path:
    """An untied copy of a tied model folder (weights in their stored dtype, tokenizer files copied)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    write_untied(model, out)
    del model
    for src in model_dir.iterdir():
        if src.is_file() and src.name != "config.json" and not src.name.endswith((".safetensors", ".bin", ".index.json")):
            shutil.copy2(src, out / src.name)
    return out
