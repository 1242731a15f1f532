"""Agents: the Policy protocol, policies, and the async rollout engine."""

from __future__ import annotations

import re

from agents.policy import Completion, Policy, Request, SamplingParams
from agents.rollout import Episode, RolloutConfig, replay, rollout
from agents.scripted import OraclePolicy, RandomPolicy, register_oracle
from agents.trajectory import Trajectory, Turn, read_jsonl, write_jsonl

_OPENAI_SPEC = re.compile(r"^openai:(?P<model>[^@]+)(?:@(?P<url>.+))?$")


def make_policy(spec: str, seed: int = 0) -> Policy:
    """A policy from a spec: ``oracle``, ``random`` or ``openai:MODEL[@BASE_URL]``."""
    if spec == "oracle":
        return OraclePolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    m = _OPENAI_SPEC.match(spec)
    if m:
        from agents.openai_policy import OpenAIPolicy

        return OpenAIPolicy(m.group("model"), base_url=m.group("url"))
    raise ValueError(f"unknown policy {spec!r}: use 'oracle', 'random' or 'openai:MODEL@URL'")


__all__ = [
    "Completion", "Episode", "OraclePolicy", "Policy", "RandomPolicy", "Request", "RolloutConfig", "SamplingParams",
    "Trajectory", "Turn", "make_policy", "read_jsonl", "register_oracle", "replay", "rollout", "write_jsonl",
]
