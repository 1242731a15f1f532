"""Weight sync: after each update the serving engine samples from the new weights.

Three routes, one interface (``push(model) -> seconds``; each push bumps ``policy.policy_version``,
which the rollout copies onto every turn it samples):

* :class:`SharedModuleSync`: an in-process :class:`agents.hf_policy.HFPolicy` built on the
  learner's own module (``model_obj=``); nothing moves, only the version is bumped.  The GPU
  route (the GPU machine has no vLLM).
* :class:`VLLMReloadSync`: full weights into a running vLLM server (CPU or CUDA), the recipe
  verified on these machines: ``save_pretrained`` under ``/dev/shm`` (or ``sync.shared_dir``), then, inside
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

Every route is a :class:`WeightSync`: a push that fails or outlives its ``timeout`` raises
:class:`SyncError` naming the stage (save, list models, pause, reload, unload adapter, load adapter,
reset, resume) and leaves the server resumed when it can; :meth:`WeightSync.check` proves a push by
scoring a short fixed sequence (:func:`check_ids`) on the serving side and comparing with the learner's
logprobs (:func:`model_logprobs`) within :func:`sync_tolerance`, raising :class:`SyncMismatch`.
Prompt logprobs are raw (T = 1) in vLLM 0.32 even under ``--logprobs-mode processed_logprobs``
(processing applies to sampled tokens only); the check still asks for temperature 1 explicitly.
A prompt-logprob request bypasses vLLM's prefix cache, so the check proves the weights, not the cache
reset (which every push does unconditionally).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from agents.vllm_server import VLLMServer
from trainers.sync_files import publish, push_root, ties_embeddings, untied_copy, write_untied  # noqa: F401
from trainers.sync_check import (  # noqa: F401  (part of this module's interface)
    CHECK_MESSAGES, SyncError, SyncMismatch, check_ids, check_policy_versions, compare_logprobs, model_logprobs, sync_tolerance,
)


@runtime_checkable
class WeightSync(Protocol):
    """What the loop needs from a weight sync.

    * ``push(model) -> float``: make the serving side sample from ``model``'s current weights; returns the
      seconds it took and bumps ``policy.policy_version`` (only on success).  Raises :class:`SyncError`
      naming the failed stage when a step fails or the push outlives the sync's ``timeout``.
    * ``check(expected_logprobs, ids, atol) -> float``: score ``ids`` on the serving side at T = 1
      (log p(ids[i] | ids[:i]), i >= 1) and compare with ``expected_logprobs`` (the learner's, same ids,
      T = 1); returns the largest absolute difference; raises :class:`SyncMismatch` (naming the difference,
      ``atol``, the position and both values) when it exceeds ``atol`` or a value is not finite, and
      :class:`SyncError` when the serving side cannot be asked.
    * ``close()``: release clients and files; the sync is not used afterwards.
    """

    policy: Any

    def push(self, model: Any) -> float: ...

    def check(self, expected_logprobs: Sequence[float], ids: Sequence[int], atol: float) -> float: ...

    def close(self) -> None: ...


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's MaxLoRARanks: --max-lora-rank takes no other value


def vllm_lora_rank(r: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that serves an adapter of rank ``r``."""
    for allowed in VLLM_LORA_RANKS:
        if r <= allowed:
            return allowed
    raise ValueError(f"lora.r = {r}: vLLM serves LoRA ranks up to {VLLM_LORA_RANKS[-1]}")


