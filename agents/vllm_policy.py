"""``VLLMPolicy``: token-in/token-out generation on a vLLM server.

The conversation is rendered with the model's chat template once (locally, with the model
folder's tokenizer); after that each request's prompt is the exact token sequence so far
(:class:`agents.tokens.TokenConversation`), sent to ``/v1/completions`` as token ids with
``return_token_ids``, so the ids the server sampled come back verbatim together with their
logprobs.  Which logprobs depends on how the server was started: with ``--logprobs-mode
processed_logprobs`` (how the trainer starts it) the log-probability under the distribution that
was sampled, log_softmax(logits / T) after top-k / top-p truncation (as :class:`HFPolicy` reports
them); otherwise vLLM's raw logprobs (T = 1, no truncation).

A prompt the server refuses as too long for its context (HTTP 400 naming the maximum length) raises
:class:`agents.tokens.ContextExhausted`, like a prompt that leaves no room by the local count: the
episode ends with ``finish_reason="length"``.  Any other refusal raises :class:`VLLMError`
carrying the HTTP ``status``; a server that cannot be reached raises httpx's transport errors.

It also scores answers for information-gain credit: :meth:`VLLMPolicy.score_answers` returns
the mean log-probability of an answer's tokens after a trajectory prefix, from the server's
``prompt_logprobs``; those are at T = 1 whatever the logprobs mode (vLLM 0.32 processes sampled
tokens only), so a probe at another temperature is refused rather than answered at the wrong one.
It is an :class:`agents.policy.TokenPolicy`.

Given several base URLs (replicas of one model, e.g. a training run's vLLM servers) it pins each
conversation to one server for its whole episode, so every turn's prompt finds its prefix in that
server's cache: a new conversation goes to the least loaded server (fewest requests in flight, then
fewest live conversations pinned to it, then the first listed).  Scoring requests
(:meth:`~VLLMPolicy.token_logprobs`, :meth:`~VLLMPolicy.score_answers`) go to the least loaded.
``base_url`` is the first server (served name and context length are read from it).

A vision-language model (its renderer has a vision processor, :mod:`agents.vision`) takes image
parts: a conversation with images goes to vLLM's token-in/token-out endpoint
``/inference/v1/generate`` (the server needs ``--enable-scale-out``; :class:`agents.vllm_server.VLLMServer`
adds it for such a model) with its compact ids, one ``<|image_pad|>`` per image, and the images as
``content_parts`` in order: vLLM runs the model's processor and expands each placeholder itself.
The vision tokens are never sampled (a ``logit_bias`` of -100 on them, as :class:`HFPolicy` masks them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import weakref
from collections import Counter
from collections.abc import Iterator, Sequence

import httpx

from agents.policy import Completion, Request, SamplingParams
from agents.tokens import ContextExhausted, ImagesNotSupported, TokenConversation, answer_probe_ids, check_probe_pairs, load_renderer


class VLLMError(RuntimeError):
    """The server answered, but not with a usable completion; ``status`` is its HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# vLLM's 400 for a prompt (plus the requested tokens) beyond max_model_len, across versions: "This model's
# maximum context length is N tokens ...", "The decoder prompt (length N) is longer than the maximum model length of M".
_TOO_LONG = re.compile(r"maximum context length|maximum model length|max_model_len", re.IGNORECASE)


