"""The Docker backend: one container per sandbox, the worker as its PID 1, spoken to over an attach socket.

A container is created with the worker's source on its command line (``python3 -I -c SOURCE``),
stdin open and *StdinOnce*, then attached (stdin+stdout+stderr as one hijacked HTTP connection to
the engine) and started. Requests go down that connection and replies come back in Docker's
multiplexed stream format, so a call on a warm sandbox is a round trip through dockerd, not a
``docker exec`` (which creates and starts a new process through containerd each time).

Isolation, all on by default: ``network_mode=none``; memory limit with swap equal to it (no swap);
pids limit; CPU quota; read-only root; tmpfs ``/workspace`` (exec allowed), ``/tmp`` and
``/dev/shm`` with size and inode limits; bounded SysV IPC (see ``host_config_kwargs``); user 65534; ``cap_drop=ALL``; ``no-new-privileges``; no init
process (the worker is PID 1, see ``worker.py``); output capped and wall-clock timeouts enforced by
the worker. The worker kills every process in the container after each call.

Crash safety: with StdinOnce, the container's stdin closes when the attaching process goes away
(even on SIGKILL), the worker reads EOF and exits, and ``auto_remove`` deletes the container. Every
container carries the label ``turngym.sandbox=1`` (plus pool, pid and host labels) so that
``turngym sandbox gc`` can find leftovers.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from .base import (
    WORKER_SOURCE,
    WORKSPACE,
    Limits,
    SandboxError,
    SandboxUnavailable,
    WorkerSandbox,
)
from .image import IMAGE

LABEL = "turngym.sandbox"
USER = "65534:65534"
_HEADER = struct.Struct(">BxxxL")
T = TypeVar("T")


def _docker():
    try:
        import docker
    except ImportError as e:  # pragma: no cover - docker is in the [sandbox] extra
        raise SandboxUnavailable("the Docker backend needs the docker SDK: pip install 'turngym[sandbox]'") from e
    return docker


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying: the engine refused (5xx, 429), timed out, or the connection dropped."""
    import requests

    docker = _docker()
    if isinstance(error, docker.errors.APIError):
        code = error.status_code or 0
        return code >= 500 or code == 429
    return isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError))


