"""A policy served by any OpenAI-compatible endpoint (vLLM, OpenAI, ...), for evaluation.

Tools are passed both in the system prompt (by the env) and as ``tools=`` when the server
supports them; structured ``tool_calls`` in the reply are turned back into Hermes text so the
env parses every backend the same way.

Message content may be a string or OpenAI content parts; images go to the server as data URLs
(``file://`` references are read and inlined: the server cannot read this machine's files).
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import openai

from agents.policy import Completion, Request, SamplingParams
from tools.content import to_data_url


class OpenAIPolicy:
    def __init__(
        self, model: str, base_url: str | None = None, api_key: str | None = None, native_tools: bool = False,
        timeout: float = 120.0, http_client: httpx.AsyncClient | None = None,
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
            name, arguments = json.dumps(tc.function.name), tc.function.arguments or "{}"
            text += f'<tool_call>{{"name": {name}, "arguments": {arguments}}}</tool_call>'
        return Completion(text=text, finish_reason="length" if choice.finish_reason == "length" else "stop")


def _wire(message: dict) -> dict:
    """Tool results go back as user messages: a plain chat server has no tool_call ids to link."""
    content = message["content"]
    if isinstance(content, list):
        content = [_wire_part(p) for p in content]
    if message.get("role") == "tool":
        label = f"[{message.get('name', 'tool')} result]\n"
        if isinstance(content, list):
            return {"role": "user", "content": [{"type": "text", "text": label}, *content]}
        return {"role": "user", "content": label + content}
    return {"role": message["role"], "content": content}


def _wire_part(part: dict) -> dict:
    if part.get("type") == "image_url":
        image = dict(part["image_url"])
        image["url"] = to_data_url(image["url"])
        return {"type": "image_url", "image_url": image}
    return part