class TrainingVLLMServer(VLLMServer):
    """A :class:`VLLMServer` with the RL endpoints on (dev mode) and, optionally, runtime LoRA loading.

    With ``untie=True`` and a model whose output layer is tied to its input embeddings (SmolLM2,
    Qwen2.5-0.5B), the server loads an untied copy (:func:`write_untied`, in a temp folder removed by
    :meth:`stop`): vLLM 0.32's in-place ``reload_weights`` updates the embeddings but not a tied
    ``lm_head`` (found by the loop's sync check: SmolLM2 stayed 0.26-0.41 nats off after a push, an
    untied copy 5e-5), so a full-weight push must reach a server whose ``lm_head`` loads on its own."""

    def __init__(self, model: str | os.PathLike, *args: Any, lora_rank: int | None = None, untie: bool = False,
                 on_spawn: Callable[[Any], None] | None = None, **kwargs: Any):
        from agents.models import resolve_model

        self.on_spawn = on_spawn  # called with this server as soon as its process runs (a Ray actor's watchdog)
        extra = list(kwargs.pop("extra_args", None) or [])
        if lora_rank:
            extra += ["--enable-lora", "--max-lora-rank", str(vllm_lora_rank(lora_rank)), "--max-loras", "1"]
        source = resolve_model(model)
        self.untied_dir: Path | None = None
        if untie and ties_embeddings(source):
            self.untied_dir = untied_copy(source, Path(tempfile.mkdtemp(prefix="turngym-untied-")) / source.name)
            kwargs.setdefault("served_name", source.name)
        super().__init__(self.untied_dir or source, *args, extra_args=extra, **kwargs)
        self.lora = bool(lora_rank)

    def _wait_healthy(self) -> None:
        if self.on_spawn is not None:
            self.on_spawn(self)
        super()._wait_healthy()

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["VLLM_SERVER_DEV_MODE"] = "1"
        if self.lora:
            env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
        return env

    def stop(self, timeout: float = 30.0) -> None:
        try:
            super().stop(timeout)
        finally:
            if self.untied_dir is not None:
                shutil.rmtree(self.untied_dir.parent, ignore_errors=True)
                self.untied_dir = None


def training_server(model: str | os.PathLike, *, max_model_len: int = 2048, lora_rank: int | None = None,
                    processed_logprobs: bool = False, **kwargs: Any) -> TrainingVLLMServer:
    """A vLLM server (not started) ready for weight sync; ``processed_logprobs`` for sampling at T != 1.
    Full-weight runs (no ``lora_rank``) serve an untied copy of a tied model (see :class:`TrainingVLLMServer`)."""
    extra = list(kwargs.pop("extra_args", None) or [])
    if processed_logprobs:
        extra += ["--logprobs-mode", "processed_logprobs"]
    return TrainingVLLMServer(model, max_model_len=max_model_len, lora_rank=lora_rank, extra_args=extra,
                              untie=not lora_rank, **kwargs)


def _bump(policy: Any) -> None:
    if policy is not None:
        policy.policy_version = int(getattr(policy, "policy_version", 0) or 0) + 1


class SharedModuleSync:
    """The policy samples from the learner's module itself: a push is a version bump."""

    def __init__(self, policy: Any):
        self.policy = policy

    def push(self, model: Any) -> float:
        if getattr(self.policy, "model", model) is not model:
            raise SyncError("SharedModuleSync needs a policy built on the learner's own module (HFPolicy(model_obj=...))")
        _bump(self.policy)
        return 0.0

    def check(self, expected_logprobs: Sequence[float], ids: Sequence[int], atol: float) -> float:
        """Scores through the policy's own forward pass (its autocast included): cheap, catches a policy
        that samples under other numerics than the learner's."""
        return compare_logprobs(self.policy.forward_logprobs([list(ids)])[0], expected_logprobs, atol, ids, "policy")

    def close(self) -> None:
        pass