def with_retry(fn: Callable[[], T], what: str, attempts: int = 4, delay: float = 0.2, max_delay: float = 3.0,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn``; on a transient engine error wait (exponential back-off) and try again, up to
    ``attempts`` times, then raise ``SandboxUnavailable`` naming the operation and the last error."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as e:
            if not is_transient(e):
                raise
            if attempt == attempts:
                raise SandboxUnavailable(
                    f"Docker engine failed to {what} {attempts} times; last error: {type(e).__name__}: {e}. "
                    "Is dockerd running and healthy (`docker info`)?") from e
            sleep(min(delay * 2 ** (attempt - 1), max_delay))
    raise AssertionError("unreachable")


def host_config_kwargs(limits: Limits) -> dict:
    """The isolation settings, as keyword arguments of ``APIClient.create_host_config``.

    Memory that outlives a process is what can take the worker down (the OOM killer then finds
    nothing else to kill), so all of it is bounded well under ``limits.memory``: tmpfs data by
    ``size=``, tmpfs inodes and dentries (about 1 KiB of kernel memory each, charged to the
    container; empty files cost no ``size``) by ``nr_inodes=`` (hard links count too), SysV shared
    memory by ``shmall`` and removed with its last process (``shm_rmid_forced``), SysV message
    queues by ``msgmni``. Process memory is bounded by the cgroup, and the worker's children carry
    OOM score 1000, so the kernel kills them, not the worker."""
    tmp_opts = f"rw,noexec,nosuid,nodev,size={limits.tmp_size},nr_inodes={limits.tmp_inodes},mode=1777"
    return dict(
        network_mode="none",
        mem_limit=limits.memory,
        memswap_limit=limits.memory,
        pids_limit=limits.pids,
        nano_cpus=int(limits.cpus * 1e9),
        read_only=True,
        tmpfs={WORKSPACE: f"rw,exec,nosuid,nodev,size={limits.workspace_size},nr_inodes={limits.workspace_inodes},mode=1777",
               "/tmp": tmp_opts, "/dev/shm": tmp_opts},
        sysctls={"kernel.shm_rmid_forced": "1", "kernel.shmmax": str(limits.tmp_size),
                 "kernel.shmall": str(max(limits.tmp_size // 4096, 1)), "kernel.msgmni": "16"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ipc_mode="private",
        init=False,
        auto_remove=True,
    )


THREAD_STACK = 8 << 20  # glibc's default thread stack (RLIMIT_STACK), reserved per thread
ARENAS = 2 * (64 << 20)  # the worker caps malloc arenas at 2 (M_ARENA_MAX) where RLIMIT_AS applies


def address_space(limits: Limits) -> int:
    """Per-process RLIMIT_AS in a container: ``memory + pids * 8 MiB + 128 MiB``.

    The cgroup is what bounds memory; this limit only turns one absurd allocation (``bytearray(4 <<
    30)``) into a ``MemoryError`` instead of an OOM kill. It leaves room for a reserved (not used)
    stack for as many threads as the pids limit allows and for two malloc arenas: at ``memory``
    alone, about 20 threads could start."""
    return limits.memory + limits.pids * THREAD_STACK + ARENAS


class DockerSandbox(WorkerSandbox):
    """A sandbox backed by one container; make one with ``DockerSandbox.create`` or a ``SandboxPool``."""

    def __init__(self, client, container_id: str, sock, limits: Limits) -> None:
        super().__init__(limits)
        self.client = client
        self.id = container_id
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._sock_owner = sock  # keeps the HTTP response (and so the connection) alive
        self._raw = bytearray()     # bytes read off the socket, not yet parsed into frames
        self._stdout = bytearray()  # the worker's stdout, de-multiplexed
        self.worker_stderr = bytearray()

    @classmethod
    def create(cls, client=None, image: str = IMAGE, limits: Limits | None = None,
               labels: Mapping[str, str] | None = None, attempts: int = 4, delay: float = 0.2) -> DockerSandbox:
        """Create, attach and start a container, then check that its worker answers."""
        docker = _docker()
        client = client or docker.from_env()
        limits = limits or Limits()
        api = client.api
        config = {"workspace": WORKSPACE, "wipe": ["/tmp", "/dev/shm"], "memory": limits.memory,
                  "address_space": address_space(limits), "file_size": limits.file_size, "open_files": limits.open_files}
        all_labels = {LABEL: "1", "turngym.pid": str(os.getpid()), "turngym.host": socket.gethostname(), **(labels or {})}
        try:
            created = with_retry(lambda: api.create_container(
                image, command=["python3", "-I", "-c", WORKER_SOURCE, json.dumps(config)], user=USER,
                detach=False, stdin_open=True, tty=False, labels=all_labels, working_dir=WORKSPACE,
                environment={"LANG": "C.UTF-8"}, network_disabled=True,
                host_config=api.create_host_config(**host_config_kwargs(limits))),
                "create a container", attempts, delay)
        except docker.errors.ImageNotFound as e:
            raise SandboxUnavailable(
                f"sandbox image {image} is missing: build it with `turngym sandbox build --offline` "
                "(or `docker build -t turngym-sandbox:1 sandboxes/`)") from e
        cid = created["Id"]
        try:
            sock = with_retry(lambda: api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}),
                              "attach to a container", attempts, delay)
            with_retry(lambda: api.start(cid), "start a container", attempts, delay)
            sandbox = cls(client, cid, sock, limits)
            if not sandbox.ping(timeout=20.0):
                raise SandboxError(f"worker in container {cid[:12]} did not start: {sandbox.broken}; "
                                   f"worker stderr: {bytes(sandbox.worker_stderr[-2000:]).decode(errors='replace')}")
            return sandbox
        except BaseException:
            _remove(client, cid)
            raise

    # ---- transport
    def _send(self, data: bytes) -> None:
        self._sock.settimeout(30.0)
        self._sock.sendall(data)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        while len(self._stdout) < n:
            self._read_frame(deadline)
        out = bytes(self._stdout[:n])
        del self._stdout[:n]
        return out

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._raw) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                raise TimeoutError
            chunk = self._sock.recv(max(65536, n - len(self._raw)))
            if not chunk:
                raise EOFError("container closed the attach stream (worker exited)")
            self._raw += chunk

    def _read_frame(self, deadline: float) -> None:
        self._fill(_HEADER.size, deadline)
        stream, size = _HEADER.unpack_from(self._raw)
        self._fill(_HEADER.size + size, deadline)
        payload = self._raw[_HEADER.size:_HEADER.size + size]
        del self._raw[:_HEADER.size + size]
        if stream == 1:
            self._stdout += payload
        else:
            self.worker_stderr = (self.worker_stderr + payload)[-8192:]

    def _destroy(self) -> None:
        try:
            self._sock.close()  # stdin EOF: the worker exits and auto_remove deletes the container
        finally:
            _remove(self.client, self.id)

    def kill_container(self) -> None:
        """Kill the container from outside (what a crashed engine or OOM would look like)."""
        self.client.api.kill(self.id)


def _remove(client, cid: str) -> None:
    docker = _docker()
    try:
        with_retry(lambda: client.api.remove_container(cid, force=True), "remove a container", 3, 0.2)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if e.status_code != 409:  # 409: auto-removal already in progress
            raise


class DockerBackend:
    """Makes ``DockerSandbox``es for a pool; ``client`` may be any object with the SDK's ``api``."""

    name = "docker"

    def __init__(self, image: str = IMAGE, limits: Limits | None = None, client=None, attempts: int = 4,
                 delay: float = 0.2) -> None:
        self.image, self.limits, self.attempts, self.delay = image, limits or Limits(), attempts, delay
        self._client = client

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = _docker().from_env(timeout=60, max_pool_size=64)
            except Exception as e:
                raise SandboxUnavailable(f"no Docker engine reachable ({e}); start dockerd or use backend='local'") from e
        return self._client

    def check(self) -> None:
        """Raise ``SandboxUnavailable`` with a clear message when the engine or the image is missing."""
        from .image import image_exists

        with_retry(self.client.ping, "answer a ping", self.attempts, self.delay)
        if not image_exists(self.client, self.image):
            raise SandboxUnavailable(f"sandbox image {self.image} is missing: build it with `turngym sandbox build --offline`")

    def create(self, labels: Mapping[str, str] | None = None) -> DockerSandbox:
        return DockerSandbox.create(self.client, self.image, self.limits, labels, self.attempts, self.delay)

    def remove_labelled(self, labels: Mapping[str, str]) -> int:
        """Force-remove every container carrying all of ``labels``; returns how many."""
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        found = with_retry(lambda: self.client.api.containers(all=True, filters=filters), "list containers", self.attempts, self.delay)
        for c in found:
            _remove(self.client, c["Id"])
        return len(found)


def gc(client=None, everything: bool = False) -> list[str]:
    """Remove leftover sandbox containers: those whose creating process (on this host) is gone, or
    all of them with ``everything``. Returns the removed container ids."""
    client = client or _docker().from_env()
    host = socket.gethostname()
    removed = []
    for c in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        labels = c.get("Labels") or {}
        if not everything and labels.get("turngym.host") == host and _alive(labels.get("turngym.pid", "")):
            continue
        _remove(client, c["Id"])
        removed.append(c["Id"])
    return removed


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
