"""Cross-turn KV reuse for :class:`agents.hf_policy.HFPolicy`: a turn's prompt is the last turn's
prompt, its sampled tokens and the env's reply, token for token (:class:`agents.tokens.TokenConversation`),
so the keys and values of all but the reply were computed at the last turn.  Without reuse every turn
prefills the whole conversation again: over a T-turn episode the prefill grows as T², and on a CPU it
is most of a rollout's time.

:class:`PrefixKV` keeps, per sampled row, the per-layer keys and values of the tokens whose KV the
decode loop computed (the prompt and every sampled token but the last), under those token ids and the
weights they were computed with (``policy_version`` and the parameters' in-place update counters).
A new prompt whose ids start with a kept sequence (and are longer) takes it over: the entry is
removed, and only the new tokens are prefilled.  Other weights drop every entry; entries beyond
``max_bytes`` are dropped oldest first.  Reuse only changes which tokens are fed forward, not what
they attend to: the batch is laid out per row as ``[padding, kept tokens, padding, new tokens]``
with an attention mask that is 0 on the padding and position ids that count the row's real tokens,
so the logprobs equal a full prefill's up to float rounding (tests/test_kv_reuse.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Kept:
    ids: tuple[int, ...]
    keys: list[Any]  # per layer, (heads, len(ids), head_dim)
    values: list[Any]
    nbytes: int


class PrefixKV:
    def __init__(self, max_bytes: int = 1024 << 20):
        self.max_bytes = max_bytes
        self.version: Any = None
        self._entries: OrderedDict[tuple[int, int], Kept] = OrderedDict()  # (length, hash of the ids) -> kept
        self._lengths: dict[int, int] = {}  # length -> entries of that length
        self.bytes = 0
        self.hits = self.misses = self.reused_tokens = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._lengths.clear()
        self.bytes = 0

    def at_version(self, version: Any) -> None:
        """Drop everything computed with other weights."""
        if version != self.version:
            self.clear()
            self.version = version

    def take(self, ids: Sequence[int]) -> Kept | None:
        """The longest kept sequence that ``ids`` extends by at least one token, removed from the store."""
        for length in sorted((n for n in self._lengths if n < len(ids)), reverse=True):
            key = (length, hash(tuple(ids[:length])))
            kept = self._entries.get(key)
            if kept is not None and kept.ids == tuple(ids[:length]):
                self._remove(key)
                self.hits += 1
                self.reused_tokens += length
                return kept
        self.misses += 1
        return None

    def keep(self, ids: Sequence[int], keys: list[Any], values: list[Any]) -> None:
        ids = tuple(ids)
        nbytes = sum(t.numel() * t.element_size() for t in (*keys, *values))
        if not ids or nbytes > self.max_bytes:
            return
        key = (len(ids), hash(ids))
        if key in self._entries:
            self._remove(key)
        while self._entries and self.bytes + nbytes > self.max_bytes:
            self._remove(next(iter(self._entries)))
        self._entries[key] = Kept(ids, keys, values, nbytes)
        self._lengths[len(ids)] = self._lengths.get(len(ids), 0) + 1
        self.bytes += nbytes

    def _remove(self, key: tuple[int, int]) -> None:
        kept = self._entries.pop(key)
        self.bytes -= kept.nbytes
        self._lengths[key[0]] -= 1
        if not self._lengths[key[0]]:
            del self._lengths[key[0]]


@dataclass
class Prefill:
    """The first forward of a batch that reuses kept KV: its inputs and the cache to extend."""
    input_ids: Any  # (B, S): each row's new tokens, left-padded
    attention: Any  # (B, C + S)
    positions: Any  # (B, S)
    cache: Any  # a DynamicCache holding (B, heads, C, head_dim) per layer


def batch_with_kept(prompts: Sequence[Sequence[int]], kept: Sequence[Kept | None], pad_id: int, device: Any) -> Prefill:
    """Lay out rows as ``[padding, kept, padding, new]``; rows without kept KV have C padding columns."""
    import torch
    from transformers import DynamicCache

    sample = next(k for k in kept if k is not None)
    layers = len(sample.keys)
    heads, dim = sample.keys[0].shape[0], sample.keys[0].shape[-1]
    kept_len = [len(k.ids) if k is not None else 0 for k in kept]
    new = [list(p[n:]) for p, n in zip(prompts, kept_len)]
    C, S, B = max(kept_len), max(len(x) for x in new), len(prompts)
    input_ids = torch.full((B, S), pad_id, dtype=torch.long)
    attention = torch.zeros((B, C + S), dtype=torch.long)
    positions = torch.zeros((B, S), dtype=torch.long)
    for r, (n, tokens) in enumerate(zip(kept_len, new)):
        input_ids[r, S - len(tokens):] = torch.tensor(tokens, dtype=torch.long)
        attention[r, C - n:C] = 1
        attention[r, C + S - len(tokens):] = 1
        positions[r, S - len(tokens):] = torch.arange(n, n + len(tokens))
    cache = DynamicCache()
    dtype = sample.keys[0].dtype
    for layer in range(layers):
        k = torch.zeros((B, heads, C, dim), dtype=dtype, device=device)
        v = torch.zeros_like(k)
        for r, kk in enumerate(kept):
            if kk is not None:
                k[r, :, C - kept_len[r]:] = kk.keys[layer]
                v[r, :, C - kept_len[r]:] = kk.values[layer]
        cache.update(k, v, layer)
    return Prefill(input_ids.to(device), attention.to(device), positions.to(device), cache)


def cache_tensors(cache: Any) -> tuple[list[Any], list[Any]]:
    """Per-layer (B, heads, T, head_dim) keys and values of a transformers cache."""
    if hasattr(cache, "layers"):
        return [layer.keys for layer in cache.layers], [layer.values for layer in cache.layers]
    return [cache.key_cache[i] for i in range(len(cache))], [cache.value_cache[i] for i in range(len(cache))]