class _HTTPSync:
    """HTTP plumbing for the vLLM routes: each push shares one deadline (``timeout`` seconds, a last
    ``rescue`` slice kept for a ``/resume`` after a failure) and every request names its stage."""

    def __init__(self, base_url: str, policy: Any = None, timeout: float = 600.0):
        url = base_url.rstrip("/")
        self.base_url = url.removesuffix("/v1")
        self.policy = policy
        self.timeout = float(timeout)
        self.rescue = min(5.0, self.timeout / 4)  # seconds left for a /resume after a failed push
        self.client = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        self.last_timings: dict[str, float] = {}

    def _request(self, stage: str, method: str, path: str, deadline: float, **kwargs: Any) -> Any:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SyncError(f"weight sync ran out of its {self.timeout:g} s timeout before stage '{stage}' ({method} {path})")
        try:
            resp = self.client.request(method, path, timeout=left, **kwargs)
        except httpx.TimeoutException as e:
            raise SyncError(f"weight sync stage '{stage}' ({method} {path}) timed out: the push has {self.timeout:g} s") from e
        except httpx.HTTPError as e:
            raise SyncError(f"weight sync stage '{stage}' ({method} {path}) failed: {e!r}") from e
        if resp.status_code != 200:
            hint = ""
            if resp.status_code == 404 and "lora" in path:
                hint = " (start the server with trainers.sync.training_server(..., lora_rank=r): --enable-lora, runtime LoRA updating)"
            elif resp.status_code == 404:
                hint = " (is the server in dev mode? start it with trainers.sync.training_server)"
            raise SyncError(f"weight sync stage '{stage}': {method} {path} answered {resp.status_code}: {resp.text[:300]}{hint}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:  # /v1/load_lora_adapter answers plain text ("Success: ...")
            return resp.text

    def _post(self, stage: str, path: str, deadline: float, **kwargs: Any) -> Any:
        return self._request(stage, "POST", path, deadline, **kwargs)

    def _paused(self, deadline: float, steps: Callable[[float], None]) -> None:
        """``/pause?mode=wait``, ``steps(deadline)``, ``/resume``; on any failure one more ``/resume`` in the
        ``rescue`` slice, so a failed push does not leave the server paused."""
        work = deadline - self.rescue
        if time.monotonic() >= work:  # nothing sent yet: the server is not paused
            raise SyncError(f"weight sync ran out of its {self.timeout:g} s timeout before stage 'pause' (a slow save?)")
        try:
            self._post("pause", "/pause", work, params={"mode": "wait"})
            steps(work)
            self._post("resume", "/resume", work)
        except BaseException as e:
            try:
                self._post("resume", "/resume", deadline)
                note = "the server was resumed"
            except SyncError as again:
                note = f"the server may still be paused: {again}"
            if isinstance(e, SyncError):
                raise type(e)(f"{e}; {note}") from e
            raise

    def served_model(self, deadline: float | None = None) -> str:
        name = getattr(self.policy, "served_name", None)
        if name:
            return name
        data = self._request("list models", "GET", "/v1/models", deadline or time.monotonic() + self.timeout)
        return data["data"][0]["id"]

    def served_logprobs(self, ids: Sequence[int]) -> list[float]:
        """log p(ids[i] | ids[:i]), i >= 1, from the server's prompt logprobs at temperature 1 (raw logits)."""
        deadline = time.monotonic() + self.timeout
        body = {"model": self.served_model(deadline), "prompt": list(ids), "max_tokens": 1, "temperature": 1.0,
                "prompt_logprobs": 0}
        rows = (self._post("check", "/v1/completions", deadline, json=body)["choices"][0]).get("prompt_logprobs")
        if rows is None or len(rows) != len(ids):
            raise SyncError(f"weight sync stage 'check': the server returned no prompt logprobs for {len(ids)} ids")
        return [float(rows[i][str(tok)]["logprob"]) for i, tok in enumerate(ids) if i >= 1]

    def check(self, expected_logprobs: Sequence[float], ids: Sequence[int], atol: float) -> float:
        began = time.perf_counter()
        served = self.served_logprobs(ids)
        self.last_timings["check"] = time.perf_counter() - began
        return compare_logprobs(served, expected_logprobs, atol, ids, "server")

    def close(self) -> None:
        self.client.close()


class VLLMReloadSync(_HTTPSync):
    """Full weights through files and vLLM's ``reload_weights`` (see the module docstring): one folder under
    ``/dev/shm``, rewritten by each push, or with ``shared_dir`` a fresh folder per push under it
    (:func:`trainers.sync_files.publish`), for servers on other machines that mount it at the same path."""

    def __init__(self, base_url: str, policy: Any = None, timeout: float = 600.0, shared_dir: str | os.PathLike | None = None):
        super().__init__(base_url, policy, timeout)
        self.shared_dir = shared_dir
        self.root = push_root("turngym-sync-", shared_dir)
        self.folder = self.root  # what the servers reload from: the last push's folder
        self.saves = 0

    def save(self, model: Any) -> float:
        began = time.perf_counter()
        self.saves += 1
        try:
            if self.shared_dir is None:
                self.folder = _write_weights(model, self.root)
            else:
                self.folder = publish(self.root, f"v{self.saves}", lambda folder: _write_weights(model, folder))
        except OSError as e:
            raise SyncError(f"weight sync stage 'save' ({self.root}) failed: {e}") from e
        return time.perf_counter() - began

    def reload(self, deadline: float | None = None, folder: Path | None = None) -> float:
        """``folder`` (default: this sync's last save) into the server."""
        began = time.perf_counter()
        path = str(folder or self.folder)

        def steps(until: float) -> None:
            self._post("reload", "/collective_rpc", until, json={"method": "reload_weights", "kwargs": {"weights_path": path}})
            self._post("reset", "/reset_prefix_cache", until)

        self._paused(deadline or time.monotonic() + self.timeout, steps)
        return time.perf_counter() - began

    def push(self, model: Any) -> float:
        deadline = time.monotonic() + self.timeout
        save = self.save(model)
        reload = self.reload(deadline)
        _bump(self.policy)
        self.last_timings = {"save": save, "reload": reload}
        return save + reload

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.root, ignore_errors=True)


