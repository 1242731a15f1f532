"""``HFPolicy``: the token-level policy interface on a local transformers model.

For machines without vLLM and GPU runs where vLLM is not installed.  Same contract as
:class:`agents.vllm_policy.VLLMPolicy`: token conversations in, sampled ids and their raw
logprobs (log-softmax of the unprocessed logits) out, answer scoring by a forward pass; it is
an :class:`agents.policy.TokenPolicy`.

Requests from concurrent episodes are gathered into one batched ``generate`` (left-padded):
calls that arrive within ``batch_wait`` seconds with the same sampling settings share a batch
of up to ``max_batch``.  Per-request seeds cannot be honoured inside a batch; the batch is
seeded with its first request's seed.

``autocast`` (e.g. ``"bfloat16"``) runs sampling and scoring under ``torch.autocast``: a trainer
on CUDA that keeps fp32 master weights and computes in bf16 passes it, so the sampler computes
the way the learner does (and at bf16 speed) while sharing the learner's module.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from agents.policy import Completion, Request, SamplingParams
from agents.tokens import ContextExhausted, ImagesNotSupported, TokenConversation, answer_probe_ids, load_renderer


@dataclass
class _Job:
    ids: list[int]
    sampling: SamplingParams
    future: asyncio.Future


class HFPolicy:
    def __init__(
        self, model: str | os.PathLike, *, device: str = "auto", dtype: str | None = None, max_batch: int = 16,
        batch_wait: float = 0.02, max_model_len: int | None = None, tool_role: str = "auto", model_obj=None,
        autocast: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM

        from agents.models import pick_device, resolve_model

        self.model_dir = resolve_model(model)
        self.renderer = load_renderer(self.model_dir, tool_role=tool_role)
        self.device = pick_device(device)
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device.startswith("cuda") else torch.float32)
        self.model = model_obj or AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch_dtype).to(self.device)
        self.model.eval()
        self.autocast = getattr(torch, autocast) if autocast else None
        self.name = f"hf:{self.model_dir.name}"
        self.policy_version = 0  # the trainer bumps it after each weight update; completions carry it
        self.max_batch = max_batch
        self.batch_wait = batch_wait
        self.max_model_len = max_model_len or int(getattr(self.model.config, "max_position_embeddings", 2048))
        tok = self.renderer.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(self.renderer.stop_ids)
        self._lock = threading.Lock()  # one forward at a time on the model
        self._queues: dict[int, asyncio.Queue] = {}

    # -- token-level interface ---------------------------------------------------------------
    def start_conversation(self, messages: Sequence[dict]) -> TokenConversation:
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs: Sequence[TokenConversation], sampling: SamplingParams) -> list[Completion]:
        if any(conv.images for conv in convs):
            raise ImagesNotSupported("HFPolicy sends token ids only: image inputs are not supported")
        loop = asyncio.get_running_loop()
        queue = self._queue()
        futures = []
        for conv in convs:
            if conv.room(self.max_model_len) < 1:
                raise ContextExhausted(f"{len(conv.ids)} tokens fill the {self.max_model_len}-token context")
            fut = loop.create_future()
            queue.put_nowait(_Job(list(conv.ids), sampling, fut))
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
                    for j in [j for j in batch if len(j.ids) >= self.max_model_len]:  # no room: this one ends
                        j.future.set_exception(ContextExhausted(
                            f"{len(j.ids)} prompt tokens fill the {self.max_model_len}-token context"))
                    batch = [j for j in batch if not j.future.done()]
                    if not batch:
                        continue
                    try:
                        results = await asyncio.to_thread(self.generate_ids, [j.ids for j in batch], batch[0].sampling)
                    except Exception as e:  # handed to each caller: the rollout retries or marks the episode
                        for j in batch:
                            if not j.future.done():
                                j.future.set_exception(e)
                        continue
                    for j, r in zip(batch, results):
                        if not j.future.done():
                            j.future.set_result(r)

    # -- the model --------------------------------------------------------------------------
    def generate_ids(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        """One batched ``generate`` over token-id prompts (blocking)."""
        import torch
        from transformers import GenerationConfig

        longest = max(len(p) for p in prompts)
        # Each row may grow to its own room; one long prompt must not cut the others short.
        rooms = [min(sampling.max_tokens, self.max_model_len - len(p)) for p in prompts]
        if min(rooms) < 1:
            raise ContextExhausted(f"{longest} prompt tokens fill the {self.max_model_len}-token context")
        max_new = max(rooms)
        input_ids = torch.full((len(prompts), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), longest), dtype=torch.long)
        for row, p in enumerate(prompts):
            input_ids[row, longest - len(p):] = torch.tensor(list(p), dtype=torch.long)
            attention[row, longest - len(p):] = 1
        greedy = sampling.temperature == 0.0
        config = GenerationConfig(
            max_new_tokens=max_new, do_sample=not greedy, temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p, top_k=None if greedy else 0, eos_token_id=sorted(self.renderer.stop_ids),
            pad_token_id=self.pad_id, return_dict_in_generate=True, output_logits=True,
        )
        with self._lock, torch.no_grad(), self._autocast():
            version = self.policy_version  # the weights this batch samples with
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            out = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device), generation_config=config
            )
        new = out.sequences[:, longest:].cpu()
        logits = torch.stack(out.logits, dim=1).float().cpu()  # (batch, steps, vocab), raw
        lps = torch.log_softmax(logits, dim=-1).gather(-1, new[:, : logits.shape[1]].unsqueeze(-1)).squeeze(-1)
        results = []
        for row in range(len(prompts)):
            ids = new[row].tolist()[: rooms[row]]
            end, reason = len(ids), "length"
            for k, tok in enumerate(ids):
                if tok in self.renderer.stop_ids:
                    end, reason = k + 1, "stop"
                    break
            ids = ids[:end]
            results.append(Completion(
                text=self.renderer.completion_text(ids, reason), token_ids=ids, logprobs=lps[row, :end].tolist(),
                finish_reason=reason, policy_version=version,
            ))
        return results

    def _autocast(self):
        from agents.models import autocast

        return autocast(self.device, self.autocast)

    def forward_logprobs(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        """log p(ids[i] | ids[:i]) for i >= 1, per sequence, from one right-padded forward pass."""
        import torch

        longest = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), longest), dtype=torch.long)
        for row, s in enumerate(sequences):
            input_ids[row, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            attention[row, : len(s)] = 1
        with self._lock, torch.no_grad(), self._autocast():
            logits = self.model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)).logits
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:].to(self.device).unsqueeze(-1))
        logp = logp.squeeze(-1).cpu()
        return [logp[row, : len(s) - 1].tolist() for row, s in enumerate(sequences)]

    async def score_answers(self, prefixes: Sequence[Sequence[int]], answers: Sequence[str]) -> list[float]:
        """Mean log p(answer tokens | prefix) for each pair; batched forward passes of ``max_batch``."""
        if len(prefixes) != len(answers):
            raise ValueError("one answer per prefix")
        probes = [answer_probe_ids(self.renderer, p, a) for p, a in zip(prefixes, answers)]
        scores: list[float] = []
        for i in range(0, len(probes), self.max_batch):
            chunk = probes[i:i + self.max_batch]
            rows = await asyncio.to_thread(self.forward_logprobs, [ids for ids, _ in chunk])
            for (_ids, start), lps in zip(chunk, rows):
                answer_lps = lps[start - 1:]
                scores.append(sum(answer_lps) / len(answer_lps))
        return scores
