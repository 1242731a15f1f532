"""Sandboxes for model-written code: the ``Sandbox`` protocol (``sandboxes/base.py``), Docker and local backends, a warm pool.

    from sandboxes import make_pool
    with make_pool("docker", size=4) as pool, pool.sandbox() as sb:
        result = sb.run("print(1 + 1)", timeout=5)          # ExecResult(stdout='2\\n', exit_code=0, ...)
        sb.run("sqlite3 db.sqlite 'select 1'", lang="sh")   # a shell command
        sb.put_files({"data.csv": b"a,b\\n"}); sb.get_file("out.txt")

``docker`` is the isolating backend (``docker.py``); ``local`` (``local.py``) runs on the host and is
NOT isolation, so it is used only when asked for by name. ``SandboxPool`` (``pool.py``) keeps warm
sandboxes and hands each episode one that no other episode has used.
"""

from __future__ import annotations

from .base import (
    ExecResult,
    Limits,
    Sandbox,
    SandboxError,
    SandboxUnavailable,
    WorkerSandbox,
)
from .image import IMAGE
from .pool import SandboxPool

BACKENDS = ("docker", "local")


def get_backend(name: str = "docker", **kwargs):
    """A sandbox factory by name: ``docker`` (``DockerBackend``) or ``local`` (``LocalBackend``)."""
    if name == "docker":
        from .docker import DockerBackend

        return DockerBackend(**kwargs)
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(**kwargs)
    raise ValueError(f"unknown sandbox backend {name!r}; choose one of {BACKENDS}")


def make_pool(backend: str = "docker", *, size: int = 4, max_active: int = 32, **backend_kwargs) -> SandboxPool:
    """A started ``SandboxPool`` over the named backend; checks the backend first and raises
    ``SandboxUnavailable`` with the reason (no engine, no image) when it cannot work."""
    factory = get_backend(backend, **backend_kwargs)
    factory.check()
    return SandboxPool(factory, size=size, max_active=max_active)


__all__ = [
    "BACKENDS",
    "IMAGE",
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxError",
    "SandboxPool",
    "SandboxUnavailable",
    "WorkerSandbox",
    "get_backend",
    "make_pool",
]
