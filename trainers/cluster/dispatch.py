"""Dispatch from one shared queue to Ray rollout workers, with deadlines, retries and replacement.

:meth:`Dispatcher.run` hands out episodes one at a time to whichever ready worker has a free slot
(``concurrency`` episodes in flight per worker), so a straggler holds only its own episode, never a
step's share.  The guarantees:

* exactly one trajectory per requested episode, returned in the episodes' order (``on_done`` is
  called once per episode, with its final trajectory, as it lands);
* every wait has a deadline: an episode try gets ``episode_timeout`` seconds (then it is cancelled on
  its worker), a worker ``start_timeout`` seconds to come up (then it is killed and replaced), and
  queued episodes with no worker able to take them fail after ``start_timeout``;
* an episode whose worker died (``RayActorError``: killed, crashed, its node gone) or whose try timed
  out goes back to the front of the queue with the same :class:`agents.rollout.Episode` (same seed),
  up to ``max_retries`` times; after that it is a ``failed`` trajectory whose ``error`` starts with
  ``"timeout"`` or ``"worker died"``.  An episode's own faults (an env that raises, a policy server
  that stays down) come back as the worker's trajectory and are not retried here;
* a dead worker is replaced at once (so is one with ``concurrency + 4`` timed-out tries, whose env
  threads may be stuck and would starve its thread pool); nothing raises out of :meth:`run` for an
  episode's sake.

:attr:`Dispatcher.stats` holds the last run's figures (episodes/s, retries, timeouts, deaths, and
each worker's utilisation: its episode-seconds over wall time × concurrency).
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from trainers.cluster.worker import EnvSpec, PolicySpec, RolloutWorker, failed_trajectory

POLL = 0.5  # longest single ray.wait: deadlines are checked at least this often


@dataclass
class _Slot:
    index: int
    handle: Any = None
    generation: int = 0
    ready: bool = False
    ready_ref: Any = None
    started: float = 0.0
    node_id: str = ""
    timeouts: int = 0  # tries of this generation that timed out
    busy: float = 0.0  # episode-seconds this run


@dataclass
class _Flight:
    index: int
    slot: int
    generation: int
    t0: float


@dataclass
class _Run:
    episodes: Sequence[Episode]
    sampling: SamplingParams
    state: dict[str, Any] | None
    on_done: Callable[[Trajectory], None] | None
    results: list[Trajectory | None]
    attempts: list[int]
    queue: deque = field(default_factory=deque)
    starved_since: float | None = None


class Dispatcher:
    def __init__(self, env: EnvSpec, policy: PolicySpec, *, workers: int, concurrency: int, episode_timeout: float,
                 max_retries: int, start_timeout: float, actor_options: dict[str, Any] | None = None):
        self.env, self.policy = env, policy
        self.concurrency, self.episode_timeout, self.max_retries = concurrency, episode_timeout, max_retries
        self.start_timeout = start_timeout
        self.actor_options = {"max_concurrency": concurrency + 4, "scheduling_strategy": "SPREAD", **(actor_options or {})}
        self._remote = ray.remote(RolloutWorker)
        self.slots = [_Slot(i) for i in range(workers)]
        self.flights: dict[Any, _Flight] = {}
        self.stats: dict[str, float] = {}
        self.deaths = 0
        self.closed = False
        for slot in self.slots:
            self._spawn(slot)

    # -- workers ----------------------------------------------------------------------------
    def _spawn(self, slot: _Slot) -> None:
        slot.generation += 1
        slot.handle = self._remote.options(**self.actor_options).remote(self.env, self.policy, self.concurrency)
        slot.ready, slot.ready_ref, slot.started, slot.timeouts, slot.node_id = False, slot.handle.ready.remote(), time.monotonic(), 0, ""

    def _replace(self, slot: _Slot, reason: str, run: _Run | None) -> None:
        """Kill ``slot``'s worker (if still there), requeue its episodes in flight, start a new one."""
        self.deaths += 1
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001  (already gone)
            pass
        for ref, f in list(self.flights.items()):
            if f.slot == slot.index:
                del self.flights[ref]
                if run is not None:
                    slot.busy += time.monotonic() - f.t0
                    self._retry(run, f.index, reason)
        self._spawn(slot)

    def wait_ready(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """Block until every worker is up; raises :class:`RuntimeError` naming a worker that cannot start."""
        from trainers.cluster.nodes import ClusterError

        deadline = time.monotonic() + (timeout or self.start_timeout)
        infos = []
        for slot in self.slots:
            if slot.ready:
                infos.append({"node_id": slot.node_id})
                continue
            try:
                info = ray.get(slot.ready_ref, timeout=max(0.0, deadline - time.monotonic()))
            except GetTimeoutError:
                raise ClusterError(f"rollout worker {slot.index} did not start within {timeout or self.start_timeout:g}s "
                                   f"(no node with the resources it requests: {self._request()}?)") from None
            except RayError as e:
                raise ClusterError(f"rollout worker {slot.index} failed to start: {_reason(e)}") from None
            slot.ready, slot.ready_ref, slot.node_id = True, None, info["node_id"]
            infos.append(info)
        return infos

    def _request(self) -> dict[str, Any]:
        return {k: self.actor_options[k] for k in ("num_cpus", "memory", "resources") if k in self.actor_options}

    # -- one batch of episodes ------------------------------------------------------------------
    def run(self, episodes: Sequence[Episode], sampling: SamplingParams, state: dict[str, Any] | None = None,
            on_done: Callable[[Trajectory], None] | None = None) -> list[Trajectory]:
        """Play ``episodes``; ``state`` goes with each dispatch to the worker's policy (its ``policy_version``)."""
        run = _Run(episodes, sampling, state, on_done, [None] * len(episodes), [0] * len(episodes),
                   deque(range(len(episodes))))
        t_start = time.monotonic()
        counters = {"retried": 0, "timed_out": 0}
        self._counters = counters
        deaths0 = self.deaths
        for slot in self.slots:
            slot.busy = 0.0
        while any(r is None for r in run.results):
            now = time.monotonic()
            self._expire(run, now)
            self._dispatch(run, now)
            refs = list(self.flights) + [s.ready_ref for s in self.slots if s.ready_ref is not None]
            waits = [POLL] + [f.t0 + self.episode_timeout - now for f in self.flights.values()] + \
                    [s.started + self.start_timeout - now for s in self.slots if not s.ready]
            if not refs:
                time.sleep(max(0.0, min(waits)))
                continue
            done, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, min(waits)))
            if done:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                self._landed(run, ref)
        wall = max(time.monotonic() - t_start, 1e-9)
        util = [s.busy / (wall * self.concurrency) for s in self.slots]
        self.stats = {"episodes": len(episodes), "seconds": wall, "episodes_per_s": len(episodes) / wall,
                      "retried": counters["retried"], "timed_out": counters["timed_out"], "worker_deaths": self.deaths - deaths0,
                      "failed": sum(bool(t.failed) for t in run.results if t is not None),
                      "util_mean": sum(util) / len(util), "util_min": min(util), "util_max": max(util)}
        self.stats.update({f"util/{i}": u for i, u in enumerate(util)})
        return list(run.results)  # type: ignore[arg-type]

    def _dispatch(self, run: _Run, now: float) -> None:
        load = {s.index: 0 for s in self.slots}
        for f in self.flights.values():
            load[f.slot] += 1
        ready = [s for s in self.slots if s.ready]
        if run.queue and not ready:
            run.starved_since = run.starved_since or now
            if now - run.starved_since > self.start_timeout:  # no worker could take them: they fail, the step goes on
                while run.queue:
                    i = run.queue.popleft()
                    self._finish(run, i, failed_trajectory(run.episodes[i], self.env.env_id, self.env.split,
                                                           f"worker died: no rollout worker up for {self.start_timeout:g}s"))
            return
        run.starved_since = None
        while run.queue:
            slot = min(ready, key=lambda s: load[s.index])
            if load[slot.index] >= self.concurrency:
                return
            i = run.queue.popleft()
            ref = slot.handle.play.remote(run.episodes[i], run.sampling, run.state)
            self.flights[ref] = _Flight(i, slot.index, slot.generation, now)
            load[slot.index] += 1

    def _expire(self, run: _Run, now: float) -> None:
        for slot in self.slots:
            if not slot.ready and now - slot.started > self.start_timeout:
                self._replace(slot, "worker died: did not start in time", run)
        for ref, f in list(self.flights.items()):
            if now - f.t0 < self.episode_timeout:
                continue
            del self.flights[ref]
            slot = self.slots[f.slot]
            slot.busy += now - f.t0
            try:
                ray.cancel(ref)  # the worker drops the episode (and never reuses its env)
            except Exception:  # noqa: BLE001  (its worker is gone: nothing to cancel)
                pass
            self._counters["timed_out"] += 1
            self._retry(run, f.index, f"timeout: no result within {self.episode_timeout:g}s")
            if f.generation == slot.generation:
                slot.timeouts += 1
                if slot.timeouts >= self.concurrency + 4:  # stuck env threads would soon starve its executor: start afresh
                    self._replace(slot, "worker died: recycled after its episodes timed out", run)

    def _landed(self, run: _Run, ref: Any) -> None:
        slot = next((s for s in self.slots if s.ready_ref is not None and s.ready_ref == ref), None)
        if slot is not None:
            try:
                slot.node_id = ray.get(ref)["node_id"]
                slot.ready, slot.ready_ref = True, None
            except RayError as e:
                self._replace(slot, f"worker died: {_reason(e)}", run)
            return
        f = self.flights.pop(ref, None)
        if f is None:  # its worker was replaced meanwhile: the episode is already requeued
            return
        slot = self.slots[f.slot]
        slot.busy += time.monotonic() - f.t0
        try:
            traj = ray.get(ref)
        except RayActorError as e:
            if f.generation == slot.generation:
                self._replace(slot, f"worker died: {_reason(e)}", run)
            self._retry(run, f.index, f"worker died: {_reason(e)}")
            return
        except RayTaskError as e:
            self._retry(run, f.index, f"worker error: {_reason(e)}")
            return
        except RayError as e:  # an object or its owner lost with the node
            self._retry(run, f.index, f"worker died: {_reason(e)}")
            return
        self._finish(run, f.index, traj)

    def _retry(self, run: _Run, i: int, reason: str) -> None:
        if run.results[i] is not None:
            return
        run.attempts[i] += 1
        if run.attempts[i] > self.max_retries:
            tries = run.attempts[i]
            self._finish(run, i, failed_trajectory(run.episodes[i], self.env.env_id, self.env.split,
                                                   f"{reason} ({tries} {'try' if tries == 1 else 'tries'})"))
            return
        self._counters["retried"] += 1
        run.queue.appendleft(i)  # retries first: the step waits on them

    def _finish(self, run: _Run, i: int, traj: Trajectory) -> None:
        run.results[i] = traj
        if run.on_done is not None:
            try:
                run.on_done(traj)
            except Exception as e:  # a progress callback must not cost the batch its trajectories
                warnings.warn(f"cluster on_done callback raised {type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)

    # -- shutting down ----------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Close every worker's envs (``timeout`` in all), then kill the actors."""
        if self.closed:
            return
        self.closed = True
        refs = [s.handle.close.remote() for s in self.slots if s.ready]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=timeout)
        for slot in self.slots:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        self.flights.clear()


def _reason(e: BaseException) -> str:
    """A one-line reason from a Ray error: a task error's cause, an actor's ``__init__`` error, or the
    first and last lines of a death notice (what happened and why)."""
    import re

    cause = getattr(e, "cause", None) if isinstance(e, RayTaskError) else None
    if cause is not None:
        text = f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"
        return text[:300]
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(e).__name__
    if getattr(e, "actor_init_failed", False):
        return f"{type(e).__name__}: its __init__ raised {lines[-1]}"[:300]
    return f"{type(e).__name__}: {lines[0]}{' ' + lines[-1] if len(lines) > 1 else ''}"[:300]
