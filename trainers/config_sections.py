"""Config sections beside the single-process run: Ray rollout workers, vLLM servers as Ray actors, weight
sync and learner ranks (re-exported by :mod:`trainers.config`), the strict base every config section
shares, and :class:`_ScaleOut`, the checks across these sections that ``TrainConfig`` inherits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SectionError(ValueError):
    """A check across fields; ``field`` names the one to fix (``trainers.config.format_validation_error`` shows it)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


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


class InferenceConfig(_Strict):
    """vLLM servers the loop starts as Ray actors (``trainers.cluster.inference``), one per replica, each on a node
    that has ``resources`` free (``ray start --resources='{"vllm": N}'``: at most N servers there).  Needs ``cluster``;
    servers given by URL (``vllm_url``/``vllm_urls``) or started beside the driver (``vllm_servers``) are the other ways."""

    replicas: int = Field(1, ge=1)
    resources: dict[str, float] = Field(default_factory=lambda: {"vllm": 1.0})  # custom resources per server ({} on GPU nodes)
    cpus: float = Field(1.0, ge=0.0)  # Ray CPUs each server actor reserves
    gpus: float = Field(0.0, ge=0.0)  # Ray GPUs each server reserves (Ray sets its CUDA_VISIBLE_DEVICES)
    memory_gb: float | None = Field(None, gt=0.0)  # memory each server reserves (Ray's scheduler); None: none
    start_timeout: float = Field(900.0, gt=0.0)  # seconds for every server to be placed and healthy


class SyncConfig(_Strict):
    """How pushed weights reach the vLLM servers (``trainers.sync``).  ``reload``: files, then the server's
    ``reload_weights`` route; under ``/dev/shm`` (servers on the driver's machine), or, with ``shared_dir``, in a fresh
    folder per push under a directory every node mounts at that same path (older pushes are removed)."""

    backend: Literal["reload", "nccl"] = "reload"
    shared_dir: str | None = None
    timeout: float | None = Field(None, gt=0.0)  # seconds a push may take; None: sync_timeout (the older name)

    @field_validator("backend")
    @classmethod
    def _backend_built(cls, v: str) -> str:
        if v == "nccl":
            raise ValueError("nccl (vLLM's NCCL weight-transfer engine) is not implemented: it needs CUDA on both the learner "
                             "and the servers, and no machine this was built on has vLLM and a GPU together to test it; use "
                             "backend: reload (with sync.shared_dir when servers run on other machines)")
        return v

    @field_validator("shared_dir")
    @classmethod
    def _shared_dir_exists(cls, v: str | None) -> str | None:
        if v is None:
            return v
        path = Path(v).expanduser()
        if not path.is_absolute():  # a relative path means another folder on each node (each has its own cwd)
            raise ValueError(f"must be an absolute path every node mounts, got {v!r}")
        if not path.is_dir():
            raise ValueError(f"no folder {str(path)!r} on this machine: mount the shared folder at the same path on every node")
        return str(path)


class _ScaleOut(_Strict):
    """Checks across ``cluster``, ``inference`` and the server fields (``TrainConfig`` inherits them)."""

    @property
    def push_timeout(self) -> float:
        """Seconds a weight push may take: ``sync.timeout`` when set, else ``sync_timeout``."""
        timeout = getattr(getattr(self, "sync", None), "timeout", None)
        return float(timeout if timeout is not None else getattr(self, "sync_timeout", 600.0))

    @model_validator(mode="after")
    def _inference_valid(self) -> Any:
        inference = getattr(self, "inference", None)
        if inference is None:
            return self
        if getattr(self, "cluster", None) is None:
            raise SectionError("inference", "starts vLLM servers as Ray actors and needs cluster: set (e.g. "
                                            "cluster.address=auto), or use vllm_servers for servers beside the driver")
        for given in ("vllm_url", "vllm_urls"):
            if getattr(self, given, None):
                raise SectionError("inference", f"and {given} are both set: servers are either given by URL or started as Ray actors")
        if getattr(self, "vllm_servers", 1) > 1:
            raise SectionError("vllm_servers", f"is {self.vllm_servers} but inference starts the servers "  # type: ignore[attr-defined]
                                               "(set inference.replicas)")
        return self
