"""The async rollout engine: many episodes in flight, each turned into a :class:`Trajectory`.

Episodes share a pool of envs (one per concurrent slot, reused across episodes).  Env steps run in
worker threads, so a slow tool (a sandbox, a big query) overlaps with other episodes' generation.

An episode cut short is returned, never dropped, and says why (:mod:`agents.failures` decides
which kind it is):

* an infrastructure fault (a policy server that stays unreachable or times out through every
  retry with backoff, an env that raises, a first observation the template refuses): ``failed=True``,
  ``finish_reason="error"`` and ``error``; the trainer leaves it out of the update;
* the policy's own doing: the context is full (``finish_reason="length"``) or the template cannot
  render the conversation it produced (``"unrenderable"``; the turn that was sampled and stepped
  stays, with its reward, and empty ``observation_ids`` since nothing follows it).  Not failed:
  it keeps the reward it earned and is trained on; ``error`` says what happened.

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

from agents.failures import end_reason, is_infrastructure_error
from agents.policy import Completion, Policy, Request, SamplingParams, TokenPolicy
from agents.seeds import turn_seed
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
    except Exception as e:  # refused before the policy sampled anything: not a sample of it
        traj.failed, traj.error = True, f"start_conversation raised {type(e).__name__}: {e}"
    if conv is not None:
        traj.prompt_ids = list(conv.prompt_ids)
    done = traj.failed
    while not done:
        sampling = config.sampling
        if ep.seed is not None and sampling.seed is None:  # a fresh, reproducible seed for every turn
            sampling = sampling.model_copy(update={"seed": turn_seed(ep.seed, ep.sample, len(traj.turns))})
        if conv is not None:
            call = lambda: policy.generate_tokens([conv], sampling)  # noqa: E731
        else:
            # The reset info holds the answer: only a policy that declares itself privileged (the oracle) sees it.
            request = Request(messages=traj.conversation(), tools=tools, info=info if getattr(policy, "privileged", False) else {})
            call = lambda: policy.generate([request], sampling)  # noqa: E731
        version = getattr(policy, "policy_version", None)  # a completion's own stamp wins (see below)
        try:
            completion = await _generate_with_retry(call, config)
        except Exception as e:  # a full context ends the episode; a server that stays down fails it
            _cut_short(traj, e, f"policy failed after {config.retries} tries" if is_infrastructure_error(e) else "generation stopped")
            break
        action = completion.text
        if conv is not None:
            try:
                action = conv.add_completion(completion.token_ids or [], completion.logprobs, completion.finish_reason)
            except Exception as e:  # e.g. ids and logprobs of different lengths from a faulty backend
                _cut_short(traj, e, "token bookkeeping failed")
                break
        try:
            obs, reward, terminated, truncated, step_info = await asyncio.to_thread(env.step, action)
        except Exception as e:  # an env bug: keep the episode, marked, so it is seen and not averaged in
            traj.failed, traj.error = True, f"env.step raised {type(e).__name__}: {e}"
            break
        done = terminated or truncated
        unrenderable = None
        try:
            observation_ids = conv.add_observation(obs, final=done) if conv is not None else None
        except Exception as e:  # e.g. a chat template that re-renders the policy's earlier turns differently
            if is_infrastructure_error(e):
                _cut_short(traj, e, "token bookkeeping failed")
                break
            unrenderable, observation_ids = e, []  # the turn was sampled and stepped: it stays; nothing follows it
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
        if unrenderable is not None:  # the env's own end (done) stands; otherwise the policy's
            _cut_short(traj, unrenderable, "the observation could not be rendered", keep_reason=done)
            break
    if traj.failed:
        traj.finish_reason = "error"
    traj.wall_time = time.perf_counter() - start
    return traj


def _cut_short(traj: Trajectory, exc: BaseException, what: str, keep_reason: bool = False) -> None:
    """Record why ``exc`` ended the episode: failed (infrastructure) or ended by the policy (``end_reason``)."""
    traj.error = f"{what}: {type(exc).__name__}: {exc}"
    if is_infrastructure_error(exc):
        traj.failed = True
    elif not keep_reason:
        traj.finish_reason = end_reason(exc)


async def _generate_with_retry(call: Callable[[], Awaitable[list[Completion]]], config: RolloutConfig) -> Completion:
    delay = config.retry_backoff
    for attempt in range(config.retries):
        try:
            (completion,) = await asyncio.wait_for(call(), config.request_timeout)
            return completion
        except Exception as e:
            if not is_infrastructure_error(e) or attempt == config.retries - 1:
                raise  # the policy's own doing (a full context) would only fail again
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
