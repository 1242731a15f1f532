"""Agents: the Policy protocol, policies, and the async rollout engine."""

from __future__ import annotations

import re

from agents.policy import Completion, Policy, Request, SamplingParams, TokenPolicy
from agents.rollout import Episode, RolloutConfig, replay, rollout
from agents.scripted import OraclePolicy, RandomPolicy, ScriptedPolicy
from agents.trajectory import Trajectory, Turn, read_jsonl, write_jsonl
from envs.registry import Player, baseline, oracle_for, registered
from envs.registry import removed as _removed
from envs.registry import entry as entry_of

_OPENAI_SPEC = re.compile(r"^openai:(?P<model>[^@]+)(?:@(?P<url>.+))?$")
_VLLM_SPEC = re.compile(r"^vllm:(?P<model>[^@]+)(?:@(?P<url>.+))?$")
_HF_SPEC = re.compile(r"^hf:(?P<model>.+)$")


def make_policy(spec: str, seed: int = 0, env: str | None = None) -> Policy:
    """A policy from a spec: ``oracle``, ``random``, a baseline the env registers (e.g. Search-v0's
    ``answer-only``), ``openai:MODEL[@BASE_URL]``, ``vllm:MODEL@URL`` (token-level, on a running vLLM
    server; MODEL is the served model's folder or ``smollm2``/``tiny``, whose tokenizer renders the chat)
    or ``hf:MODEL`` (token-level, local transformers).

    ``env`` (an env id) picks the oracle and baselines registered with that env; without it the
    oracle follows each episode's env family and a baseline name must belong to one env only."""
    if spec == "oracle":
        try:
            return OraclePolicy(oracle_for(env) if env else None)
        except LookupError as e:  # KeyError (unknown env) included
            raise ValueError(e.args[0] if e.args else str(e)) from e
    if spec == "random":
        return RandomPolicy(seed=seed)
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
    return ScriptedPolicy(_baseline(spec, env))


def _baseline(spec: str, env: str | None) -> Player:
    """The baseline named ``spec`` of ``env``, or of the one registered env that has it."""
    owners = [env] if env else [e for e, entry in registered().items() if spec in entry.baselines]
    try:
        if len(owners) == 1 and spec in entry_of(owners[0]).baselines:
            return baseline(owners[0], spec)
    except KeyError as e:
        raise ValueError(e.args[0]) from e
    if len(owners) > 1:
        raise ValueError(f"several envs have a baseline {spec!r} ({', '.join(owners)}); name the env")
    named = "; ".join(f"{e}: {', '.join(sorted(x.baselines))}" for e, x in registered().items() if x.baselines)
    raise ValueError(
        f"unknown policy {spec!r}: use 'oracle', 'random', 'openai:MODEL@URL', 'vllm:MODEL@URL', 'hf:MODEL' "
        f"or a baseline an env registers ({named or 'none registered'})"
    )


__all__ = [
    "Completion", "Episode", "OraclePolicy", "Policy", "RandomPolicy", "Request", "RolloutConfig", "SamplingParams",
    "ScriptedPolicy", "TokenPolicy", "Trajectory", "Turn", "make_policy", "read_jsonl", "replay", "rollout", "write_jsonl",
]


def __getattr__(name: str):  # a removed name (register_oracle) fails naming its replacement
    return _removed(__name__, name)
