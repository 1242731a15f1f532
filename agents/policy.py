"""The policy protocols: what the rollout engine and the trainer ask of a policy.

``Policy``: turns chat requests into completions, asynchronously and in batches.  Backends that
can (vLLM, HF transformers) return the sampled token ids and their logprobs; others leave them
None.  ``Request.info`` (the env's reset info, ground truth included) is filled only for a policy
whose ``privileged`` attribute is true (the oracle); the rollout hands every other policy ``{}``.

``TokenPolicy``: a ``Policy`` that is token-in/token-out, which training rollouts need:

* ``start_conversation(messages) -> TokenConversation``: render the first observation with the
  chat template (generation prompt included); the rollout then appends to it, never re-renders.
* ``generate_tokens(convs, sampling) -> list[Completion]``: one completion per conversation, in
  order, continuing exactly ``conv.ids``; each carries ``token_ids`` and one logprob per id and the
  ``policy_version`` of the weights that sampled it.  The logprob is that of the distribution the
  token was drawn from: log softmax(logits / T) at temperature T > 0 (renormalised over the top-p set
  when top_p < 1; vLLM's ``processed_logprobs``), the raw log softmax when greedy.  Raises
  :class:`agents.tokens.ContextExhausted` when a conversation leaves no room for one token.
* ``score_answers(prefixes, answers, *, tails=None, temperature=1.0) -> list[float]``: mean log π_T(answer
  tokens | prefix ids), one per pair (the answer probes of information-gain credit); ``tails[i]``
  follows answer i as context and is not scored (:func:`agents.tokens.answer_ids`); a backend that
  cannot score at T raises ``NotImplementedError`` (vLLM's prompt logprobs are always T = 1).
* ``policy_version: int``: the weights version; 0 at load, bumped by the trainer after each weight
  sync.  Completions are stamped with the version current when their request was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agents.tokens import TokenConversation


class SamplingParams(BaseModel):
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    stop: list[str] | None = None
    seed: int | None = None


class Request(BaseModel):
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI-format tool specs
    info: dict[str, Any] = Field(default_factory=dict)  # env reset info; empty unless the policy is privileged


class Completion(BaseModel):
    text: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: Literal["stop", "length", "error"] = "stop"
    policy_version: int | None = None  # the weights version that sampled it; None: the backend does not track one


@runtime_checkable
class Policy(Protocol):
    name: str

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        """One completion per request, in order."""
        ...


@runtime_checkable
class TokenPolicy(Policy, Protocol):
    """A token-in/token-out policy; see the module docstring for what each member promises."""

    policy_version: int

    def start_conversation(self, messages: Sequence[dict[str, Any]]) -> TokenConversation:
        """The chat template's rendering of ``messages`` with the generation prompt, as a conversation to append to."""
        ...

    async def generate_tokens(self, convs: Sequence[TokenConversation], sampling: SamplingParams) -> list[Completion]:
        """One completion per conversation, in order, with token ids, logprobs and ``policy_version``."""
        ...

    async def score_answers(self, prefixes: Sequence[Sequence[int]], answers: Sequence[str], *,
                            tails: Sequence[str] | None = None, temperature: float = 1.0) -> list[float]:
        """Mean log π_T(answer tokens | prefix), one per (prefix, answer) pair; ``tails[i]`` follows unscored."""
        ...
