"""Rollout backends: where a run's episodes are sampled, and how the learner's weights get there.

A backend is the pair the loop needs from a sampler, behind one declared interface
(:class:`RolloutBackend`), so the loop never matches parts by attribute names and a new backend
(a vLLM fleet, Ray rollout workers) plugs in without touching the loop:

* :class:`InProcessRollout` (``rollout: hf``): an :class:`agents.hf_policy.HFPolicy` built on the
  learner's own module, wrapped in a :class:`trainers.lockstep.LockstepPolicy` so a run is
  reproducible; its sync is a version bump (:class:`trainers.sync.SharedModuleSync`).  The GPU
  path (the GPU machine has no vLLM).
* :class:`VLLMRollout` (``rollout: vllm``): a vLLM server at ``vllm_url``, or one this backend
  starts with the RL endpoints on (and stops in :meth:`close`); full-weight reload or LoRA
  hot-swap sync.  Several servers (``vllm_urls``, or ``vllm_servers: N`` started here in parallel):
  each episode sticks to one server, a new one goes to the least loaded
  (:class:`agents.vllm_policy.VLLMPolicy` over all the URLs), and every push reaches every server
  (:class:`trainers.sync_multi.MultiSync`).  With ``inference:`` set (and ``cluster:``), the servers are Ray
  actors on nodes that advertise a resource (:class:`trainers.cluster.inference.ServerFleet`, stopped by
  :meth:`close`); episodes are routed over their URLs as over given ones.  Pushes go through ``/dev/shm``,
  or through ``sync.shared_dir`` when servers run on other machines.

Both sample with ``max_model_len`` tokens of context, so an episode that runs out of context
ends the same way on either.  With ``cluster:`` set (and ``rollout: vllm``), episodes run on Ray
workers instead: :class:`trainers.cluster.backend.ClusterRollout` (Ray is imported only then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from trainers.lockstep import LockstepPolicy, lockstep_rollout
from trainers.sync import SharedModuleSync, VLLMLoraSync, VLLMReloadSync, WeightSync, training_server
from trainers.sync_multi import MultiSync


@runtime_checkable
class RolloutBackend(Protocol):
    """What the loop samples with.

    * ``policy``: the token policy episodes are played with; its ``policy_version`` stamps every turn.
    * ``sync``: the :class:`trainers.sync.WeightSync` that moves the learner's weights to ``policy``.
    * ``play(make_env, episodes, sampling, on_done)``: exactly one trajectory per episode, in order;
      an episode's own fault is recorded in its trajectory (``failed`` for infrastructure, scored
      otherwise), never raised.
    * ``take_stats()``: the backend's own metrics since the last call (e.g. ``cluster/episodes_per_s``),
      merged into the step's row; ``{}`` when it has none.
    * ``close()``: stops what the backend started (servers); safe to call twice.
    """

    policy: Any
    sync: WeightSync

    def play(self, make_env: Callable[[], Any], episodes: Sequence[Episode], sampling: SamplingParams,
             on_done: Callable[[Trajectory], None] | None = None, env_id: str = "") -> list[Trajectory]: ...

    def take_stats(self) -> dict[str, float]: ...

    def close(self) -> None: ...


class InProcessRollout:
    """HF rollouts on the learner's own module, in lockstep rounds (reproducible)."""

    def __init__(self, learner: Any, *, max_batch: int, max_model_len: int):
        from agents.hf_policy import HFPolicy

        inner = HFPolicy(learner.model_dir, model_obj=learner.model, device=learner.device, max_batch=max_batch,
                         max_model_len=max_model_len,
                         autocast="bfloat16" if learner.autocast else None)  # sample as the learner computes
        self.policy = LockstepPolicy(inner)
        self.sync: WeightSync = SharedModuleSync(inner)

    def play(self, make_env, episodes, sampling, on_done=None, env_id: str = "") -> list[Trajectory]:
        return lockstep_rollout(make_env, self.policy, episodes, sampling, env_id=env_id, on_done=on_done)

    def take_stats(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        self.sync.close()


class VLLMRollout:
    """Rollouts from vLLM servers: the ones at ``urls`` (or ``url``), or ``servers`` started here in parallel
    (stopped by :meth:`close`); with several, each episode sticks to one and every push reaches all."""

    def __init__(self, learner: Any, *, url: str | None, max_model_len: int, temperature: float, seed: int,
                 lora_rank: int | None = None, log_path: Path | None = None, console: Any = None, sync_timeout: float = 600.0,
                 urls: Sequence[str] | None = None, servers: int = 1, fleet: Any = None, shared_dir: str | None = None):
        """``fleet``: servers started elsewhere (Ray actors) whose ``urls`` this backend uses and ``close`` stops;
        ``shared_dir``: where pushes are written for servers on other machines (``sync.shared_dir``)."""
        from functools import partial

        from agents.vllm_policy import VLLMPolicy

        self.servers: list[Any] = []
        self.fleet = fleet
        given = list(fleet.urls) if fleet is not None else list(urls or ([url] if url else []))
        try:
            if not given:
                self.servers = start_servers(learner.model_dir, servers, lora_rank=lora_rank, max_model_len=max_model_len,
                                             processed_logprobs=temperature != 1.0, seed=seed, log_path=log_path,
                                             console=console)
                given = [s.url for s in self.servers]
            self.policy = VLLMPolicy(learner.model_dir, given, max_model_len=max_model_len)
            make = partial(VLLMLoraSync if lora_rank else VLLMReloadSync, timeout=sync_timeout, shared_dir=shared_dir)
            if len(given) == 1:
                self.sync: WeightSync = make(given[0], self.policy)
            else:
                self.sync = MultiSync([make(u) for u in given], self.policy, timeout=sync_timeout)
            if fleet is not None:  # a push or check first asks whether every server actor is still alive
                self.sync = fleet.guard(self.sync)
        except BaseException:
            self._stop_servers()
            raise

    @property
    def server(self) -> Any:
        """The first server started here (None when given by URL)."""
        return self.servers[0] if self.servers else None

    def play(self, make_env, episodes, sampling, on_done=None, env_id: str = "") -> list[Trajectory]:
        return lockstep_rollout(make_env, self.policy, episodes, sampling, env_id=env_id, on_done=on_done)

    def take_stats(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        try:
            self.sync.close()
        finally:
            self._stop_servers()

    def _stop_servers(self) -> None:
        servers, self.servers = self.servers, []
        fleet, self.fleet = self.fleet, None
        try:
            for server in servers:
                server.stop()
        finally:
            if fleet is not None:
                fleet.close()


def start_servers(model_dir: Any, n: int, *, log_path: Path | None = None, console: Any = None, **kwargs: Any) -> list[Any]:
    """``n`` training servers (:func:`trainers.sync.training_server`) started in parallel; all or none.  Each logs to
    ``log_path`` (``vllm.log``), or ``vllm-I.log`` beside it with several; on CUDA they split the GPU memory."""
    if console is not None:
        console.print(f"starting {n} vLLM server(s) for rollouts ...")
    logs = [log_path if n == 1 or log_path is None else log_path.with_name(f"{log_path.stem}-{i}{log_path.suffix}")
            for i in range(n)]
    # vLLM reports raw logprobs unless told otherwise (processed_logprobs): at T != 1 the learner scores log π_T
    servers = [training_server(model_dir, log_path=log, gpu_memory_utilization=0.85 / n, **kwargs) for log in logs]
    try:
        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(s.start) for s in servers]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return servers


def rollout_backend(config: Any, learner: Any, *, max_model_len: int, run_dir: Path, console: Any = None) -> RolloutBackend:
    """The backend ``config.rollout`` names, sampling at ``config.sampling``'s temperature; on Ray workers
    (around a :class:`VLLMRollout`: its sync stays here) when ``config.cluster`` is set, with its servers as Ray
    actors when ``config.inference`` is set."""
    if config.rollout == "hf":
        return InProcessRollout(learner, max_batch=max(16, config.group_size * config.tasks_per_step),
                                max_model_len=max_model_len)
    lora_rank = config.lora.r if config.lora else None
    fleet = None
    if config.inference is not None:
        from trainers.cluster.inference import start_fleet

        fleet = start_fleet(config, learner.model_dir, max_model_len=max_model_len, lora_rank=lora_rank, run_dir=run_dir,
                            console=console)
    vllm = VLLMRollout(learner, url=config.vllm_url, max_model_len=max_model_len, temperature=config.sampling.temperature,
                       seed=config.seed, lora_rank=lora_rank, log_path=run_dir / "vllm.log", console=console,
                       sync_timeout=config.push_timeout, urls=config.vllm_urls, servers=config.vllm_servers, fleet=fleet,
                       shared_dir=config.sync.shared_dir)
    if getattr(config, "cluster", None) is None:
        return vllm
    from trainers.cluster.backend import cluster_backend

    return cluster_backend(config, vllm, max_model_len=max_model_len, console=console)
