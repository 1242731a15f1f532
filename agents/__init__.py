"""Agents: the Policy protocol, policies, and the async rollout engine."""

from __future__ import annotations

import re

from agents.policy import Completion, Policy, Request, SamplingParams, TokenPolicy
from agents.rollout import Episode, RolloutConfig, replay, rollout
from agents.scripted import OraclePolicy, RandomPolicy, register_oracle
from agents.trajectory import Trajectory, Turn, read_jsonl, write_jsonl

_OPENAI_SPEC = re.compile(r"^openai:(?P<model>[^@]+)(?:@(?P<url>.+))?$")
_VLLM_SPEC = re.compile(r"^vllm:(?P<model>[^@]+)(?:@(?P<url>.+))?$")
_HF_SPEC = re.compile(r"^hf:(?P<model>.+)$")


def make_policy(spec: str, seed: int = 0) -> Policy:
    """A policy from a spec: ``oracle``, ``random``, ``openai:MODEL[@BASE_URL]``, ``vllm:MODEL@URL``
    (token-level, on a running vLLM server; MODEL is the served model's folder or ``smollm2``/``tiny``,
    whose tokenizer renders the chat) or ``hf:MODEL`` (token-level, local transformers)."""
    if spec == "oracle":
        return OraclePolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    if spec in ("answer-only", "search-only"):  # Search-v0 baselines
        from agents.oracle_search import make_search_baseline

        return make_search_baseline(spec)
    m = _OPENAI_SPEC.match(spec)
    if m:
        from agents.openai_policy import OpenAIPolicy

        return OpenAIPolicy(m.group("model"), base_url=m.group("url"))
    m = _VLLM_SPEC.match(spec)
    if m:
        if not m.group("url"):
            raise ValueError(f"{spec!r} needs the server's URL: vllm:MODEL@URL (start one with 'turngym serve MODEL')")
        from agents.vllm_policy import VLLMPolicy

        try:
            return VLLMPolicy(m.group("model"), m.group("url"))
        except ImportError as e:
            raise ValueError(f"vllm: policies need transformers here (the [train] extra): {e}") from e
        except (FileNotFoundError, OSError) as e:
            raise ValueError(str(e)) from e
    m = _HF_SPEC.match(spec)
    if m:
        from agents.hf_policy import HFPolicy

        try:
            return HFPolicy(m.group("model"))
        except ImportError as e:
            raise ValueError(f"hf: policies need torch and transformers (the [train] extra): {e}") from e
        except (FileNotFoundError, OSError) as e:
            raise ValueError(str(e)) from e
    raise ValueError(
        f"unknown policy {spec!r}: use 'oracle', 'random', 'openai:MODEL@URL', 'vllm:MODEL@URL' or 'hf:MODEL'"
    )


__all__ = [
    "Completion", "Episode", "OraclePolicy", "Policy", "RandomPolicy", "Request", "RolloutConfig", "SamplingParams",
    "TokenPolicy", "Trajectory", "Turn", "make_policy", "read_jsonl", "register_oracle", "replay", "rollout", "write_jsonl",
]
