"""The sandbox contract: ``ExecResult``, the ``Sandbox`` protocol, limits, errors, and the host side of
the worker protocol that both backends share.

Every backend runs ``sandboxes/worker.py`` (stdlib only) as a long-lived process and talks to it
with length-prefixed JSON: a 4-byte big-endian length, then a UTF-8 JSON object. The Docker backend
reaches the worker through the container's attached stdin/stdout, the local backend through a
subprocess's pipes. ``WorkerSandbox`` holds everything above the byte transport: request framing,
timeouts, turning a dead or hung worker into a clear ``ExecResult`` and a ``broken`` flag.
"""

from __future__ import annotations

import asyncio
import base64
import json
import posixpath
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

WORKER_SOURCE = Path(__file__).with_name("worker.py").read_text()
WORKSPACE = "/workspace"
_LEN = struct.Struct(">I")
MAX_FRAME = 256 << 20


class ExecResult(BaseModel):
    """What one call produced.

    ``exit_code`` is the process's exit status; ``-N`` means it was killed by signal ``N`` (a wall
    timeout kills with SIGKILL: ``-9`` and ``timed_out``). ``truncated`` says stdout/stderr were cut
    at the output cap. ``error`` is set when the *sandbox* failed rather than the program (the worker
    died or hung, the container vanished); such a sandbox is ``broken`` and a pool discards it.
    """

    stdout: str
    stderr: str
    exit_code: int
    duration: float
    timed_out: bool = False
    truncated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted code: no network, bounded memory/pids/CPU/output, non-root, fresh workspace."""

    def run(self, code_or_cmd: str | Sequence[str], timeout: float = 10.0, files: Mapping[str, bytes | str] | None = None,
            *, lang: str = "python", stdin: bytes | str | None = None) -> ExecResult: ...

    def put_files(self, files: Mapping[str, bytes | str]) -> None: ...

    def get_file(self, path: str) -> bytes | None: ...

    def close(self) -> None: ...


class SandboxError(RuntimeError):
    """A sandbox could not be made or used; the message says why and what to check."""


class SandboxUnavailable(SandboxError):
    """No sandbox could be handed out (engine down, image missing, pool closed, timeout)."""


@dataclass(frozen=True)
class Limits:
    """Per-call and per-sandbox bounds. Memory and sizes in bytes, times in seconds."""

    memory: int = 512 << 20          # container memory (= memory + swap: no swap); local backend: per-process RLIMIT_AS
    cpus: float = 1.0                # CPU quota of the container
    pids: int = 128                  # pids cgroup limit of the container (the fork-bomb bound)
    workspace_size: int = 64 << 20   # tmpfs /workspace
    tmp_size: int = 16 << 20         # tmpfs /tmp (and /dev/shm)
    workspace_inodes: int = 16384    # tmpfs inode caps: empty files cost kernel memory, not size
    tmp_inodes: int = 4096           # ... for /tmp and /dev/shm each
    file_size: int = 32 << 20        # RLIMIT_FSIZE per process
    open_files: int = 256            # RLIMIT_NOFILE per process
    max_output: int = 64 << 10       # bytes kept per stream
    output_kill: int = 8 << 20       # a call writing more than this in total is killed
    max_timeout: float = 300.0       # upper bound for any one call's timeout


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def check_path(path: str) -> str:
    """A workspace-relative path, normalised; rejects paths that climb out of the workspace."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ValueError(f"bad sandbox path {path!r}")
    norm = posixpath.normpath(path)
    if norm.startswith(WORKSPACE + "/"):
        norm = norm[len(WORKSPACE) + 1:]
    if posixpath.isabs(norm) or norm == ".." or norm.startswith("../") or norm == ".":
        raise ValueError(f"sandbox path {path!r} is outside the workspace {WORKSPACE}")
    return norm


def truncate(data: bytes, limit: int) -> tuple[str, bool]:
    """Decode at most ``limit`` bytes as UTF-8 (bad bytes replaced); says whether it cut."""
    cut = len(data) > limit
    return data[:limit].decode("utf-8", "replace"), cut


