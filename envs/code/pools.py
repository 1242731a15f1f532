"""One ``SandboxPool`` per backend for the whole process, shared by every Code env.

Envs take a fresh sandbox from it for each episode and give it back at the episode's end; the
pool destroys returned sandboxes and keeps new ones warm (see ``sandboxes/pool.py``). The pools
close themselves at interpreter exit.
"""

from __future__ import annotations

import threading

from sandboxes import BACKENDS, SandboxError, SandboxPool, SandboxUnavailable, make_pool

_POOLS: dict[str, SandboxPool] = {}
_LOCK = threading.Lock()

HOW_TO_FIX = (
    "Start a Docker engine and build the sandbox image with `turngym sandbox build --offline` "
    "(scripts/setup.d/20-docker.sh does both), or pass sandbox='local' to run model code on this host "
    "WITHOUT isolation."
)


def shared_pool(backend: str, size: int = 2, max_active: int = 64) -> SandboxPool:
    """The process-wide pool for ``backend`` ("docker" or "local"), made (and checked) on first use.

    Raises ``SandboxUnavailable`` naming the fix when the backend cannot work (no engine, no image).
    The first caller's ``size``/``max_active`` win.
    """
    if backend not in BACKENDS:
        raise ValueError(f"sandbox must be one of {BACKENDS}, got {backend!r}")
    with _LOCK:
        pool = _POOLS.get(backend)
        if pool is None or pool.closed:
            try:
                pool = make_pool(backend, size=size, max_active=max_active)
            except (SandboxError, ImportError) as e:
                raise SandboxUnavailable(f"the Code env cannot get a {backend} sandbox: {e}. {HOW_TO_FIX}") from e
            _POOLS[backend] = pool
        return pool


def close_pools() -> None:
    """Close every shared pool now (tests; normally done at exit)."""
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
