"""The local backend: the same worker as a host subprocess. THIS IS NOT ISOLATION.

For machines without Docker (a laptop, a quick test), used only when asked for by name
(``get_backend("local")``, ``make_pool("local")``). Each call still gets rlimits (CPU seconds,
address space, file size, open files), a wall-clock timeout, capped output and a private
workspace directory, but the code runs as the calling user on the host kernel with the host's
files. Where bubblewrap (``bwrap``) is installed the worker runs inside it: its own PID, network,
IPC and user namespaces, a read-only view of ``/``, a private ``/tmp`` and only the workspace
writable. That is much better, and still not the Docker backend's isolation (no memory, pids or CPU
cgroup limits). Every sandbox made here warns, loudly, once.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from .base import WORKER_SOURCE, Limits, SandboxError, WorkerSandbox

log = logging.getLogger(__name__)
WARNING = ("turngym LOCAL sandbox backend: model-written code runs ON THIS HOST as {user}. This is NOT "
           "isolation{bwrap}. Use the docker backend for anything you do not trust.")


class LocalSandboxWarning(UserWarning):
    pass


def bwrap_command(workspace: str, hide: Sequence[str] = (), keep: Sequence[str] = ()) -> list[str]:
    """bubblewrap around the worker: a read-only host root, a fresh ``/tmp``, and an empty tmpfs over
    each ``hide`` path (the home folder, the checkout, the virtualenv, cached task data: answer keys
    live there); ``keep`` re-binds, read-only, paths under those that must stay visible (the
    interpreter's installation)."""
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--as-pid-1",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in sorted({"/tmp", *hide}, key=len):  # parents first, so a later tmpfs is not covered
        argv += ["--tmpfs", path]
    for path in keep:
        argv += ["--ro-bind", path, path]
    return argv + ["--bind", workspace, workspace, "--chdir", workspace, "--uid", "65534", "--gid", "65534"]


def host_paths_to_hide() -> list[str]:
    """Host folders a local sandbox must not read: home, this checkout, the virtualenv, $TURNGYM_HOME."""
    paths = [os.path.expanduser("~"), str(Path(__file__).resolve().parents[1]), os.environ.get("TURNGYM_HOME", "")]
    if sys.prefix != sys.base_prefix:
        paths.append(sys.prefix)
    return sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p) and os.path.realpath(p) != "/"})


class LocalSandbox(WorkerSandbox):
    """The worker as a subprocess (inside bubblewrap when ``use_bwrap``), workspace in a temp dir."""

    def __init__(self, limits: Limits | None = None, use_bwrap: bool | None = None, python: str | None = None) -> None:
        super().__init__(limits)
        self.use_bwrap = shutil.which("bwrap") is not None if use_bwrap is None else use_bwrap
        self.root = tempfile.mkdtemp(prefix="turngym-local-sandbox-")
        self.workspace = os.path.join(self.root, "workspace")
        tmp = os.path.join(self.root, "tmp")
        os.makedirs(self.workspace)
        os.makedirs(tmp)
        if self.use_bwrap:  # bwrap maps the sandbox user to us; keep the dirs ours and writable
            os.chmod(self.root, 0o755)
        config = {"workspace": self.workspace, "memory": self.limits.memory, "file_size": self.limits.file_size,
                  "open_files": self.limits.open_files, "path": os.environ.get("PATH", "/usr/bin:/bin"),
                  "tmpdir": tmp, "wipe": [tmp]}
        # The worker source goes in with -c (as in Docker), so nothing under the checkout must be
        # visible inside bubblewrap; only the interpreter's installation is kept where it is hidden.
        exe = os.path.realpath(python or sys.executable)
        argv = [exe, "-I", "-c", WORKER_SOURCE, json.dumps(config)]
        if self.use_bwrap:
            install = os.path.dirname(os.path.dirname(exe))  # .../bin/python3 -> the installation
            hide = host_paths_to_hide()
            covered = any(install == h or install.startswith(h.rstrip("/") + "/") for h in ["/tmp", *hide])
            argv = bwrap_command(self.root, hide=hide, keep=[install] if covered else []) + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd=self.workspace, start_new_session=True)
        self._buf = bytearray()
        if not self.ping(timeout=20.0):
            raise SandboxError(f"local sandbox worker did not start ({self.broken}); argv: {argv[:3]}...")

    def _send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("local worker exited")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _destroy(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class LocalBackend:
    """Makes ``LocalSandbox``es for a pool. Warns (``LocalSandboxWarning`` and the log) that it does not isolate."""

    name = "local"

    def __init__(self, limits: Limits | None = None, use_bwrap: bool | None = None) -> None:
        self.limits = limits or Limits()
        self.use_bwrap = shutil.which("bwrap") is not None if use_bwrap is None else use_bwrap
        message = WARNING.format(user=_user(), bwrap=" (bubblewrap namespaces only)" if self.use_bwrap else ", not even bubblewrap")
        warnings.warn(message, LocalSandboxWarning, stacklevel=2)
        log.warning(message)
        print(f"WARNING: {message}", file=sys.stderr)

    def check(self) -> None:
        pass

    def create(self, labels: Mapping[str, str] | None = None) -> LocalSandbox:
        return LocalSandbox(self.limits, self.use_bwrap)

    def remove_labelled(self, labels: Mapping[str, str]) -> int:
        return 0


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())
