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
* :class:`VLLMLoraSync`: a peft adapter hot-swapped under one served name (the policy then asks
  for that name): each push writes the adapter to a fresh folder under ``/dev/shm``, then inside
  ``/pause`` ... ``/resume`` loads it (``/v1/unload_lora_adapter`` of the previous one, then
  ``/v1/load_lora_adapter``) and resets the prefix cache.  Not ``load_inplace``: vLLM 0.32 keeps
  ``load_inplace=True`` on the stored request, so every engine step re-reads the adapter from disk
  (vLLM issue #33791; fixes in PRs #36373/#41482, not in 0.32; seen here: deleting the folder after an
  in-place load crashes the engine on the next request); ``load_inplace=True`` is an option for a vLLM
  that has the fix (``close`` then leaves the served folder in place).  Each push's fresh folder also
  keeps cached prompts apart: vLLM keys prefix-cache blocks by adapter name *and* path.  The server
  needs ``--enable-lora`` with ``--max-lora-rank`` >= r (vLLM accepts only 1, 8, 16, 32, 64, 128, 256,
  320, 512: :func:`vllm_lora_rank` rounds up); on CPU that turns off compilation (slower sampling;
  see TRAINING.md).  A request naming the adapter between its unload and load gets a 404: the loop
  never samples during a push.

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


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's MaxLoRARanks: --max-lora-rank takes no other value


def vllm_lora_rank(r: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that serves an adapter of rank ``r``."""
    for allowed in VLLM_LORA_RANKS:
        if r <= allowed:
            return allowed
    raise ValueError(f"lora.r = {r}: vLLM serves LoRA ranks up to {VLLM_LORA_RANKS[-1]}")


class TrainingVLLMServer(VLLMServer):
    """A :class:`VLLMServer` with the RL endpoints on (dev mode) and, optionally, runtime LoRA loading."""

    def __init__(self, *args: Any, lora_rank: int | None = None, **kwargs: Any):
        extra = list(kwargs.pop("extra_args", None) or [])
        if lora_rank:
            extra += ["--enable-lora", "--max-lora-rank", str(vllm_lora_rank(lora_rank)), "--max-loras", "1"]
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
            hint = ""
            if resp.status_code == 404 and "lora" in path:
                hint = " (start the server with trainers.sync.training_server(..., lora_rank=r): --enable-lora, runtime LoRA updating)"
            elif resp.status_code == 404:
                hint = " (is the server in dev mode? start it with trainers.sync.training_server)"
            raise SyncError(f"POST {path} answered {resp.status_code}: {resp.text[:300]}{hint}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:  # /v1/load_lora_adapter answers plain text ("Success: ...")
            return resp.text

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
    """A peft adapter hot-swapped under ``lora_name``; after a push the policy requests that name (see the module docstring)."""

    def __init__(self, base_url: str, policy: Any = None, lora_name: str = "turngym-policy", timeout: float = 600.0,
                 load_inplace: bool = False):
        super().__init__(base_url, policy, timeout)
        self.lora_name = lora_name
        self.load_inplace = load_inplace
        self.root = shm_dir("turngym-lora-")
        self.folder: Path | None = None  # the adapter the server serves now (in-place loads re-read it every step)
        self.pushes = 0
        self.reread = False  # the last load was in place: vLLM 0.32 reads self.folder again on every engine step

    def save(self, model: Any) -> Path:
        if not hasattr(model, "peft_config"):
            raise SyncError("VLLMLoraSync pushes a peft adapter: the learner's model is not a PeftModel (lora: null?)")
        folder = self.root / f"v{self.pushes + 1}"
        shutil.rmtree(folder, ignore_errors=True)
        model.save_pretrained(folder)  # a PeftModel writes only the adapter
        return folder

    def served(self) -> set[str]:
        resp = self.client.get("/v1/models")
        if resp.status_code != 200:
            raise SyncError(f"GET /v1/models answered {resp.status_code}: {resp.text[:300]}")
        return {m["id"] for m in resp.json().get("data") or []}

    def load(self, folder: Path) -> None:
        # a server given by URL may hold the adapter from an earlier run (a resumed one): replace it too
        loaded = self.pushes > 0 or self.lora_name in self.served()
        self._post("/pause", params={"mode": "wait"})
        try:
            if loaded and not self.load_inplace:  # a request naming the adapter in this short gap would get a 404
                self._post("/v1/unload_lora_adapter", json={"lora_name": self.lora_name})
            body = {"lora_name": self.lora_name, "lora_path": str(folder), "load_inplace": loaded and self.load_inplace}
            self._post("/v1/load_lora_adapter", json=body)
            self.reread = body["load_inplace"]
            self._post("/reset_prefix_cache")  # cached prompts under this name hold the previous adapter's KV
        finally:
            self._post("/resume")

    def push(self, model: Any) -> float:
        began = time.perf_counter()
        folder = self.save(model)
        saved = time.perf_counter()
        self.load(folder)
        if self.folder is not None and self.folder != folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = folder
        self.pushes += 1
        if self.policy is not None:
            self.policy.served_name = self.lora_name
            self.policy.name = f"vllm:{self.lora_name}"
        _bump(self.policy)
        done = time.perf_counter()
        self.last_timings = {"save": saved - began, "reload": done - saved}
        return done - began

    def close(self) -> None:
        super().close()
        if self.reread and self.folder is not None:  # deleting it would crash the engine on its next step (seen on 0.32)
            for child in self.root.iterdir():
                if child != self.folder:
                    shutil.rmtree(child, ignore_errors=True)
            return
        shutil.rmtree(self.root, ignore_errors=True)
