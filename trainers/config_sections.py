"""Config sections beside the single-process run: Ray rollout workers and learner ranks (both optional;
re-exported by :mod:`trainers.config`), and the strict base every config section shares."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ClusterConfig(_Strict):
    """Rollouts on Ray workers (``trainers.cluster``; the ``[cluster]`` extra).  Needs ``rollout: vllm``: the
    in-process HF policy shares the learner's module and cannot move to a worker."""

    address: str = "local"  # local (a Ray instance in this process) | auto | HOST:PORT | ray://HOST:PORT
    workers: int = Field(2, ge=1)  # rollout worker actors
    concurrency: int = Field(8, ge=1)  # episodes in flight per worker
    cpus_per_worker: float = Field(1.0, ge=0.0)
    memory_gb: float | None = Field(None, gt=0.0)  # memory each worker reserves (Ray's scheduler); None: none
    # custom resources each worker requests (e.g. {docker: 1}: only nodes started with --resources='{"docker": N}'
    # take one, at most N per node); None: what the env needs (trainers.cluster.worker_resources)
    resources: dict[str, float] | None = None
    episode_timeout: float = Field(600.0, gt=0.0)  # seconds per try of an episode
    max_retries: int = Field(2, ge=0)  # tries after the first, same seed, when a worker dies or times out
    start_timeout: float = Field(300.0, gt=0.0)  # seconds a worker may take to start before it is replaced
    imports: list[str] = Field(default_factory=list)  # modules each worker imports first (envs registered outside plugins)
    local_cpus: int | None = Field(None, ge=1)  # address=local: CPUs Ray may use (None: all)


class LearnerConfig(_Strict):
    """Learner processes (``trainers.distributed``).  ``ranks: 1`` is the single-process Learner; more spawn that
    many ranks that shard the model with FSDP2 over torch.distributed (gloo on CPU, NCCL on GPU: one GPU per
    rank) and split each batch's rows.  Checkpoints hold the full state: a run resumes with any ``ranks``."""

    ranks: int = Field(1, ge=1)
    strategy: Literal["fsdp2"] = "fsdp2"
