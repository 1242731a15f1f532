"""The rollout worker: an async Ray actor that plays episodes of one env with a policy it builds itself.

This module does not import Ray (the driver wraps :class:`RolloutWorker` with ``ray.remote``), so it
is importable, and testable, anywhere.

* The env is rebuilt in the worker from its id (:class:`EnvSpec`: ``envs.make(env_id, split=...,
  **kwargs)``): the registry is importable on every node, and plugin envs load through their entry
  points; ``imports`` names modules that register envs some other way (a test's env).
* The policy is rebuilt from a :class:`PolicySpec` (``"module:attr"`` plus arguments): a
  ``VLLMPolicy(model_dir, url)`` in training, so every turn is token-exact and stamped; a
  scripted policy in ``turngym cluster check`` and the tests.  Each :meth:`RolloutWorker.play`
  carries the driver policy's state (``policy_version``; with LoRA the adapter's ``served_name``), set
  on the worker's policy before the episode starts.
* Envs are pooled (one per episode in flight, reused).  An episode cancelled by the driver (its
  deadline passed) may leave its env inside a stuck thread: that env is never reused, and is
  closed in the background.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agents.policy import SamplingParams
from agents.rollout import Episode, RolloutConfig, play_episode
from agents.trajectory import Trajectory

# What a family needs on its node when the config names no resources: a Docker engine (sandboxes),
# a Chromium (live browsers).  Nodes advertise them: ray start --resources='{"docker": 4}'.
FAMILY_RESOURCES: dict[str, dict[str, float]] = {"code": {"docker": 1.0}}
ENV_RESOURCES: dict[str, dict[str, float]] = {"turngym/GUI-v0": {"chromium": 1.0}, "turngym/MiniWoB-v0": {"chromium": 1.0}}


@dataclass(frozen=True)
class EnvSpec:
    """How a worker builds its env: ``envs.make(env_id, split=split, **kwargs)`` after importing ``imports``."""

    env_id: str
    split: str = "train"
    kwargs: dict[str, Any] = field(default_factory=dict)
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicySpec:
    """A policy built in the worker: ``resolve(target)(*args, **kwargs)``; ``target`` is ``"module:attr"``."""

    target: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        from envs.registry import resolve

        return resolve(self.target)(*self.args, **self.kwargs)


def worker_resources(env_id: str, configured: dict[str, float] | None = None) -> dict[str, float]:
    """The custom resources a worker of ``env_id`` requests: ``configured`` when given; else what the env
    class declares (a ``cluster_resources`` class attribute); else this module's table by env id and family."""
    if configured is not None:
        return dict(configured)
    from envs.registry import entry, resolve

    found = entry(env_id)
    try:
        declared = getattr(resolve(found.entry_point), "cluster_resources", None)
    except Exception:  # noqa: BLE001  (an optional dependency missing here: fall back to the table)
        declared = None
    if declared is not None:
        return dict(declared)
    return dict(ENV_RESOURCES.get(found.id) or FAMILY_RESOURCES.get(found.family() or "", {}))


def failed_trajectory(ep: Episode, env_id: str, split: str, error: str, policy: str = "", wall_time: float = 0.0) -> Trajectory:
    """The record of an episode that produced nothing: ``failed`` (infrastructure), with the reason."""
    return Trajectory(env_id=env_id, task_id=ep.task_id, split=split, seed=ep.seed, sample=ep.sample, policy=policy,
                      messages=[], failed=True, error=error, finish_reason="error", wall_time=wall_time)


class RolloutWorker:
    """Plays episodes handed to it one at a time (many at once: an async actor with ``max_concurrency``)."""

    def __init__(self, env: EnvSpec, policy: PolicySpec, concurrency: int = 8):
        for module in env.imports:
            importlib.import_module(module)
        self.env_spec = env
        self.policy = policy.build()
        self.policy_name = getattr(self.policy, "name", type(self.policy).__name__)
        self.concurrency = concurrency
        self.pool: list[Any] = []
        self.played = 0
        self.abandoned = 0  # envs left to a thread that outlived its episode's deadline
        self._executor: ThreadPoolExecutor | None = None

    def _loop_setup(self) -> None:
        """Env calls (``asyncio.to_thread``) get a pool as large as the episodes in flight, plus spares
        for threads stuck in an env the driver gave up on (the default pool is min(32, CPUs + 4))."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2 * self.concurrency + 4, thread_name_prefix="env")
            asyncio.get_running_loop().set_default_executor(self._executor)

    async def ready(self) -> dict[str, Any]:
        """Where this worker runs (the driver waits for it before handing out episodes)."""
        self._loop_setup()
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "host": os.uname().nodename}

    def _make_env(self) -> Any:
        from envs import make

        return make(self.env_spec.env_id, split=self.env_spec.split, **self.env_spec.kwargs)

    async def play(self, episode: Episode, sampling: SamplingParams, state: dict[str, Any] | None = None) -> Trajectory:
        """One episode with today's rollout; its own faults are in the trajectory, never raised.  ``state``:
        policy attributes to set first (the driver's ``policy_version``, the served adapter's name)."""
        self._loop_setup()
        start = time.perf_counter()
        for key, value in (state or {}).items():
            if hasattr(self.policy, key):
                setattr(self.policy, key, value)
        try:
            env = self.pool.pop() if self.pool else await asyncio.to_thread(self._make_env)
        except Exception as e:  # noqa: BLE001  (a broken env or a missing service: a failed record)
            return failed_trajectory(episode, self.env_spec.env_id, self.env_spec.split,
                                     f"env construction raised {type(e).__name__}: {e}", self.policy_name,
                                     time.perf_counter() - start)
        try:
            traj = await play_episode(env, self.policy, episode, RolloutConfig(sampling=sampling), self.env_spec.env_id)
        except BaseException:  # cancelled (deadline): the env may still be inside a thread; never reuse it
            self.abandoned += 1
            threading.Thread(target=_close_quietly, args=(env,), daemon=True).start()
            raise
        self.pool.append(env)
        self.played += 1
        return traj

    async def stats(self) -> dict[str, Any]:
        return {"played": self.played, "pooled_envs": len(self.pool), "abandoned_envs": self.abandoned, "pid": os.getpid()}

    async def close(self) -> None:
        """Close the envs, then stop this process's env services (a sandbox pool's warm containers, a browser):
        they would linger until exit, and the driver kills the actor next, so no exit handler runs."""
        while self.pool:
            _close_quietly(self.pool.pop())
        from envs import services

        await asyncio.to_thread(services.stop_all)


def _close_quietly(env: Any) -> None:
    try:
        env.close()
    except Exception:  # noqa: BLE001  (closing is best effort)
        pass
