"""Weight sync: after each update the serving engine samples from the new weights.

Three routes, one interface (``push(model) -> seconds``; each push bumps ``policy.policy_version``,
which the rollout copies onto every turn it samples):

* :class:`SharedModuleSync`: an in-process :class:`agents.hf_policy.HFPolicy` built on the
  learner's own module (``model_obj=``); nothing moves, only the version is bumped.  The GPU
  route (the GPU machine has no vLLM).
* :class:`VLLMReloadSync`: full weights into a running vLLM server (CPU or CUDA), the recipe
  verified on these machines: ``save_pretrained`` under ``/dev/shm``, then, inside
  ``POST /pause?mode=wait`` ... ``POST /resume``, ``POST /collective_rpc {"method":
  "reload_weights", "kwargs": {"weights_path": DIR}}`` and **always** ``POST /reset_prefix_cache``
  (a cached prompt otherwise keeps the old weights' KV: 0.14-0.35 nats off).
* :class:`VLLMLoraSync`: a peft adapter hot-loaded with ``POST /v1/load_lora_adapter``
  (``load_inplace``); the server needs ``--enable-lora`` (slower sampling on CPU; see TRAINING.md).

These endpoints exist only in vLLM's dev mode: start the server with :func:`training_server`,
which sets ``VLLM_SERVER_DEV_MODE=1`` (and runtime LoRA updating for LoRA runs).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from agents.vllm_server import VLLMServer


class SyncError(RuntimeError):
    pass


class TrainingVLLMServer(VLLMServer):
    """A :class:`VLLMServer` with the RL endpoints on (dev mode) and, optionally, runtime LoRA loading."""

    def __init__(self, *args: Any, lora_rank: int | None = None, **kwargs: Any):
        extra = list(kwargs.pop("extra_args", None) or [])
        if lora_rank:
            extra += ["--enable-lora", "--max-lora-rank", str(lora_rank), "--max-loras", "1"]
        super().__init__(*args, extra_args=extra, **kwargs)
        self.lora = bool(lora_rank)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["VLLM_SERVER_DEV_MODE"] = "1"
        if self.lora:
            env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        return env


def training_server(model: str | os.PathLike, *, max_model_len: int = 2048, lora_rank: int | None = None,
                    processed_logprobs: bool = False, **kwargs: Any) -> TrainingVLLMServer:
    """A vLLM server (not started) ready for weight sync; ``processed_logprobs`` for sampling at T != 1."""
    extra = list(kwargs.pop("extra_args", None) or [])
    if processed_logprobs:
        extra += ["--logprobs-mode", "processed_logprobs"]
    return TrainingVLLMServer(model, max_model_len=max_model_len, lora_rank=lora_rank, extra_args=extra, **kwargs)


def _bump(policy: Any) -> None:
    if policy is not None:
        policy.policy_version = int(getattr(policy, "policy_version", 0) or 0) + 1


def shm_dir(prefix: str) -> Path:
    """A fresh folder under ``/dev/shm`` (RAM) when it exists, else the temp folder."""
    root = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


class SharedModuleSync:
    """The policy samples from the learner's module itself: a push is a version bump."""

    def __init__(self, policy: Any):
        self.policy = policy

    def push(self, model: Any) -> float:
        if getattr(self.policy, "model", model) is not model:
            raise SyncError("SharedModuleSync needs a policy built on the learner's own module (HFPolicy(model_obj=...))")
        _bump(self.policy)
        return 0.0

    def close(self) -> None:
        pass


class _HTTPSync:
    def __init__(self, base_url: str, policy: Any = None, timeout: float = 600.0):
        url = base_url.rstrip("/")
        self.base_url = url.removesuffix("/v1")
        self.policy = policy
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout)
        self.last_timings: dict[str, float] = {}

    def _post(self, path: str, **kwargs: Any) -> Any:
        resp = self.client.post(path, **kwargs)
        if resp.status_code != 200:
            hint = " (is the server in dev mode? start it with trainers.sync.training_server)" if resp.status_code == 404 else ""
            raise SyncError(f"POST {path} answered {resp.status_code}: {resp.text[:300]}{hint}")
        return resp.json() if resp.content else None

    def close(self) -> None:
        self.client.close()


class VLLMReloadSync(_HTTPSync):
    """Full weights through ``/dev/shm`` and vLLM's ``reload_weights`` (see the module docstring)."""

    def __init__(self, base_url: str, policy: Any = None, timeout: float = 600.0):
        super().__init__(base_url, policy, timeout)
        self.folder = shm_dir("turngym-sync-")

    def save(self, model: Any) -> float:
        began = time.perf_counter()
        for child in self.folder.iterdir():  # the previous push's files
            child.unlink()
        model.save_pretrained(self.folder, safe_serialization=True)
        return time.perf_counter() - began

    def reload(self) -> float:
        began = time.perf_counter()
        self._post("/pause", params={"mode": "wait"})
        try:
            self._post("/collective_rpc", json={"method": "reload_weights", "kwargs": {"weights_path": str(self.folder)}})
            self._post("/reset_prefix_cache")
        finally:
            self._post("/resume")
        return time.perf_counter() - began

    def push(self, model: Any) -> float:
        save = self.save(model)
        reload = self.reload()
        _bump(self.policy)
        self.last_timings = {"save": save, "reload": reload}
        return save + reload

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


class VLLMLoraSync(_HTTPSync):
    """A peft adapter hot-swapped in place; the policy must request the adapter's name."""

    def __init__(self, base_url: str, policy: Any = None, lora_name: str = "turngym-policy", timeout: float = 600.0):
        super().__init__(base_url, policy, timeout)
        self.lora_name = lora_name
        self.folder = shm_dir("turngym-lora-")
        self._loaded = False

    def push(self, model: Any) -> float:
        began = time.perf_counter()
        for child in self.folder.iterdir():
            if child.is_file():
                child.unlink()
        model.save_pretrained(self.folder)  # a PeftModel writes only the adapter
        self._post("/pause", params={"mode": "wait"})
        try:
            body = {"lora_name": self.lora_name, "lora_path": str(self.folder), "load_inplace": self._loaded}
            self._post("/v1/load_lora_adapter", json=body)
            self._loaded = True
            self._post("/reset_prefix_cache")
        finally:
            self._post("/resume")
        if self.policy is not None:
            self.policy.served_name = self.lora_name
        _bump(self.policy)
        return time.perf_counter() - began

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)
