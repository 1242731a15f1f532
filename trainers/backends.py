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
  hot-swap sync.

Both sample with ``max_model_len`` tokens of context, so an episode that runs out of context
ends the same way on either.  With ``cluster:`` set (and ``rollout: vllm``), episodes run on Ray
workers instead: :class:`trainers.cluster.backend.ClusterRollout` (Ray is imported only then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from trainers.lockstep import LockstepPolicy, lockstep_rollout
from trainers.sync import SharedModuleSync, VLLMLoraSync, VLLMReloadSync, WeightSync, training_server


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
    """Rollouts from a vLLM server: the one at ``url``, or one started here (stopped by :meth:`close`)."""

    def __init__(self, learner: Any, *, url: str | None, max_model_len: int, temperature: float, seed: int,
                 lora_rank: int | None = None, log_path: Path | None = None, console: Any = None, sync_timeout: float = 600.0):
        from agents.vllm_policy import VLLMPolicy

        self.server = None
        if url is None:
            if console is not None:
                console.print("starting a vLLM server for rollouts ...")
            # vLLM reports raw logprobs unless told otherwise; at T != 1 the learner scores log π_T
            self.server = training_server(learner.model_dir, lora_rank=lora_rank, max_model_len=max_model_len,
                                          processed_logprobs=temperature != 1.0, seed=seed, log_path=log_path).start()
            url = self.server.url
        self.policy = VLLMPolicy(learner.model_dir, url, max_model_len=max_model_len)
        sync = VLLMLoraSync if lora_rank else VLLMReloadSync
        self.sync: WeightSync = sync(url, self.policy, timeout=sync_timeout)

    def play(self, make_env, episodes, sampling, on_done=None, env_id: str = "") -> list[Trajectory]:
        return lockstep_rollout(make_env, self.policy, episodes, sampling, env_id=env_id, on_done=on_done)

    def take_stats(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        try:
            self.sync.close()
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None


def rollout_backend(config: Any, learner: Any, *, max_model_len: int, run_dir: Path, console: Any = None) -> RolloutBackend:
    """The backend ``config.rollout`` names, sampling at ``config.sampling``'s temperature; on Ray workers
    (around a :class:`VLLMRollout`: its server and sync stay here) when ``config.cluster`` is set."""
    if config.rollout == "hf":
        return InProcessRollout(learner, max_batch=max(16, config.group_size * config.tasks_per_step),
                                max_model_len=max_model_len)
    vllm = VLLMRollout(learner, url=config.vllm_url, max_model_len=max_model_len, temperature=config.sampling.temperature,
                       seed=config.seed, lora_rank=config.lora.r if config.lora else None,
                       log_path=run_dir / "vllm.log", console=console, sync_timeout=config.sync_timeout)
    if getattr(config, "cluster", None) is None:
        return vllm
    from trainers.cluster.backend import cluster_backend

    return cluster_backend(config, vllm, max_model_len=max_model_len, console=console)
