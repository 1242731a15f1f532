"""The Code env's sandbox pools: one ``SandboxPool`` per backend per process, run as an env-owned
service (:mod:`envs.services`) under the key ``sandbox-pool:<backend>``.

Nothing starts when an env is constructed: the pool (and with it the first containers) starts on
the first episode that needs a sandbox. Envs take a fresh sandbox from it per episode and give it
back at the episode's end; the pool destroys returned sandboxes and keeps new ones warm (see
``sandboxes/pool.py``). A pool that was closed is replaced on the next use; an unused pool lingers
(warm sandboxes ready for the next env) and is closed at interpreter exit.
"""

from __future__ import annotations

from envs import services
from sandboxes import BACKENDS, SandboxError, SandboxPool, SandboxUnavailable, make_pool

HOW_TO_FIX = (
    "Start a Docker engine and build the sandbox image with `turngym sandbox build --offline` "
    "(scripts/setup.d/20-docker.sh does both), or pass sandbox='local' to run model code on this host "
    "WITHOUT isolation."
)


class PoolService:
    """A ``SandboxPool`` as a :class:`envs.services.Service`."""

    def __init__(self, backend: str, size: int, max_active: int) -> None:
        self.backend, self.size, self.max_active = backend, size, max_active
        self.pool: SandboxPool | None = None

    def start(self) -> None:
        try:
            self.pool = make_pool(self.backend, size=self.size, max_active=self.max_active)
        except (SandboxError, ImportError) as e:
            raise SandboxUnavailable(f"the Code env cannot get a {self.backend} sandbox: {e}. {HOW_TO_FIX}") from e

    def healthy(self) -> bool:
        return self.pool is not None and not self.pool.closed

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()


def service_key(backend: str) -> str:
    return f"sandbox-pool:{backend}"


def pool_lease(backend: str, size: int = 2, max_active: int = 64) -> services.Lease:
    """A lease on the process-wide pool for ``backend``; starts nothing. The first caller's
    ``size``/``max_active`` win."""
    if backend not in BACKENDS:
        raise ValueError(f"sandbox must be one of {BACKENDS}, got {backend!r}")
    return services.acquire(service_key(backend), lambda: PoolService(backend, size, max_active))


def pool_of(lease: services.Lease) -> SandboxPool:
    """The running pool behind ``lease``, started (and checked) now if needed. Raises
    ``SandboxUnavailable`` naming the fix when the backend cannot work (no engine, no image)."""
    try:
        return lease.get().pool
    except services.ServiceUnavailable as e:
        raise SandboxUnavailable(str(e.__cause__ or e)) from e


def shared_pool(backend: str, size: int = 2, max_active: int = 64) -> SandboxPool:
    """The process-wide pool for ``backend``, started now (it keeps running after this returns)."""
    lease = pool_lease(backend, size, max_active)
    try:
        return pool_of(lease)
    finally:
        lease.release()


def close_pools() -> None:
    """Close every shared pool now (tests; normally done at exit). The next use starts a new one."""
    for backend in BACKENDS:
        services.stop(service_key(backend))