class VLLMPolicy:
    def __init__(
        self, model: str | os.PathLike, base_url: str | Sequence[str], *, served_name: str | None = None, timeout: float = 300.0,
        max_model_len: int | None = None, tool_role: str = "auto", max_connections: int = 256,
        extra_body: dict | None = None,
    ):
        from agents.models import resolve_model

        self.model_dir = resolve_model(model)
        self.renderer = load_renderer(self.model_dir, tool_role=tool_role)
        self.served_name = served_name
        self.name = f"vllm:{served_name or self.model_dir.name}"
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("VLLMPolicy needs at least one base URL")
        self.base_urls = [u.rstrip("/").removesuffix("/v1") for u in urls]
        if len(set(self.base_urls)) != len(self.base_urls):
            raise ValueError(f"a server is listed twice: {self.base_urls}")
        self.base_url = self.base_urls[0]
        self._inflight = dict.fromkeys(self.base_urls, 0)  # requests sent and not yet answered, per server
        self._pinned: weakref.WeakKeyDictionary[TokenConversation, str] = weakref.WeakKeyDictionary()
        self.timeout = timeout
        self.max_model_len = max_model_len
        self.max_connections = max_connections
        self.extra_body = dict(extra_body or {})  # more vLLM sampling fields for every generation request
        self._clients: dict[int, httpx.AsyncClient] = {}  # one per event loop (asyncio.run makes new ones)
        self._meta_lock: asyncio.Lock | None = None
        self.policy_version = 0  # the trainer bumps it after each weight sync; completions carry it

    # -- the token-level interface used by the rollout engine ------------------------------
    def start_conversation(self, messages: Sequence[dict]) -> TokenConversation:
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs: Sequence[TokenConversation], sampling: SamplingParams) -> list[Completion]:
        if self.renderer.vision is None and any(conv.images for conv in convs):
            raise ImagesNotSupported(f"{self.model_dir.name} is not a vision-language model: image inputs are not supported")
        return list(await asyncio.gather(*(self._complete_on(conv, sampling) for conv in convs)))

    # -- routing over several servers -------------------------------------------------------
    def server_for(self, conv: TokenConversation) -> str:
        """The server ``conv`` is pinned to; a new conversation is pinned to the least loaded one."""
        if len(self.base_urls) == 1:
            return self.base_url
        url = self._pinned.get(conv)
        if url is None:
            url = self._pinned[conv] = self.least_loaded()
        return url

    def least_loaded(self) -> str:
        """Fewest requests in flight, then fewest live conversations pinned, then the first listed."""
        if len(self.base_urls) == 1:
            return self.base_url
        pinned = Counter(self._pinned.values())
        return min(self.base_urls, key=lambda u: (self._inflight[u], pinned[u]))

    def load(self) -> dict[str, tuple[int, int]]:
        """Per server: (requests in flight, live conversations pinned to it)."""
        pinned = Counter(self._pinned.values())
        return {u: (self._inflight[u], pinned[u]) for u in self.base_urls}

    @contextlib.contextmanager
    def _busy(self, url: str) -> Iterator[str]:
        self._inflight[url] += 1
        try:
            yield url
        finally:
            self._inflight[url] -= 1

    async def _complete_on(self, conv: TokenConversation, sampling: SamplingParams) -> Completion:
        with self._busy(self.server_for(conv)) as url:  # counted from the moment it is routed
            if conv.images:
                return await self._complete_images(conv, sampling, url)
            return await self._complete(conv.ids, sampling, url)

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        """Plain requests (no token state kept): render each conversation, then generate."""
        return await self.generate_tokens([self.start_conversation(r.messages) for r in requests], sampling)

    # -- answer probes --------------------------------------------------------------------
    async def score_answers(
        self, prefixes: Sequence[Sequence[int]], answers: Sequence[str], *, tails: Sequence[str] | None = None,
        temperature: float = 1.0,
    ) -> list[float]:
        """Mean log p(answer tokens | prefix) for each pair, from the server's prompt logprobs; ``tails[i]``
        follows answer i unscored.

        ``temperature`` other than 1 (or 0, which means 1) raises ``NotImplementedError``: the server's
        prompt logprobs are at T = 1; score such probes with the learner's model instead.
        """
        tails = check_probe_pairs(prefixes, answers, tails)
        if temperature not in (0.0, 1.0):
            raise NotImplementedError(
                f"vLLM's prompt logprobs are at temperature 1, not {temperature}: score answer probes at the "
                "sampling temperature with an in-process model (HFPolicy or the learner)"
            )
        return list(await asyncio.gather(*(self._score(p, a, t) for p, a, t in zip(prefixes, answers, tails))))

    async def token_logprobs(self, ids: Sequence[int]) -> list[float]:
        """log p(ids[i] | ids[:i]) for i >= 1 (the server's prompt logprobs)."""
        body = {"prompt": list(ids), "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "return_token_ids": True}
        with self._busy(self.least_loaded()) as url:
            choice = (await self._post(body, url))["choices"][0]
        rows = choice.get("prompt_logprobs")
        if rows is None or len(rows) != len(ids):
            raise VLLMError(f"server returned no prompt logprobs for {len(ids)} ids")
        return [float(rows[i][str(tok)]["logprob"]) for i, tok in enumerate(ids) if i >= 1]

    async def _score(self, prefix: Sequence[int], answer: str, tail: str) -> float:
        ids, start = answer_probe_ids(self.renderer, prefix, answer, tail)
        lps = await self.token_logprobs(ids)  # lps[i - 1] scores ids[i]
        answer_lps = lps[start - 1:]
        return sum(answer_lps) / len(answer_lps)

    # -- HTTP -----------------------------------------------------------------------------
    async def _complete(self, prompt_ids: Sequence[int], sampling: SamplingParams, url: str | None = None) -> Completion:
        room = (await self.context_length()) - len(prompt_ids)
        if room < 1:
            raise ContextExhausted(f"{len(prompt_ids)} prompt tokens fill the {await self.context_length()}-token context")
        body = {
            "prompt": list(prompt_ids), "max_tokens": min(sampling.max_tokens, room), "temperature": sampling.temperature,
            "top_p": sampling.top_p, "logprobs": 0, "return_token_ids": True, "skip_special_tokens": False,
            "include_stop_str_in_output": True,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = sampling.stop
        if self.renderer.vision is not None:  # a VLM's text-only turns: no vision token either
            body["logit_bias"] = {str(i): -100.0 for i in self.renderer.vision.suppress_ids}
        body.update(self.extra_body)
        version = self.policy_version  # read at send time: a sync pauses the server until in-flight requests end
        choice = (await self._post(body, url))["choices"][0]
        ids = choice.get("token_ids")
        if ids is None:
            raise VLLMError("the server returned no token_ids: it needs vLLM >= 0.10 (return_token_ids)")
        lps = (choice.get("logprobs") or {}).get("token_logprobs")
        if lps is None or len(lps) != len(ids):
            raise VLLMError(f"{len(ids)} sampled ids but {0 if lps is None else len(lps)} logprobs")
        reason = choice.get("finish_reason")
        if reason not in ("stop", "length"):
            raise VLLMError(f"generation ended with finish_reason={reason!r}")
        return Completion(
            text=self.renderer.completion_text(ids, reason), token_ids=[int(i) for i in ids],
            logprobs=[float(x) if x is not None else 0.0 for x in lps], finish_reason=reason, policy_version=version,
        )

    async def _complete_images(self, conv: TokenConversation, sampling: SamplingParams, url: str) -> Completion:
        """A completion of a conversation with images, from ``/inference/v1/generate`` (see the module docstring)."""
        from tools.content import to_data_url

        room = (await self.context_length()) - conv.model_len()
        if room < 1:
            raise ContextExhausted(f"{conv.model_len()} prompt tokens fill the {await self.context_length()}-token context")
        params = {
            "max_tokens": min(sampling.max_tokens, room), "temperature": sampling.temperature, "top_p": sampling.top_p,
            "logprobs": 0, "skip_special_tokens": False, "include_stop_str_in_output": True,
            "logit_bias": dict.fromkeys(self.renderer.vision.suppress_ids, -100.0),
        }
        if sampling.seed is not None:
            params["seed"] = sampling.seed
        if sampling.stop:
            params["stop"] = sampling.stop
        params.update(self.extra_body)
        body = {"model": await self.model_name(), "token_ids": list(conv.ids), "sampling_params": params, "output_mode": "tokens",
                "content_parts": [{"type": "image_url", "url": to_data_url(u)} for u in conv.images]}
        version = self.policy_version
        resp = await self._client().post(f"{url}/inference/v1/generate", json=body)
        if resp.status_code == 400 and _TOO_LONG.search(resp.text):
            raise ContextExhausted(f"vLLM refused the prompt of {conv.model_len()} tokens: {resp.text[:300]}")
        if resp.status_code != 200:
            raise VLLMError(f"vLLM answered {resp.status_code} on /inference/v1/generate (a vision model's server needs "
                            f"--enable-scale-out): {resp.text[:500]}", status=resp.status_code)
        choice = resp.json()["choices"][0]
        ids = [int(i) for i in choice.get("token_ids") or []]
        lps = [float(e["logprob"]) for e in ((choice.get("logprobs") or {}).get("content") or [])]
        if not ids or len(lps) != len(ids):
            raise VLLMError(f"{len(ids)} sampled ids but {len(lps)} logprobs")
        reason = choice.get("finish_reason")
        if reason not in ("stop", "length"):
            raise VLLMError(f"generation ended with finish_reason={reason!r}")
        return Completion(text=self.renderer.completion_text(ids, reason), token_ids=ids, logprobs=lps, finish_reason=reason,
                          policy_version=version)

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            n = self.max_connections * len(self.base_urls)  # the pool is shared by every server
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            client = self._clients[loop] = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, limits=limits)
        return client

    async def _post(self, body: dict, url: str | None = None) -> dict:
        body = {"model": await self.model_name(), **body}
        resp = await self._client().post(f"{url or self.base_url}/v1/completions", json=body)
        if resp.status_code == 400 and _TOO_LONG.search(resp.text):  # the server's context is smaller than ours
            raise ContextExhausted(f"vLLM refused the prompt of {len(body.get('prompt') or [])} tokens: {resp.text[:300]}")
        if resp.status_code != 200:
            raise VLLMError(f"vLLM answered {resp.status_code}: {resp.text[:500]}", status=resp.status_code)
        return resp.json()

    async def _models(self) -> dict:
        resp = await self._client().get(f"{self.base_url}/v1/models")
        resp.raise_for_status()
        data = resp.json().get("data") or []
        if not data:
            raise VLLMError(f"{self.base_url} serves no model")
        return data[0]

    async def model_name(self) -> str:
        if self.served_name is None:
            self.served_name = (await self._models())["id"]
            self.name = f"vllm:{self.served_name}"
        return self.served_name

    async def context_length(self) -> int:
        if self.max_model_len is None:
            self.max_model_len = int((await self._models()).get("max_model_len") or 2048)
        return self.max_model_len

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            try:
                await client.aclose()
            except RuntimeError:  # its loop is gone
                pass
