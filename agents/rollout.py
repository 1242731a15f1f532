"""The async rollout engine: many episodes in flight, each turned into a :class:`Trajectory`.

Episodes share a pool of envs (one per concurrent slot, reused across episodes).  Env steps run in
worker threads, so a slow tool (a sandbox, a big query) overlaps with other episodes' generation.
A policy call that fails is retried with backoff; after the last try the episode is returned with
``failed=True`` and the error, never dropped.

Token-level policies (:class:`agents.policy.TokenPolicy`, e.g. :class:`agents.vllm_policy.VLLMPolicy`)
get one :class:`agents.tokens.TokenConversation` per episode: each turn's request is the exact
token sequence so far, the sampled ids are appended verbatim and the observation ids after the
env step, so the trajectory carries token ids, logprobs and the loss mask.  Each turn records the
``policy_version`` that sampled it: the completion's stamp, else the policy's attribute read
before the call.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, Field

from agents.policy import Completion, Policy, Request, SamplingParams, TokenPolicy
from agents.tokens import ContextExhausted
from agents.trajectory import Trajectory, Turn


class Episode(BaseModel):
    task_id: str
    seed: int | None = None
    sample: int = 0


class RolloutConfig(BaseModel):
    concurrency: int = Field(32, ge=1)
    retries: int = Field(3, ge=1)  # tries per policy call, the first included
    retry_backoff: float = Field(0.5, ge=0)  # seconds, doubled per try
    sampling: SamplingParams = SamplingParams()
    request_timeout: float | None = Field(None, gt=0)  # seconds per policy call; a timeout is retried


async def rollout(
    make_env: Callable[[], gym.Env],
    policy: Policy,
    episodes: Sequence[Episode],
    config: RolloutConfig | None = None,
    env_id: str = "",
    on_done: Callable[[Trajectory], None] | None = None,
) -> list[Trajectory]:
    """Play ``episodes`` with ``policy``; trajectories come back in the order of ``episodes``."""
    config = config or RolloutConfig()
    pool: asyncio.Queue[gym.Env] = asyncio.Queue()
    for _ in range(min(config.concurrency, max(1, len(episodes)))):
        pool.put_nowait(make_env())

    async def run(ep: Episode) -> Trajectory:
        env = await pool.get()
        try:
            traj = await play_episode(env, policy, ep, config, env_id)
        finally:
            pool.put_nowait(env)
        if on_done:
            try:
                on_done(traj)
            except Exception as e:  # a progress callback must not cost the batch its trajectories
                warnings.warn(f"rollout on_done callback raised {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
        return traj

    try:
        return list(await asyncio.gather(*(run(ep) for ep in episodes)))
    finally:
        while not pool.empty():
            pool.get_nowait().close()


async def play_episode(env: gym.Env, policy: Policy, ep: Episode, config: RolloutConfig, env_id: str = "") -> Trajectory:
    start = time.perf_counter()
    base = env.unwrapped
    policy_name = getattr(policy, "name", type(policy).__name__)
    try:
        obs, info = await asyncio.to_thread(env.reset, seed=ep.seed, options={"task": ep.task_id})
    except Exception as e:  # an unknown task id or a broken env: a failed record, not a lost batch
        return Trajectory(
            env_id=env_id, task_id=ep.task_id, split=getattr(base, "split", ""), seed=ep.seed, sample=ep.sample,
            policy=policy_name, messages=[],
            failed=True, error=f"env.reset raised {type(e).__name__}: {e}", finish_reason="error",
            wall_time=time.perf_counter() - start,
        )
    traj = Trajectory(
        env_id=env_id, task_id=ep.task_id, split=info.get("split", ""), seed=ep.seed, sample=ep.sample,
        policy=policy_name, messages=obs, reset_info=info,
    )
    tools = [spec.openai() for spec in base.toolbox.specs()] if hasattr(base, "toolbox") else []
    conv = None
    try:
        conv = policy.start_conversation(obs) if isinstance(policy, TokenPolicy) else None
    except Exception as e:
        traj.failed, traj.error = True, f"start_conversation raised {type(e).__name__}: {e}"
    if conv is not None:
        traj.prompt_ids = list(conv.prompt_ids)
    done = traj.failed
    while not done:
        sampling = config.sampling
        if ep.seed is not None and sampling.seed is None:  # a fresh, reproducible seed for every turn
            sampling = sampling.model_copy(update={"seed": (ep.seed * 1000 + ep.sample) * 100 + len(traj.turns)})
        if conv is not None:
            call = lambda: policy.generate_tokens([conv], sampling)  # noqa: E731
        else:
            # The reset info holds the answer: only a policy that declares itself privileged (the oracle) sees it.
            request = Request(messages=traj.conversation(), tools=tools, info=info if getattr(policy, "privileged", False) else {})
            call = lambda: policy.generate([request], sampling)  # noqa: E731
        version = getattr(policy, "policy_version", None)  # a completion's own stamp wins (see below)
        try:
            completion = await _generate_with_retry(call, config)
        except ContextExhausted:
            traj.finish_reason = "length"
            break
        except Exception as e:
            traj.failed, traj.error = True, f"policy failed after {config.retries} tries: {type(e).__name__}: {e}"
            break
        action = completion.text
        if conv is not None:
            try:
                action = conv.add_completion(completion.token_ids or [], completion.logprobs, completion.finish_reason)
            except Exception as e:  # e.g. ids and logprobs of different lengths from a faulty backend
                traj.failed, traj.error = True, f"token bookkeeping failed: {type(e).__name__}: {e}"
                break
        try:
            obs, reward, terminated, truncated, step_info = await asyncio.to_thread(env.step, action)
        except Exception as e:  # an env bug: keep the episode, marked, so it is seen and not averaged in
            traj.failed, traj.error = True, f"env.step raised {type(e).__name__}: {e}"
            break
        done = terminated or truncated
        try:
            observation_ids = conv.add_observation(obs, final=done) if conv is not None else None
        except Exception as e:  # e.g. a chat template that re-renders earlier turns: no exact tokens
            traj.failed, traj.error = True, f"token bookkeeping failed: {type(e).__name__}: {e}"
            break
        traj.turns.append(
            Turn(
                action=action, observation=obs, reward=float(reward), terminated=terminated,
                truncated=truncated, info=step_info, token_ids=completion.token_ids,
                logprobs=completion.logprobs, finish_reason=completion.finish_reason, observation_ids=observation_ids,
                policy_version=completion.policy_version if completion.policy_version is not None else version,
            )
        )
        if done:
            traj.finish_reason = "stop" if terminated else "max_turns"
    if traj.failed:
        traj.finish_reason = "error"
    traj.wall_time = time.perf_counter() - start
    return traj


async def _generate_with_retry(call: Callable[[], Awaitable[list[Completion]]], config: RolloutConfig) -> Completion:
    delay = config.retry_backoff
    for attempt in range(config.retries):
        try:
            (completion,) = await asyncio.wait_for(call(), config.request_timeout)
            return completion
        except ContextExhausted:
            raise
        except Exception:
            if attempt == config.retries - 1:
                raise
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def replay(env: gym.Env, traj: Trajectory) -> list[dict[str, Any]]:
    """Re-run a trajectory's actions; returns the turns whose observation or reward differ."""
    obs, _ = env.reset(seed=traj.seed, options={"task": traj.task_id})
    diffs = []
    if obs != traj.messages:
        diffs.append({"turn": -1, "expected": traj.messages, "got": obs})
    for i, turn in enumerate(traj.turns):
        obs, reward, terminated, truncated, _ = env.step(turn.action)
        if (obs, reward, terminated, truncated) != (turn.observation, turn.reward, turn.terminated, turn.truncated):
            diffs.append({"turn": i, "expected": turn.observation, "got": obs, "reward": reward})
    return diffs
