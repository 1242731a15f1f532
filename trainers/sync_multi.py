"""``MultiSync``: one :class:`trainers.sync.WeightSync` over several vLLM servers (replicas of one model).

A push reaches every server, in parallel threads under **one** deadline (``timeout`` seconds from the
push's start): full-weight children (:class:`trainers.sync.VLLMReloadSync`) share one folder, so the
weights are saved once and each server reloads them (``/pause`` ... ``reload_weights`` +
``reset_prefix_cache`` ... ``/resume``); LoRA children (:class:`trainers.sync.VLLMLoraSync`) each push
the adapter (small) themselves.  The push succeeds only when every server took the weights; then
``policy.policy_version`` is bumped once (children hold no policy).  A push that fails on any server,
or that a server keeps past the deadline, raises :class:`trainers.sync.SyncError` naming each failed
server's URL and its stage; the servers that did answer keep the new weights, so the run must stop (the
loop does: a ``SyncError`` ends it).  :meth:`MultiSync.check` scores the check sequence on every server
and raises (``SyncMismatch`` when a server answered with other logprobs) naming every failing URL.

Full weights go through the driver's ``/dev/shm`` (servers on its machine), or through the children's
``shared_dir`` (a fresh folder per push, under a directory every server's machine mounts at the same path).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from trainers.sync import SyncError, SyncMismatch, _bump

GRACE = 0.2  # seconds past the deadline a child may take to report its own timeout before it counts as hung


class MultiSync:
    def __init__(self, syncs: Sequence[Any], policy: Any = None, timeout: float = 600.0):
        if not syncs:
            raise ValueError("MultiSync needs at least one server's sync")
        self.syncs = list(syncs)
        self.policy = policy
        self.timeout = float(timeout)
        self.last_timings: dict[str, float] = {}
        self.shared = all(hasattr(s, "reload") and hasattr(s, "root") for s in self.syncs)
        if self.shared:  # save once, reload everywhere: every child reads the first child's folder
            import shutil

            for s in self.syncs[1:]:
                shutil.rmtree(s.root, ignore_errors=True)
                s.root, s.folder = self.syncs[0].root, self.syncs[0].folder

    @property
    def urls(self) -> list[str]:
        return [s.base_url for s in self.syncs]

    def push(self, model: Any) -> float:
        began = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        if self.shared:
            first = self.syncs[0]
            save = first.save(model)
            for s in self.syncs[1:]:
                s.folder = first.folder
            self._each("reload", lambda s: s.reload(deadline, first.folder), deadline)
        else:
            save = 0.0
            self._each("push", lambda s: s.push(model), deadline)
            name = getattr(self.syncs[0], "lora_name", None)
            if name and self.policy is not None:  # what VLLMLoraSync does to its own policy
                self.policy.served_name = name
                self.policy.name = f"vllm:{name}"
        _bump(self.policy)
        took = time.perf_counter() - began
        self.last_timings = {"save": save, "reload": took - save}
        return took

    def _each(self, what: str, step: Callable[[Any], Any], deadline: float) -> list[Any]:
        """``step(sync)`` for every child in its own thread; every thread must end by ``deadline``."""
        results: list[Any] = [None] * len(self.syncs)
        errors: dict[int, BaseException] = {}

        def run(i: int) -> None:
            try:
                results[i] = step(self.syncs[i])
            except BaseException as e:  # noqa: BLE001  (reported below, naming the server)
                errors[i] = e

        threads = [threading.Thread(target=run, args=(i,), daemon=True, name=f"sync-{what}-{i}") for i in range(len(self.syncs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline + GRACE - time.monotonic()))
        failed = []
        for i, t in enumerate(threads):
            if t.is_alive():
                failed.append(f"{self.syncs[i].base_url}: {what} still running after the push's {self.timeout:g} s timeout")
            elif i in errors:
                failed.append(f"{self.syncs[i].base_url}: {errors[i]}")
        if failed:
            first = next((e for e in errors.values() if not isinstance(e, SyncError)), None)
            raise SyncError(f"weight sync to {len(failed)} of {len(self.syncs)} servers failed: " + "; ".join(failed)) from first
        return results

    def check(self, expected_logprobs: Sequence[float], ids: Sequence[int], atol: float) -> float:
        """The largest difference over every server; raises naming each server that fails."""
        began = time.perf_counter()
        diffs, failed, mismatch = [], [], False
        for s in self.syncs:
            try:
                diffs.append(s.check(expected_logprobs, ids, atol))
            except SyncError as e:
                failed.append(f"{s.base_url}: {e}")
                mismatch = mismatch or isinstance(e, SyncMismatch)
        self.last_timings["check"] = time.perf_counter() - began
        if failed:
            kind = SyncMismatch if mismatch else SyncError
            raise kind(f"sync check failed on {len(failed)} of {len(self.syncs)} servers: " + "; ".join(failed))
        return max(diffs)

    def close(self) -> None:
        errors = []
        for s in self.syncs:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001  (close the others first)
                errors.append(e)
        if errors:
            raise errors[0]
