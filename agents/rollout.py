"""The async rollout engine: many episodes in flight, each turned into a :class:`Trajectory`.

Episodes share a pool of envs (one per concurrent slot, reused across episodes).  Env steps run in
worker threads, so a slow tool (a sandbox, a big query) overlaps with other episodes' generation.
A policy call that fails is retried with backoff; after the last try the episode is returned with
``failed=True`` and the error, never dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
from pydantic import BaseModel

from agents.policy import Policy, Request, SamplingParams
from agents.trajectory import Trajectory, Turn


class Episode(BaseModel):
    task_id: str
    seed: int | None = None
    sample: int = 0


class RolloutConfig(BaseModel):
    concurrency: int = 32
    retries: int = 3
    retry_backoff: float = 0.5  # seconds, doubled per try
    sampling: SamplingParams = SamplingParams()


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
            on_done(traj)
        return traj

    try:
        return list(await asyncio.gather(*(run(ep) for ep in episodes)))
    finally:
        while not pool.empty():
            pool.get_nowait().close()


async def play_episode(env: gym.Env, policy: Policy, ep: Episode, config: RolloutConfig, env_id: str = "") -> Trajectory:
    start = time.perf_counter()
    base = env.unwrapped
    obs, info = await asyncio.to_thread(env.reset, seed=ep.seed, options={"task": ep.task_id})
    traj = Trajectory(
        env_id=env_id, task_id=ep.task_id, split=info.get("split", ""), seed=ep.seed, sample=ep.sample,
        policy=getattr(policy, "name", type(policy).__name__), messages=obs, reset_info=info,
    )
    tools = [spec.openai() for spec in base.toolbox.specs()] if hasattr(base, "toolbox") else []
    sampling = config.sampling
    if ep.seed is not None and sampling.seed is None:
        sampling = sampling.model_copy(update={"seed": ep.seed * 1000 + ep.sample})
    done = False
    while not done:
        request = Request(messages=traj.conversation(), tools=tools, info=info)
        try:
            completion = await _generate_with_retry(policy, request, sampling, config)
        except Exception as e:
            traj.failed, traj.error = True, f"policy failed after {config.retries} tries: {type(e).__name__}: {e}"
            break
        try:
            obs, reward, terminated, truncated, step_info = await asyncio.to_thread(env.step, completion.text)
        except Exception as e:  # an env bug: keep the episode, marked, so it is seen and not averaged in
            traj.failed, traj.error = True, f"env.step raised {type(e).__name__}: {e}"
            break
        traj.turns.append(
            Turn(
                action=completion.text, observation=obs, reward=float(reward), terminated=terminated,
                truncated=truncated, info=step_info, token_ids=completion.token_ids,
                logprobs=completion.logprobs, finish_reason=completion.finish_reason,
            )
        )
        done = terminated or truncated
    traj.wall_time = time.perf_counter() - start
    return traj


async def _generate_with_retry(policy: Policy, request: Request, sampling: SamplingParams, config: RolloutConfig):
    delay = config.retry_backoff
    for attempt in range(config.retries):
        try:
            (completion,) = await policy.generate([request], sampling)
            return completion
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
