"""The ``Policy`` protocol: what the rollout engine asks of any policy.

A policy turns chat requests into completions, asynchronously and in batches.  Backends that can
(vLLM, HF transformers) return the sampled token ids and their logprobs; others leave them None.
Scripted policies (oracle, random) may read ``Request.info``, the env's reset info, which a
learned policy must ignore.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


class SamplingParams(BaseModel):
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    stop: list[str] | None = None
    seed: int | None = None


class Request(BaseModel):
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI-format tool specs
    info: dict[str, Any] = Field(default_factory=dict)  # env reset info; for scripted policies only


class Completion(BaseModel):
    text: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: Literal["stop", "length", "error"] = "stop"


@runtime_checkable
class Policy(Protocol):
    name: str

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        """One completion per request, in order."""
        ...
