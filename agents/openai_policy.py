"""A policy served by any OpenAI-compatible endpoint (vLLM, OpenAI, ...), for evaluation.

Tools are passed both in the system prompt (by the env) and as ``tools=`` when the server
supports them; structured ``tool_calls`` in the reply are turned back into Hermes text so the
env parses every backend the same way.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import openai

from agents.policy import Completion, Request, SamplingParams


class OpenAIPolicy:
    def __init__(
        self, model: str, base_url: str | None = None, api_key: str | None = None, native_tools: bool = False, timeout: float = 120.0,
        http_client: httpx.AsyncClient | None = None,
    ):
        self.model = model
        self.name = f"openai:{model}"
        self.native_tools = native_tools
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY", timeout=timeout, max_retries=2,
            http_client=http_client,
        )

    async def generate(self, requests: list[Request], sampling: SamplingParams) -> list[Completion]:
        return list(await asyncio.gather(*(self._one(r, sampling) for r in requests)))

    async def _one(self, req: Request, sampling: SamplingParams) -> Completion:
        extra = {"tools": req.tools} if self.native_tools and req.tools else {}
        extra.update({k: v for k, v in (("stop", sampling.stop), ("seed", sampling.seed)) if v is not None})
        resp = await self.client.chat.completions.create(
            model=self.model,
            messages=[_wire(m) for m in req.messages],
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            **extra,
        )
        choice = resp.choices[0]
        text = choice.message.content or ""
        for tc in choice.message.tool_calls or []:
            text += f'<tool_call>{{"name": {json.dumps(tc.function.name)}, "arguments": {tc.function.arguments or "{}"}}}</tool_call>'
        return Completion(text=text, finish_reason="length" if choice.finish_reason == "length" else "stop")


def _wire(message: dict) -> dict:
    """Tool results go back as user messages: a plain chat server has no tool_call ids to link."""
    if message.get("role") == "tool":
        return {"role": "user", "content": f"[{message.get('name', 'tool')} result]\n{message['content']}"}
    return {"role": message["role"], "content": message["content"]}
