"""``SandboxPool``: warm sandboxes ready for episodes, each used by exactly one episode.

Freshness policy: **a sandbox is never handed to a second episode.** When an episode gives its
sandbox back, the pool destroys it in the background and a new one takes its place. We chose this
over "reset and verify" because a reset can only wipe what it knows about: besides the workspace,
/tmp and processes, code can leave SysV/POSIX IPC objects, /dev/shm files, memory-cgroup charge
or a half-killed process tree; a new container carries none of that by construction. The cost is
container churn (about 0.5 s of engine time per episode, paid off the hot path); handing out a warm
sandbox costs a queue pop and a worker ping. ``Sandbox.reset()`` exists for use *within* an episode.

Threads: ``create_workers`` threads keep ``size`` sandboxes warm (more while episodes are waiting),
``discard_workers`` threads destroy returned ones. ``max_active`` caps the sandboxes handed out at
once; ``acquire`` blocks at the cap. A failed creation is retried by the backend with back-off;
when creations keep failing (``fail_after`` in a row), waiting episodes get ``SandboxUnavailable``
carrying the engine's error instead of hanging, while the pool keeps retrying in the background.

Cleanup: ``close()`` (also on ``with``-exit, interpreter exit and SIGTERM) destroys every sandbox
the pool made and then removes anything still labelled with the pool's id. A process killed
outright leaves nothing either: see ``docker.py`` (StdinOnce + auto_remove); ``turngym sandbox gc``
removes what any other accident leaves.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import os
import queue
import signal
import threading
import time
import uuid
import weakref
from typing import Any

from .base import SandboxUnavailable

_LIVE: weakref.WeakSet[SandboxPool] = weakref.WeakSet()
_HOOKED = False


def _close_all() -> None:
    for pool in list(_LIVE):
        pool.close()


def _on_sigterm(signum, frame) -> None:
    _close_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_hooks() -> None:
    global _HOOKED
    if _HOOKED:
        return
    _HOOKED = True
    atexit.register(_close_all)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


class SandboxPool:
    """Keeps warm sandboxes from ``backend`` (anything with ``create(labels)`` and
    ``remove_labelled(labels)``) and hands them out one per episode. Thread-safe; async via
    ``async with pool.sandbox()``."""

    def __init__(self, backend, size: int = 4, max_active: int = 32, create_workers: int = 2,
                 discard_workers: int = 2, fail_after: int = 2, acquire_timeout: float = 120.0) -> None:
        if size < 0 or max_active < 1:
            raise ValueError("need size >= 0 and max_active >= 1")
        self.backend, self.size, self.max_active = backend, size, max_active
        self.fail_after, self.acquire_timeout = fail_after, acquire_timeout
        self.id = uuid.uuid4().hex[:12]
        self.labels = {"turngym.pool": self.id}
        self.closed = False
        self.last_error: BaseException | None = None
        self.failures = 0  # creations failed in a row
        self.counts = collections.Counter()
        self._warm: collections.deque = collections.deque()
        self._active: set = set()
        self._creating = 0
        self._waiting = 0
        self._cond = threading.Condition()
        self._slots = threading.BoundedSemaphore(max_active)
        self._discards: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._create_loop, name=f"sandbox-create-{i}", daemon=True)
                         for i in range(create_workers)]
        self._threads += [threading.Thread(target=self._discard_loop, name=f"sandbox-discard-{i}", daemon=True)
                          for i in range(discard_workers)]
        _install_hooks()
        _LIVE.add(self)
        for t in self._threads:
            t.start()

    # ---- background work
    def _wanted(self) -> bool:
        total = len(self._warm) + len(self._active) + self._creating
        return (len(self._warm) + self._creating < self.size + self._waiting
                and total < self.size + self.max_active)

    def _create_loop(self) -> None:
        while True:
            with self._cond:
                while not self.closed and not self._wanted():
                    self._cond.wait()
                if self.closed:
                    return
                self._creating += 1
            sandbox, error = None, None
            try:
                sandbox = self.backend.create(self.labels)
            except Exception as e:  # noqa: BLE001 - recorded and reported to waiting episodes
                error = e
            with self._cond:
                self._creating -= 1
                if sandbox is not None:
                    self.failures, self.last_error = 0, None
                    self.counts["created"] += 1
                    if self.closed:
                        self._discards.put(sandbox)
                    else:
                        self._warm.append(sandbox)
                else:
                    self.failures += 1
                    self.last_error = error
                    self.counts["create_failed"] += 1
                self._cond.notify_all()
                backoff = min(0.25 * 2 ** min(self.failures, 6), 10.0) if error is not None else 0.0
            if backoff:
                with self._cond:
                    self._cond.wait_for(lambda: self.closed, timeout=backoff)

    def _discard_loop(self) -> None:
        while True:
            sandbox = self._discards.get()
            if sandbox is None:
                return
            try:
                sandbox.close()
                outcome = "discarded"
            except Exception:  # noqa: BLE001 - remove_labelled at close() catches what is left
                outcome = "discard_failed"
            with self._cond:
                self.counts[outcome] += 1

    # ---- handing out
    def acquire(self, timeout: float | None = None):
        """A warm sandbox no other episode has used; blocks at ``max_active`` or until one is warm.
        Raises ``SandboxUnavailable`` when the pool is closed, creations keep failing, or on timeout."""
        timeout = self.acquire_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise SandboxUnavailable(f"no sandbox slot free within {timeout:.1f}s ({self.max_active} in use)")
        try:
            while True:
                with self._cond:
                    self._waiting += 1
                    self._cond.notify_all()
                    try:
                        while not self._warm:
                            if self.closed:
                                raise SandboxUnavailable("sandbox pool is closed")
                            if self.failures >= self.fail_after:
                                raise SandboxUnavailable(f"sandboxes cannot be created: {self.last_error}") from self.last_error
                            left = deadline - time.monotonic()
                            if left <= 0:
                                raise SandboxUnavailable(f"no sandbox became ready within {timeout:.1f}s"
                                                         + (f"; last error: {self.last_error}" if self.last_error else ""))
                            self._cond.wait(left)
                        sandbox = self._warm.popleft()
                    finally:
                        self._waiting -= 1
                    self._active.add(sandbox)
                    self._cond.notify_all()
                alive = sandbox.ping()
                with self._cond:
                    self.counts["handed_out" if alive else "dead_on_handout"] += 1
                if alive:
                    return sandbox
                self._drop(sandbox)
        except BaseException:
            self._slots.release()
            raise

    def release(self, sandbox) -> None:
        """Give a sandbox back: it is destroyed in the background and replaced."""
        with self._cond:
            if sandbox not in self._active:
                return
        self._drop(sandbox)
        self._slots.release()

    def _drop(self, sandbox) -> None:
        with self._cond:
            self._active.discard(sandbox)
            self._cond.notify_all()
        self._discards.put(sandbox)

    def sandbox(self, timeout: float | None = None) -> _Lease:
        """``with pool.sandbox() as sb:`` or ``async with pool.sandbox() as sb:``."""
        return _Lease(self, timeout)

    def wait_warm(self, n: int | None = None, timeout: float = 120.0) -> int:
        """Block until ``n`` (default ``size``) sandboxes are warm; returns how many are."""
        n = self.size if n is None else n
        with self._cond:
            self._cond.wait_for(lambda: len(self._warm) >= n or self.closed or self.failures >= self.fail_after, timeout)
            return len(self._warm)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"warm": len(self._warm), "active": len(self._active), "creating": self._creating,
                    "waiting": self._waiting, "failures": self.failures, **self.counts}

    # ---- shutdown
    def close(self, timeout: float = 30.0) -> None:
        """Destroy every sandbox this pool made (warm, handed out, being made) and wait for it."""
        with self._cond:
            if self.closed:
                return
            self.closed = True
            leftovers = list(self._warm) + list(self._active)
            self._warm.clear()
            self._active.clear()
            self._cond.notify_all()
        _LIVE.discard(self)
        for sandbox in leftovers:
            self._discards.put(sandbox)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t.name.startswith("sandbox-create"):
                t.join(max(0.0, deadline - time.monotonic()))
        for t in self._threads:
            if t.name.startswith("sandbox-discard"):
                self._discards.put(None)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        try:
            self.backend.remove_labelled(self.labels)
        except Exception:  # noqa: BLE001 - at exit, best effort; `turngym sandbox gc` is the fallback
            pass

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Lease:
    def __init__(self, pool: SandboxPool, timeout: float | None) -> None:
        self.pool, self.timeout, self.sandbox = pool, timeout, None

    def __enter__(self):
        self.sandbox = self.pool.acquire(self.timeout)
        return self.sandbox

    def __exit__(self, *exc) -> None:
        self.pool.release(self.sandbox)

    async def __aenter__(self):
        self.sandbox = await asyncio.to_thread(self.pool.acquire, self.timeout)
        return self.sandbox

    async def __aexit__(self, *exc) -> None:
        self.pool.release(self.sandbox)
