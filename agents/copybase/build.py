"""Build ``tiny-base``: a small Llama pretrained on CPU to copy values into tool calls.

The recipe (:class:`BaseRecipe`, stored beside the weights in ``copybase.json`` with the build's
figures):

1. draw ``transcripts`` episodes from :func:`agents.copybase.corpus.corpus` (seeded; entity words
   that occur in any built-in env's test split are never drawn, see :func:`held_out_words`);
2. train a byte-level BPE of ``vocab_size`` on their rendered text (ChatML with the same chat
   template as ``tiny``, so every env, SFT and rollout path works unchanged);
3. render each episode exactly as SFT does (:class:`agents.tokens.TokenConversation`, assistant
   turns = ``encode(call) + <|im_end|>``) and train a randomly initialised ``LlamaForCausalLM`` into
   which a copying circuit has been written (:mod:`agents.copybase.circuit`; ``copy_circuit``)
   on the assistant tokens only (the tool results' values are random: predicting them teaches
   nothing), AdamW with linear warm-up and cosine decay, batches of about ``batch_tokens``
   tokens of similar-length episodes;
4. measure copying on held-out transcripts (:mod:`agents.copybase.probe`) and save.

Everything is seeded: the same recipe gives the same corpus, and the same weights on the same
torch build and thread count.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from agents.copybase.circuit import ROPE_THETA, repeat_accuracy, write_copy_circuit
from agents.copybase.corpus import corpus, drill
from agents.copybase.render import encode_episode


class BaseRecipe(BaseModel):
    """The defaults: the copy circuit, 1,500 steps on drills and easy episodes, then 1,500 on all (3 M tokens;
    25 min on one busy core, held-out argument copy 0.15, train formats 0.56).  Without the circuit,
    8.2 M tokens copied nothing (#24)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    transcripts: int = Field(4_000, ge=100, description="training episodes drawn from the corpus")
    easy_transcripts: int = Field(10_000, ge=0, description="short episodes (1-2 hops, short prompt) of the first stage")
    drills: int = Field(16_000, ge=0, description="copy drills (repeat a list of values in one call) in the first stage")
    easy_steps: int = Field(1_500, ge=0, description="the first steps train on the drills and easy episodes only; then on all")
    vocab_size: int = Field(1024, ge=300)
    hidden: int = Field(256, ge=64, description="model width; head_dim is 64 (vLLM's CPU attention needs >= 64)")
    copy_circuit: bool = Field(True, description="start from a hand-written induction circuit (agents.copybase.circuit; needs hidden >= 256)")
    layers: int = Field(4, ge=1)
    max_len: int = Field(1024, ge=128, description="episodes longer than this are cut (tokens)")
    steps: int = Field(3_000, ge=1)
    batch_tokens: int = Field(1024, ge=256, description="padded tokens per optimizer step")
    lr: float = Field(2e-3, gt=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = 0.01
    probe_transcripts: int = Field(100, ge=0, description="held-out episodes for the copy measure (0: skip)")


# Bumped when a build's recipe means a different model (2: the copy circuit): an older cached
# tiny-base is rebuilt rather than reused.
BUILD_VERSION = 2

_WORD = re.compile(r"[a-z]{3,}")


def held_out_words() -> frozenset[str]:
    """Lower-case words (3+ letters) in the prompts and answers of every built-in env's test split
    whose tasks load without services, so the corpus never draws an entity a test task uses."""
    from envs.registry import registered, task_set

    words: set[str] = set()
    for env_id in registered():
        try:
            tasks = task_set(env_id)
            for task in tasks.iter("test"):
                words.update(_WORD.findall(f"{task.prompt} {task.answer}".lower()))
        except Exception:  # an env whose tasks need a service or a package this machine lacks
            continue
    return frozenset(words)


def _batches(lengths: list[int], budget: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar-length episodes, each at most ``budget`` padded tokens, shuffled."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def build_base(out: Path, recipe: BaseRecipe, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the base model into ``out`` (an empty folder); returns the figures saved with it."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from agents.chat_format import SPECIAL_TOKENS, tiny_tokenizer
    from agents.tokens import ChatRenderer

    began = time.perf_counter()
    torch.manual_seed(recipe.seed)
    exclude = held_out_words()
    drill_rng = random.Random(f"copybase:drill:{recipe.seed}")
    easy = [drill(drill_rng, exclude) for _ in range(recipe.drills)]
    easy += corpus(recipe.seed, recipe.easy_transcripts, exclude, easy=True)
    episodes = corpus(recipe.seed, recipe.transcripts, exclude)
    sample = episodes[: min(len(episodes), 3000)]
    probe_tok = tiny_tokenizer(recipe.vocab_size)  # only for its chat template: render the text to train BPE on
    texts = [probe_tok.apply_chat_template(m, tokenize=False) for m in sample]
    tokenizer = tiny_tokenizer(recipe.vocab_size, texts=texts, copy_friendly=True)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    stop = ids["<|im_end|>"]
    renderer = ChatRenderer(tokenizer, stop_ids=[stop])
    data = [encode_episode(renderer, m, stop) for m in easy + episodes]
    data = [(i[: recipe.max_len], k[: recipe.max_len]) for i, k in data]
    n_easy = len(easy)
    corpus_seconds = time.perf_counter() - began
    n_tokens = sum(len(i) for i, _ in data)
    n_trained = sum(sum(k) for _, k in data)
    log(f"corpus: {len(data)} episodes, {n_tokens} tokens ({n_trained} assistant), {corpus_seconds:.0f} s")

    heads = max(1, recipe.hidden // 64)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden, intermediate_size=recipe.hidden * 8 // 3 // 16 * 16,
        num_hidden_layers=recipe.layers, num_attention_heads=heads, num_key_value_heads=heads, head_dim=64,
        max_position_embeddings=4096, bos_token_id=ids["<|endoftext|>"], eos_token_id=stop,
        pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False, torch_dtype="float32",
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA if recipe.copy_circuit else 10000.0},
    )
    model = LlamaForCausalLM(config)
    circuit = write_copy_circuit(model, seed=recipe.seed) if recipe.copy_circuit else None
    if circuit:
        circuit["repeat_accuracy"] = round(repeat_accuracy(model, config.vocab_size), 4)
        log(f"copy circuit: {json.dumps(circuit)}")
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=recipe.lr, betas=(0.9, 0.98))

    def lr_at(step: int) -> float:
        if step < recipe.warmup_steps:
            return recipe.lr * (step + 1) / recipe.warmup_steps
        progress = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
        return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    rng = random.Random(f"copybase-batches:{recipe.seed}")
    lengths = [len(i) for i, _ in data]
    easy_lengths = lengths[:n_easy]
    queue: list[list[int]] = []
    pad = config.pad_token_id
    losses: list[float] = []
    train_began = time.perf_counter()
    for step in range(recipe.steps):
        if step == recipe.easy_steps:
            queue = []  # the second stage: every episode
        if not queue:
            queue = _batches(easy_lengths if step < recipe.easy_steps else lengths, recipe.batch_tokens, rng)
        batch = [data[i] for i in queue.pop()]
        width = max(len(i) for i, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (tok, mask) in enumerate(batch):
            t = torch.tensor(tok)
            input_ids[row, : len(tok)] = t
            attention[row, : len(tok)] = 1
            labels[row, : len(tok)] = torch.where(torch.tensor(mask, dtype=torch.bool), t, -100)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == recipe.steps:
            elapsed = time.perf_counter() - train_began
            eta = elapsed / (step + 1) * (recipe.steps - step - 1)
            log(f"step {step + 1}/{recipe.steps}  loss {sum(losses[-50:]) / len(losses[-50:]):.4f}  "
                f"{elapsed:.0f} s elapsed, ~{eta:.0f} s left")
    train_seconds = time.perf_counter() - train_began
    model.eval()
    model.generation_config = GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=stop, pad_token_id=pad)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    figures: dict[str, Any] = {
        "build_version": BUILD_VERSION, "recipe": recipe.model_dump(), "parameters": sum(p.numel() for p in model.parameters()),
        "corpus_tokens": n_tokens, "assistant_tokens": n_trained, "excluded_words": len(exclude),
        "final_loss": sum(losses[-50:]) / len(losses[-50:]), "corpus_seconds": round(corpus_seconds, 1),
        "train_seconds": round(train_seconds, 1), "threads": torch.get_num_threads(), "copy_circuit": circuit,
    }
    if circuit:
        figures["repeat_accuracy_trained"] = round(repeat_accuracy(model, config.vocab_size), 4)
    if recipe.probe_transcripts:
        from agents.copybase.probe import copy_accuracy

        held_out = corpus(recipe.seed, recipe.probe_transcripts, exclude, held_out=True)
        figures["held_out_copy"] = copy_accuracy(model, renderer, held_out)
        log(f"held-out copy accuracy: {json.dumps(figures['held_out_copy'])}")
    figures["build_seconds"] = round(time.perf_counter() - began, 1)
    (out / "copybase.json").write_text(json.dumps(figures, indent=1))
    return figures


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