class WorkerSandbox:
    """Host side of the worker protocol over some byte transport; subclasses provide the transport.

    Subclasses implement ``_send(bytes)``, ``_recv_exact(n, deadline)`` (raise ``TimeoutError`` past
    the deadline, ``EOFError`` when the worker is gone) and ``_destroy()``. Calls on one sandbox are
    serialised by a lock; different sandboxes run in parallel.
    """

    grace = 5.0  # seconds the worker may take beyond a call's own timeout before it counts as hung

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.broken: str | None = None
        self.closed = False
        self.calls = 0
        self._lock = threading.Lock()

    # ---- transport, provided by subclasses
    def _send(self, data: bytes) -> None: raise NotImplementedError
    def _recv_exact(self, n: int, deadline: float) -> bytes: raise NotImplementedError
    def _destroy(self) -> None: raise NotImplementedError

    # ---- protocol
    def request(self, msg: dict, timeout: float = 10.0) -> dict:
        """Send one request and wait for its reply; raises ``SandboxError`` and marks the sandbox broken
        when the worker is gone or does not answer within ``timeout`` plus ``grace``."""
        with self._lock:
            if self.closed:
                raise SandboxError("sandbox is closed")
            if self.broken:
                raise SandboxError(f"sandbox is broken: {self.broken}")
            self.calls += 1
            body = json.dumps(msg).encode()
            deadline = time.monotonic() + timeout + self.grace
            try:
                self._send(_LEN.pack(len(body)) + body)
                (size,) = _LEN.unpack(self._recv_exact(4, deadline))
                if size > MAX_FRAME:
                    raise EOFError(f"worker sent a frame of {size} bytes")
                reply = json.loads(self._recv_exact(size, deadline))
            except TimeoutError:
                self.broken = f"worker did not answer within {timeout + self.grace:.1f}s"
            except (EOFError, OSError, ValueError) as e:
                self.broken = f"worker connection lost ({type(e).__name__}: {e})"
            else:
                return reply
        self._destroy_quietly()
        raise SandboxError(f"sandbox is broken: {self.broken}")

    def _destroy_quietly(self) -> None:
        try:
            self._destroy()
        except Exception:  # noqa: BLE001 - the sandbox is already written off
            pass

    def ping(self, timeout: float = 5.0) -> bool:
        try:
            return self.request({"op": "ping"}, timeout).get("ok") is True
        except SandboxError:
            return False

    def run(self, code_or_cmd: str | Sequence[str], timeout: float = 10.0, files: Mapping[str, bytes | str] | None = None,
            *, lang: str = "python", stdin: bytes | str | None = None, env: Mapping[str, str] | None = None,
            cwd: str = ".") -> ExecResult:
        """Run Python code (``lang="python"``), a shell command (``lang="sh"`` or ``"bash"``) or an argv
        list, with ``files`` written into the workspace first. Everything the call started is killed
        when it returns, so nothing runs between calls."""
        timeout = float(timeout)
        if not 0 < timeout <= self.limits.max_timeout:
            raise ValueError(f"timeout must be in (0, {self.limits.max_timeout}]")
        msg: dict = {"op": "run", "timeout": timeout, "cwd": check_path(cwd) if cwd != "." else ".",
                     "max_output": self.limits.max_output, "output_kill": self.limits.output_kill,
                     "env": dict(env or {})}
        if not isinstance(code_or_cmd, str):
            msg["argv"] = [str(a) for a in code_or_cmd]
        elif lang == "python":
            msg["code"] = code_or_cmd
        elif lang in ("sh", "bash"):
            msg["argv"] = [f"/bin/{lang}", "-c", code_or_cmd]
        else:
            raise ValueError(f"lang must be 'python', 'sh' or 'bash', not {lang!r}")
        if files:
            msg["files"] = {check_path(p): _b64(d) for p, d in files.items()}
        if stdin is not None:
            msg["stdin"] = _b64(stdin)
        start = time.monotonic()
        try:
            reply = self.request(msg, timeout)
        except SandboxError as e:
            return ExecResult(stdout="", stderr=str(e), exit_code=-1, duration=time.monotonic() - start,
                              timed_out=False, error=str(e))
        if "error" in reply:
            return ExecResult(stdout="", stderr=reply["error"], exit_code=-1, duration=time.monotonic() - start,
                              error=reply["error"])
        return ExecResult(stdout=reply["stdout"], stderr=reply["stderr"], exit_code=reply["exit_code"],
                          duration=reply["duration"], timed_out=reply["timed_out"], truncated=reply["truncated"])

    async def arun(self, *args, **kwargs) -> ExecResult:
        """``run`` from async code, in a worker thread so the event loop keeps going."""
        return await asyncio.to_thread(self.run, *args, **kwargs)

    def put_files(self, files: Mapping[str, bytes | str]) -> None:
        """Write files (path -> content) into the workspace, making parent folders."""
        reply = self.request({"op": "put", "files": {check_path(p): _b64(d) for p, d in files.items()}})
        if "error" in reply:
            raise SandboxError(reply["error"])

    def get_file(self, path: str) -> bytes | None:
        """A workspace file's bytes, or None when it does not exist."""
        reply = self.request({"op": "get", "path": check_path(path)})
        if "error" in reply:
            raise SandboxError(reply["error"])
        data = reply.get("data")
        return None if data is None else base64.b64decode(data)

    def reset(self) -> dict:
        """Kill every process the sandbox started and wipe the workspace and temp dirs.

        Within one episode only: pools never hand a used sandbox to another episode.
        Returns the worker's report, ``{"clean": bool, "left": [...]}``."""
        return self.request({"op": "reset"}, timeout=10.0)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self._destroy_quietly()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