def _write_weights(model: Any, folder: Path) -> Path:
    """``model``'s weights as safetensors in ``folder``, replacing the files there (a tied model untied: the server holds an untied copy)."""
    if getattr(getattr(model, "config", None), "tie_word_embeddings", False):
        return write_untied(model, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for child in folder.iterdir():  # the previous push's files
        child.unlink()
    model.save_pretrained(folder, safe_serialization=True)
    return folder


class VLLMLoraSync(_HTTPSync):
    """A peft adapter hot-swapped under ``lora_name``; after a push the policy requests that name (see the module docstring)."""

    def __init__(self, base_url: str, policy: Any = None, lora_name: str = "turngym-policy", timeout: float = 600.0,
                 load_inplace: bool = False, shared_dir: str | os.PathLike | None = None):
        super().__init__(base_url, policy, timeout)
        self.lora_name = lora_name
        self.load_inplace = load_inplace
        self.root = push_root("turngym-lora-", shared_dir)  # a fresh folder per push either way
        self.folder: Path | None = None  # the adapter the server serves now (in-place loads re-read it every step)
        self.pushes = 0
        self.reread = False  # the last load was in place: vLLM 0.32 reads self.folder again on every engine step

    def save(self, model: Any) -> Path:
        if not hasattr(model, "peft_config"):
            raise SyncError("VLLMLoraSync pushes a peft adapter: the learner's model is not a PeftModel (lora: null?)")
        folder = self.root / f"v{self.pushes + 1}"
        try:
            shutil.rmtree(folder, ignore_errors=True)
            model.save_pretrained(folder)  # a PeftModel writes only the adapter
        except OSError as e:
            raise SyncError(f"weight sync stage 'save' ({folder}) failed: {e}") from e
        return folder

    def served(self, deadline: float | None = None) -> set[str]:
        data = self._request("list models", "GET", "/v1/models", deadline or time.monotonic() + self.timeout)
        return {m["id"] for m in data.get("data") or []}

    def served_model(self, deadline: float | None = None) -> str:
        if self.pushes and self.policy is None:
            return self.lora_name
        return super().served_model(deadline)

    def load(self, folder: Path, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + self.timeout
        # a server given by URL may hold the adapter from an earlier run (a resumed one): replace it too
        loaded = self.pushes > 0 or self.lora_name in self.served(deadline - self.rescue)

        def steps(until: float) -> None:
            if loaded and not self.load_inplace:  # a request naming the adapter in this short gap would get a 404
                self._post("unload adapter", "/v1/unload_lora_adapter", until, json={"lora_name": self.lora_name})
            body = {"lora_name": self.lora_name, "lora_path": str(folder), "load_inplace": loaded and self.load_inplace}
            self._post("load adapter", "/v1/load_lora_adapter", until, json=body)
            self.reread = body["load_inplace"]
            self._post("reset", "/reset_prefix_cache", until)  # cached prompts under this name hold the previous adapter's KV

        self._paused(deadline, steps)

    def push(self, model: Any) -> float:
        began = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        folder = self.save(model)
        saved = time.perf_counter()
        self.load(folder, deadline)
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
