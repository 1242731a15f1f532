"""Env-owned services: the things an env family runs beside it (an HTTP app, a headless browser, a
sandbox pool), started lazily, shared per process, health-checked, restarted, stopped at exit.

    lease = acquire("webshop:8123", lambda: ShopServer(port=8123))   # nothing runs yet
    shop = lease.get()          # first use: starts it (blocks until ready), later uses share it
    lease.release()             # idempotent; `with acquire(...) as shop:` does both

Contract:

* A :class:`Service` has ``start()`` (blocks until ready, raises on failure), ``healthy() -> bool``
  and ``stop()``. ``factory()`` makes a fresh, *unstarted* one; it is called on the first ``get()``
  and again for every restart, so a restarted service never reuses a dead object's state.
* ``acquire`` starts nothing: constructing an env or ``gymnasium.make`` stays free. One service per
  ``key`` per process, shared by every lease; the reference count is the number of unreleased
  leases. The first ``acquire`` of a key fixes its factory and options.
* ``lease.get()`` checks health at most once per ``check_every`` seconds (``healthy()`` can be a
  network round trip); an unhealthy service is stopped (errors ignored) and replaced by a new one
  from the factory. A failed ``start()`` raises :class:`ServiceUnavailable` (an infrastructure
  fault, never the policy's) and the next ``get()`` tries again.
* Lingering: a service whose last lease is released **keeps running** by default (``linger=None``):
  envs are made and dropped per episode, and restarting a server or a warm sandbox pool each time
  would cost seconds per episode. ``linger=0`` stops it at once, ``linger=t`` after ``t`` idle
  seconds (a new lease in between keeps it). Every running service is stopped at interpreter exit.
* Leases not released (an env dropped unclosed) are released when garbage-collected.

:class:`BoundedSessions` is the session table for a service that hands out sessions (a web shop's
per-episode carts, a browser's contexts): at most ``max_sessions`` live, each reclaimed after
``idle_ttl`` seconds without use, and when full the least recently used is reclaimed to make room,
so a client that never closes its sessions cannot grow the service without bound.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

__all__ = ["BoundedSessions", "Lease", "Service", "ServiceUnavailable", "SessionGone", "acquire", "info", "stop", "stop_all"]

V = TypeVar("V")


@runtime_checkable
class Service(Protocol):
    def start(self) -> None: ...

    def healthy(self) -> bool: ...

    def stop(self) -> None: ...


class ServiceUnavailable(RuntimeError):
    """A service could not be started (an infrastructure fault: the episode did not cause it)."""


class _Entry:
    """One key's service and bookkeeping; ``lock`` serialises start/restart/stop of this key only."""

    def __init__(self, key: str, factory: Callable[[], Service], check_every: float, linger: float | None) -> None:
        self.key, self.factory, self.check_every, self.linger = key, factory, check_every, linger
        self.service: Service | None = None
        self.refs = 0
        self.starts = 0
        self.last_check = 0.0
        self.lock = threading.RLock()
        self.timer: threading.Timer | None = None

    def get(self) -> Service:
        with self.lock:
            now = time.monotonic()
            if self.service is not None and now - self.last_check >= self.check_every:
                self.last_check = now
                if not _healthy(self.service):
                    self._stop()
            if self.service is None:
                service = self.factory()
                try:
                    service.start()
                except Exception as e:
                    _stop_quietly(service)
                    raise ServiceUnavailable(f"service {self.key!r} failed to start: {type(e).__name__}: {e}") from e
                self.service, self.starts, self.last_check = service, self.starts + 1, time.monotonic()
            return self.service

    def _stop(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            _stop_quietly(service)

    def stop(self) -> None:
        with self.lock:
            with _LOCK:
                if self.timer is not None:
                    self.timer.cancel()
                    self.timer = None
            self._stop()


def _healthy(service: Service) -> bool:
    try:
        return bool(service.healthy())
    except Exception:  # noqa: BLE001 - a health check that raises means unhealthy
        return False


def _stop_quietly(service: Service) -> None:
    with contextlib.suppress(Exception):  # it is being replaced, or the process is exiting
        service.stop()


_ENTRIES: dict[str, _Entry] = {}
_LOCK = threading.Lock()  # guards _ENTRIES and every entry's refs/timer


def acquire(key: str, factory: Callable[[], Service], *, check_every: float = 5.0, linger: float | None = None) -> Lease:
    """A lease on the process-wide service ``key``; starts nothing (see the module docstring)."""
    if check_every < 0 or (linger is not None and linger < 0):
        raise ValueError(f"check_every and linger must be >= 0, got {check_every}, {linger}")
    with _LOCK:
        entry = _ENTRIES.get(key)
        if entry is None:
            entry = _ENTRIES[key] = _Entry(key, factory, check_every, linger)
        entry.refs += 1
        if entry.timer is not None:  # a new user arrived while it lingered
            entry.timer.cancel()
            entry.timer = None
    return Lease(entry)


def _release(entry: _Entry) -> None:
    with _LOCK:
        entry.refs -= 1
        if entry.refs > 0 or entry.linger is None:
            return
        if entry.linger > 0:
            entry.timer = threading.Timer(entry.linger, _stop_if_unused, args=(entry,))
            entry.timer.daemon = True
            entry.timer.start()
            return
    _stop_if_unused(entry)


def _stop_if_unused(entry: _Entry) -> None:
    """Stop a service nobody holds. The entry stays registered (refs 0, not running), so a later
    ``acquire`` of the key waits on its lock for the stop to finish and then starts a fresh one."""
    with entry.lock:  # lock order everywhere: entry.lock, then _LOCK
        with _LOCK:
            if entry.refs > 0:
                return
            entry.timer = None
        entry._stop()


class Lease:
    """One user's hold on a shared service; ``get()`` it per use, ``release()`` it when done."""

    def __init__(self, entry: _Entry) -> None:
        self.key = entry.key
        self._entry: _Entry | None = entry
        self._finalizer = weakref.finalize(self, _release, entry)

    @property
    def released(self) -> bool:
        return self._entry is None

    def get(self) -> Any:
        """The running service: started on first use, restarted if its health check fails."""
        entry = self._entry
        if entry is None:
            raise RuntimeError(f"lease on service {self.key!r} was released")
        return entry.get()

    def release(self) -> None:
        if self._entry is not None:
            self._entry = None
            self._finalizer()  # runs _release exactly once

    def __enter__(self) -> Any:
        return self.get()

    def __exit__(self, *exc: object) -> None:
        self.release()


def info(key: str) -> dict[str, Any] | None:
    """``{"refs", "running", "starts"}`` for ``key`` (None when no lease ever asked for it);
    ``starts`` counts every start, restarts included."""
    with _LOCK:
        entry = _ENTRIES.get(key)
        if entry is None:
            return None
        return {"refs": entry.refs, "running": entry.service is not None, "starts": entry.starts}


def stop(key: str) -> None:
    """Stop the service ``key`` now, if it runs. Leases stay valid: a later ``get()`` starts it again."""
    with _LOCK:
        entry = _ENTRIES.get(key)
    if entry is not None:
        entry.stop()


def stop_all() -> None:
    """Stop every service now (done at interpreter exit). Leases stay valid: a later ``get()``
    starts the service again."""
    with _LOCK:
        entries = list(_ENTRIES.values())
    for entry in entries:
        entry.stop()


atexit.register(stop_all)


# ---- sessions ------------------------------------------------------------------------------------

class SessionGone(KeyError):
    """The session id is unknown, or was reclaimed (the message says why)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "session gone"


class BoundedSessions(Generic[V]):
    """A thread-safe session table with a size cap and an idle timeout.

    ``add(value)`` returns a new session id (or takes ``key``); ``get(key)`` returns the value and
    marks it used; ``close(key)`` ends it. Before every ``add``, sessions idle for more than
    ``idle_ttl`` seconds are reclaimed; then, while the table is full, the least recently used one
    is. Reclaimed and closed values go to ``on_close(key, value, reason)`` with reason ``"idle"``,
    ``"full"`` or ``"closed"`` (outside the lock, so it may do slow work). ``get`` of a reclaimed
    session raises :class:`SessionGone` saying it was reclaimed and why.
    """

    def __init__(self, max_sessions: int, idle_ttl: float | None = None,
                 on_close: Callable[[Hashable, V, str], None] | None = None, clock: Callable[[], float] = time.monotonic,
                 remember: int = 1024) -> None:
        if max_sessions < 1 or (idle_ttl is not None and idle_ttl <= 0):
            raise ValueError(f"need max_sessions >= 1 and idle_ttl > 0 (or None), got {max_sessions}, {idle_ttl}")
        self.max_sessions, self.idle_ttl, self.on_close, self.clock = max_sessions, idle_ttl, on_close, clock
        self._live: collections.OrderedDict[Hashable, tuple[V, float]] = collections.OrderedDict()  # LRU first
        self._gone: collections.OrderedDict[Hashable, str] = collections.OrderedDict()  # recent ids -> why
        self._remember = remember
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, value: V, key: Hashable | None = None) -> Hashable:
        key = uuid.uuid4().hex if key is None else key
        with self._lock:
            if key in self._live:
                raise ValueError(f"session {key!r} already exists")
            dropped = self._expire_locked()
            while len(self._live) >= self.max_sessions:
                old_key, (old_value, _) = self._live.popitem(last=False)
                dropped.append((old_key, old_value, "full"))
            self._live[key] = (value, self.clock())
            self._gone.pop(key, None)
            self._forget_locked(dropped)
            self.counts["added"] += 1
        self._notify(dropped)
        return key

    def get(self, key: Hashable) -> V:
        with self._lock:
            dropped = self._expire_locked()
            self._forget_locked(dropped)
            found = self._live.get(key)
            if found is not None:
                self._live[key] = (found[0], self.clock())
                self._live.move_to_end(key)
        self._notify(dropped)
        if found is None:
            raise SessionGone(self._why(key))
        return found[0]

    def close(self, key: Hashable) -> bool:
        """End a session; False when it was not live."""
        with self._lock:
            found = self._live.pop(key, None)
            if found is not None:
                self._forget_locked([(key, found[0], "closed")])
        if found is None:
            return False
        self._notify([(key, found[0], "closed")])
        return True

    def reap(self) -> list[Hashable]:
        """Reclaim idle sessions now (``add`` and ``get`` also do); returns their ids, oldest first."""
        with self._lock:
            dropped = self._expire_locked()
            self._forget_locked(dropped)
        self._notify(dropped)
        return [k for k, _, _ in dropped]

    def close_all(self) -> None:
        with self._lock:
            dropped = [(k, v, "closed") for k, (v, _) in self._live.items()]
            self._live.clear()
            self._forget_locked(dropped)
        self._notify(dropped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._live

    def keys(self) -> Iterator[Hashable]:
        """Live ids, least recently used first."""
        with self._lock:
            return iter(list(self._live))

    # ---- internals (called with the lock held)
    def _expire_locked(self) -> list[tuple[Hashable, V, str]]:
        if self.idle_ttl is None:
            return []
        cutoff = self.clock() - self.idle_ttl
        dropped = []
        while self._live:
            key, (value, used) = next(iter(self._live.items()))
            if used > cutoff:
                break  # LRU order: every later one was used more recently
            del self._live[key]
            dropped.append((key, value, "idle"))
        return dropped

    def _forget_locked(self, dropped: list[tuple[Hashable, V, str]]) -> None:
        for key, _, reason in dropped:
            self._gone[key] = reason
            self.counts[reason] += 1
        while len(self._gone) > self._remember:
            self._gone.popitem(last=False)

    def _why(self, key: Hashable) -> str:
        with self._lock:
            reason = self._gone.get(key)
        if reason == "idle":
            return f"session {key!r} was reclaimed after {self.idle_ttl:g}s without use"
        if reason == "full":
            return f"session {key!r} was reclaimed to make room (at most {self.max_sessions} sessions live)"
        if reason == "closed":
            return f"session {key!r} was closed"
        return f"no session {key!r}"

    def _notify(self, dropped: list[tuple[Hashable, V, str]]) -> None:
        if self.on_close is None:
            return
        for key, value, reason in dropped:
            with contextlib.suppress(Exception):  # one failing cleanup must not stop the others
                self.on_close(key, value, reason)
