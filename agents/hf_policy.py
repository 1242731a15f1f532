"""``HFPolicy``: the token-level policy interface on a local transformers model.

For machines without vLLM and GPU runs where vLLM is not installed.  Same contract as
:class:`agents.vllm_policy.VLLMPolicy`: token conversations in, sampled ids and their logprobs
out, answer scoring by a forward pass; it is an :class:`agents.policy.TokenPolicy`.

The logprob of a sampled token is taken under the distribution it was drawn from, as vLLM's
``--logprobs-mode processed_logprobs`` reports it: log_softmax(logits / T) at temperature T,
renormalized over the top-p nucleus when ``top_p < 1`` (vLLM truncates before its processed
logprobs too); greedy decoding (T = 0) reports the raw log_softmax(logits).  The log-softmax runs
in float32 whatever the model computes in.  A learner that scores log_softmax(logits / T) matches
these exactly at ``top_p = 1``; at ``top_p < 1`` the rollout logprob is the truncated one.

Sampling is a decode loop over the KV cache that keeps one step's ``(batch, vocab)`` logits at a
time and gathers the sampled token's logprob as it goes: nothing of size steps × vocab is stored
(``generate(output_logits=True)`` kept every step's logits, GBs at a 150k vocabulary).  Prompts
are left-padded with position ids counted from each row's first real token, so a row samples
the same tokens batched as alone (greedy; sampled rows share one random stream).  A request's
``seed`` seeds a private ``torch.Generator``: a seeded batch repeats run to run and leaves the
global RNG (a trainer's) untouched; unseeded batches draw from the global RNG.

Requests from concurrent episodes are gathered into one batch (left-padded): calls that arrive
within ``batch_wait`` seconds with the same sampling settings share a batch of up to
``max_batch``.  Per-request seeds cannot be honoured inside a batch; the batch is seeded with its
first request's seed.

``autocast`` (e.g. ``"bfloat16"``) runs sampling and scoring under ``torch.autocast``: a trainer
on CUDA that keeps fp32 master weights and computes in bf16 passes it, so the sampler computes
the way the learner does (and at bf16 speed) while sharing the learner's module.

A vision-language model (Qwen2-VL family: its renderer has a vision processor) takes image parts:
each prompt's compact ids are expanded (an image's one placeholder becomes its tokens), the
prefill gets the ``pixel_values`` / ``image_grid_thw`` of every image so far and the model's
M-RoPE positions, and the vision tokens are never sampled (logits -inf, so the logprobs are over
the rest of the vocabulary): see :mod:`agents.vision`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.kv_reuse import PrefixKV, batch_with_kept, cache_tensors
from agents.policy import Completion, Request, SamplingParams
from agents.tokens import ContextExhausted, ImagesNotSupported, TokenConversation, answer_probe_ids, check_probe_pairs, load_renderer


@dataclass
class _Job:
    ids: list[int]
    sampling: SamplingParams
    future: asyncio.Future
    images: list[str] = field(default_factory=list)


class HFPolicy:
    def __init__(
        self, model: str | os.PathLike, *, device: str = "auto", dtype: str | None = None, max_batch: int = 16,
        batch_wait: float = 0.02, max_model_len: int | None = None, tool_role: str = "auto", model_obj=None,
        autocast: str | None = None, prefix_cache_mb: int = 1024,
    ):
        import torch

        from agents.models import pick_device, resolve_model
        from agents.vision import model_class

        self.model_dir = resolve_model(model)
        self.renderer = load_renderer(self.model_dir, tool_role=tool_role)
        self.device = pick_device(device)
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model = model_obj or model_class(self.model_dir).from_pretrained(self.model_dir, dtype=torch_dtype).to(self.device)
        self.model.eval()
        self.autocast = getattr(torch, autocast) if autocast else None
        self.name = f"hf:{self.model_dir.name}"
        self.policy_version = 0  # the trainer bumps it after each weight update; completions carry it
        self.max_batch = max_batch
        self.batch_wait = batch_wait
        text_config = getattr(self.model.config, "text_config", None) or self.model.config  # a VLM keeps it there
        self.max_model_len = max_model_len or int(getattr(text_config, "max_position_embeddings", 2048))
        tok = self.renderer.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(self.renderer.stop_ids)
        self._lock = threading.Lock()  # one forward at a time on the model
        # a turn prefills only what the last turn did not compute (agents.kv_reuse); 0 MB: off
        self.kv = PrefixKV(prefix_cache_mb << 20) if prefix_cache_mb > 0 and self.renderer.vision is None else None
        self._queues: dict[int, asyncio.Queue] = {}

    # -- token-level interface ---------------------------------------------------------------
    def start_conversation(self, messages: Sequence[dict]) -> TokenConversation:
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs: Sequence[TokenConversation], sampling: SamplingParams) -> list[Completion]:
        if self.renderer.vision is None and any(conv.images for conv in convs):
            raise ImagesNotSupported(f"{self.model_dir.name} is not a vision-language model: image inputs are not supported")
        loop = asyncio.get_running_loop()
        queue = self._queue()
        futures = []
        for conv in convs:
            if conv.room(self.max_model_len) < 1:
                raise ContextExhausted(f"{conv.model_len()} tokens fill the {self.max_model_len}-token context")
            fut = loop.create_future()
            queue.put_nowait(_Job(list(conv.ids), sampling, fut, list(conv.images)))
            futures.append(fut)
        return list(await asyncio.gather(*futures))

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return await self.generate_tokens([self.start_conversation(r.messages) for r in requests], sampling)

    # -- batching -----------------------------------------------------------------------------
    def _queue(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(id(loop))
        if queue is None:
            queue = self._queues[id(loop)] = asyncio.Queue()
            task = loop.create_task(self._worker(queue))
            task.add_done_callback(lambda _t, key=id(loop): self._queues.pop(key, None))
            self._worker_task = task  # keep a reference
        return queue

    async def _worker(self, queue: asyncio.Queue) -> None:
        while True:
            jobs = [await queue.get()]
            await asyncio.sleep(self.batch_wait)
            while not queue.empty() and len(jobs) < 4 * self.max_batch:
                jobs.append(queue.get_nowait())
            groups: dict[str, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.sampling.model_copy(update={"seed": None}).model_dump_json(), []).append(job)
            for group in groups.values():
                for i in range(0, len(group), self.max_batch):
                    batch = [j for j in group[i:i + self.max_batch] if not j.future.done()]
                    for j in [j for j in batch if self._length(j.ids, j.images) >= self.max_model_len]:  # no room
                        j.future.set_exception(ContextExhausted(
                            f"{len(j.ids)} prompt tokens fill the {self.max_model_len}-token context"))
                    batch = [j for j in batch if not j.future.done()]
                    if not batch:
                        continue
                    try:
                        results = await asyncio.to_thread(self.generate_ids, [j.ids for j in batch], batch[0].sampling,
                                                          [j.images for j in batch])
                    except Exception as e:  # handed to each caller: the rollout retries or marks the episode
                        for j in batch:
                            if not j.future.done():
                                j.future.set_exception(e)
                        continue
                    for j, r in zip(batch, results):
                        if not j.future.done():
                            j.future.set_result(r)

    # -- the model --------------------------------------------------------------------------
    def _length(self, ids: Sequence[int], images: Sequence[str]) -> int:
        return self.renderer.vision.expanded_length(len(ids), images) if images else len(ids)

    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams,
                     images: Sequence[Sequence[str]] | None = None) -> list[Completion]:
        """Sample a batch of token-id prompts (blocking); ``images``: each prompt's image URLs, in order
        (vision-language models); see the module docstring."""
        import torch

        vision, prefill = self.renderer.vision, {}
        if images and any(images):
            prompts = [vision.expand(p, imgs)[0] for p, imgs in zip(prompts, images)]
            prefill = vision.inputs([u for imgs in images for u in imgs])
        longest = max(len(p) for p in prompts)
        # Each row may grow to its own room; one long prompt must not cut the others short.
        rooms = [min(sampling.max_tokens, self.max_model_len - len(p)) for p in prompts]
        if min(rooms) < 1:
            raise ContextExhausted(f"{longest} prompt tokens fill the {self.max_model_len}-token context")
        input_ids = torch.full((len(prompts), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), longest), dtype=torch.long)
        for row, p in enumerate(prompts):
            input_ids[row, longest - len(p):] = torch.tensor(list(p), dtype=torch.long)
            attention[row, longest - len(p):] = 1
        with self._lock, torch.no_grad(), self._autocast():
            version = self.policy_version  # the weights this batch samples with
            generator = None
            if sampling.seed is not None:
                generator = torch.Generator(device=self.device)
                generator.manual_seed(sampling.seed)
            positions, cache, kept = None, None, None
            if prefill:
                positions = vision.positions(self.model, input_ids, attention, prefill["image_grid_thw"]).to(self.device)
                prefill = {k: v.to(self.device) for k, v in prefill.items()}
            elif self.kv is not None:
                # the weights' in-place update counters too: a caller that changes them without bumping policy_version
                self.kv.at_version(hash((version, *((id(t), t._version) for t in self.model.parameters()))))
                kept = [self.kv.take(p) for p in prompts]
            if kept and any(kept):
                laid = batch_with_kept(prompts, kept, self.pad_id, self.device)
                input_ids, attention, positions, cache = laid.input_ids, laid.attention, laid.positions, laid.cache
            rows, cache = self._decode(input_ids.to(self.device), attention.to(self.device), rooms, sampling, generator,
                                       positions=positions, prefill=prefill, cache=cache)
            if self.kv is not None:
                self._keep(prompts, rows, cache, attention)
        results = []
        for ids, lps in rows:
            reason = "stop" if ids[-1] in self.renderer.stop_ids else "length"
            results.append(Completion(
                text=self.renderer.completion_text(ids, reason), token_ids=ids, logprobs=lps,
                finish_reason=reason, policy_version=version,
            ))
        return results

    def _keep(self, prompts, rows, cache, attention) -> None:
        """Keep each row's KV for its next turn: the prompt's columns that ``attention`` (the prompt's mask)
        marks real, and every sampled token that was fed back."""
        import torch

        keys, values = cache_tensors(cache)
        width = attention.shape[1]
        for r, (prompt, (ids, _)) in enumerate(zip(prompts, rows)):
            real = torch.nonzero(attention[r]).squeeze(-1).cpu()
            cols = torch.cat([real, torch.arange(width, width + len(ids) - 1)]).to(keys[0].device)
            self.kv.keep(list(prompt) + ids[:-1], [k[r].index_select(1, cols) for k in keys],
                         [v[r].index_select(1, cols) for v in values])

    def _decode(self, input_ids, attention, rooms: list[int], sampling: SamplingParams, generator, *, positions=None,
                prefill=None, cache=None):
        """The decode loop: per row, the sampled ids and their logprobs, each row until a stop id or its room;
        and the KV cache.  ``positions``: the prompt's position ids (M-RoPE ``[3, B, L]``); ``prefill``: extra
        inputs of the first forward (pixels); ``cache``: KV of columns before ``input_ids`` (kept from the
        last turn: ``attention`` covers them too)."""
        import torch

        params = _forward_params(self.model)
        extra = {k: 1 for k in ("logits_to_keep", "num_logits_to_keep") if k in params}  # prefill: last position only
        cache_arg = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5
        cache = cache if cache is not None else _new_cache()
        prompt_width = attention.shape[1]
        if positions is None:
            positions = (attention.cumsum(-1) - 1).clamp(min=0)  # left padding: count from each row's first token
        step_ids, step_positions = input_ids, positions
        suppress = self.renderer.vision.suppress_ids if self.renderer.vision is not None else None
        rows: list[tuple[list[int], list[float]]] = [([], []) for _ in rooms]
        live = [True] * len(rooms)
        for _ in range(max(rooms)):
            out = self.model(input_ids=step_ids, attention_mask=attention, position_ids=step_positions, use_cache=True,
                             **{cache_arg: cache}, **extra, **(prefill if prefill and step_ids is input_ids else {}))
            logits = out.logits[:, -1, :].float()  # this step's (batch, vocab) only
            if suppress:
                logits[:, suppress] = -torch.inf
            if cache is None:  # a transformers that builds its own cache hands it back
                cache = getattr(out, cache_arg, None)
            if step_ids is input_ids and (cache is None or cache.get_seq_length() != prompt_width):
                # e.g. gradient checkpointing in train mode turns the cache off: the next steps would see one token
                raise RuntimeError("the model kept no KV cache of the prompt: sample with the model in eval mode")
            del out
            tokens, logprobs = sample_step(logits, sampling.temperature, sampling.top_p, generator)
            del logits
            for row, (tok, lp) in enumerate(zip(tokens.tolist(), logprobs.tolist())):
                if live[row]:
                    rows[row][0].append(tok)
                    rows[row][1].append(lp)
                    live[row] = tok not in self.renderer.stop_ids and len(rows[row][0]) < rooms[row]
            if not any(live):
                break
            # Finished rows keep decoding padding (their output is dropped), as generate() does.
            step_ids = torch.where(torch.tensor(live, device=tokens.device), tokens, self.pad_id).unsqueeze(-1)
            step_positions = step_positions[..., -1:] + 1
            attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=-1)
        return rows, cache

    def _autocast(self):
        from agents.models import autocast

        return autocast(self.device, self.autocast)

    def forward_logprobs(self, sequences: Sequence[Sequence[int]], *, temperature: float = 1.0) -> list[list[float]]:
        """log p_T(ids[i] | ids[:i]) for i >= 1, per sequence, from one right-padded forward pass.

        ``temperature``: the logits are divided by it before the (float32) log-softmax, as sampling at
        that temperature reports them; 0 (greedy) scores the raw logits, like 1.
        """
        import torch

        scale = _logit_scale(temperature)
        longest = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), longest), dtype=torch.long)
        for row, s in enumerate(sequences):
            input_ids[row, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            attention[row, : len(s)] = 1
        out = []
        with self._lock, torch.no_grad(), self._autocast():
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)).logits
            for row, s in enumerate(sequences):  # one row's float32 copy at a time, not the batch's
                n = len(s) - 1
                logp = torch.log_softmax(logits[row, :n].float() / scale, dim=-1)
                out.append(logp.gather(-1, input_ids[row, 1: n + 1].to(logp.device).unsqueeze(-1)).squeeze(-1).tolist())
        return out

    async def score_answers(
        self, prefixes: Sequence[Sequence[int]], answers: Sequence[str], *, tails: Sequence[str] | None = None,
        temperature: float = 1.0,
    ) -> list[float]:
        """Mean log p_T(answer tokens | prefix) for each pair; batched forward passes of ``max_batch``.

        ``tails[i]`` follows answer i unscored (:func:`agents.tokens.answer_ids`); ``temperature``
        as in :meth:`forward_logprobs` (the answer probes of a run that samples at T).
        """
        tails = check_probe_pairs(prefixes, answers, tails)
        probes = [answer_probe_ids(self.renderer, p, a, t) for p, a, t in zip(prefixes, answers, tails)]
        scores: list[float] = []
        for i in range(0, len(probes), self.max_batch):
            chunk = probes[i:i + self.max_batch]
            rows = await asyncio.to_thread(self.forward_logprobs, [ids for ids, _ in chunk], temperature=temperature)
            for (_ids, start), lps in zip(chunk, rows):
                answer_lps = lps[start - 1:]
                scores.append(sum(answer_lps) / len(answer_lps))
        return scores


# -- sampling, one step ---------------------------------------------------------------------------
def sample_step(logits, temperature: float, top_p: float, generator=None):
    """Draw one token per row of float32 ``logits`` (batch, vocab); returns (tokens, their logprobs).

    Greedy (T = 0): the argmax and its raw log-softmax.  Otherwise a draw from softmax(logits / T),
    restricted to the top-p nucleus when ``top_p < 1``, and the logprob under that same distribution.
    """
    import torch

    if temperature == 0.0:
        logp = torch.log_softmax(logits, dim=-1)
        tokens = logp.argmax(dim=-1)
    else:
        scaled = logits / temperature
        if top_p < 1.0:
            scaled = top_p_filter(scaled, top_p)
        logp = torch.log_softmax(scaled, dim=-1)
        tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
    return tokens, logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def top_p_filter(logits, top_p: float):
    """Set to -inf the logits outside the nucleus: the smallest set of top tokens whose probability
    reaches ``top_p`` (vLLM's and transformers' rule: drop the low tail whose mass is <= 1 - top_p,
    always keeping the top token)."""
    import torch

    sorted_logits, order = logits.sort(dim=-1)  # ascending: the tail first
    tail = sorted_logits.softmax(dim=-1).cumsum(dim=-1) <= 1 - top_p
    tail[..., -1] = False
    sorted_logits = sorted_logits.masked_fill(tail, -torch.inf)
    return sorted_logits.scatter(-1, order, sorted_logits)


def _logit_scale(temperature: float) -> float:
    """What logits are divided by: the temperature, with greedy (0) scoring the raw distribution."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    return float(temperature) if temperature > 0 else 1.0


def _forward_params(model):
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT wrapper passes kwargs on
    return inspect.signature(base.forward).parameters


def _new_cache():
    """An empty KV cache to grow over the decode loop (None: let the model make one)."""
    try:
        from transformers import DynamicCache
    except ImportError:
        return None
    return DynamicCache()
