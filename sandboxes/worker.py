"""turngym sandbox worker: a long-lived process inside the sandbox that runs one request at a time.

Standard library only (it runs on the image's plain python3). Protocol, on the stdin/stdout it was
started with: each message is a 4-byte big-endian length and a UTF-8 JSON object; one reply per
request. Operations: ``ping``, ``run``, ``put``, ``get``, ``reset``, ``exit``.

``run`` forks a child that gets a new session and process group, its own rlimits (CPU seconds,
file size, open files, no core files, address space: see ``set_limits``), an OOM score of 1000
that its own children inherit (the kernel kills them, never the worker, while any is left),
stdin/stdout/stderr on pipes and no other descriptors. Python code runs inside that forked child
(no interpreter start-up: a call costs about a millisecond) and ends as ``python3 -c`` does: it
waits for non-daemon threads, then runs atexit handlers. Anything else is exec'd. The worker
reads both pipes, keeps ``max_output`` bytes of each, kills the call when it writes more than
``output_kill`` bytes or outlives ``timeout``, and when the call ends kills every process the
sandbox still has, so no background process survives a call. When the memory cgroup OOM-killed a
process during the call, stderr says so.

As the container's PID 1 the worker cannot be killed from inside (the kernel drops signals to a
namespace's init that it has no handler for), ``kill(-1)`` reaches every other process, and it is
made non-dumpable so that code running as the same user cannot ptrace it or read /proc/1/fd. Run
outside a PID namespace (the local backend without bubblewrap) it becomes a child subreaper and
kills its descendants instead.

Usage: python3 worker.py '{"workspace": "/workspace", "wipe": ["/tmp"], "memory": 536870912, ...}'
"""

import base64
import io
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback

LEN = struct.Struct(">I")
CONFIG = {"workspace": "/workspace", "wipe": [], "memory": 512 << 20, "file_size": 32 << 20,
          "open_files": 256, "path": "/usr/local/bin:/usr/bin:/bin", "tmpdir": "/tmp"}
# "address_space": RLIMIT_AS per process (0: none); defaults to "memory". The Docker backend sets it
# well above "memory" (its cgroup is the real bound) so that reserved thread stacks fit under it.
OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")  # cgroup v2, v1


def libc_call(name, *args):
    try:
        import ctypes

        getattr(ctypes.CDLL(None, use_errno=True), name)(*args)
    except Exception:  # noqa: BLE001 - hardening/tuning only; the worker still works without it
        pass


def prctl(option, value):
    libc_call("prctl", option, value, 0, 0, 0)


def oom_kills():
    """How many processes the memory cgroup has OOM-killed so far (None where it cannot be read)."""
    for path in OOM_FILES:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return None


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def inside(rel):
    """Absolute path of a workspace-relative path; refuses paths (or symlinks) that lead outside."""
    ws = os.path.realpath(CONFIG["workspace"])
    full = os.path.realpath(os.path.join(ws, rel))
    if full != ws and not full.startswith(ws + os.sep):
        raise ValueError("path %r is outside the workspace" % rel)
    return full


def put_files(files):
    for rel, data in files.items():
        full = inside(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(base64.b64decode(data))


# ---- processes -------------------------------------------------------------------------------

def reap():
    """Collect exited children without blocking; False when there are none left at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def descendants():
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == me:
                found.append(int(name))
    return found


def kill_all(limit=3.0):
    """Kill every process except the worker; True when none is left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if os.getpid() == 1:
            try:
                os.kill(-1, signal.SIGKILL)
                signalled = True
            except ProcessLookupError:
                signalled = False
        else:  # child subreaper: every orphan becomes our child, so killing children converges
            pids = descendants()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            signalled = bool(pids)
        children = reap()
        if not signalled and not children:
            return True
        time.sleep(0.0005)
    return False


def set_limits(timeout):
    cpu = int(timeout) + 2
    limits = [(resource.RLIMIT_CPU, (cpu, cpu + 1)), (resource.RLIMIT_CORE, (0, 0)),
              (resource.RLIMIT_FSIZE, (CONFIG["file_size"],) * 2), (resource.RLIMIT_NOFILE, (CONFIG["open_files"],) * 2)]
    address_space = CONFIG.get("address_space", CONFIG["memory"])
    if address_space:
        limits.append((resource.RLIMIT_AS, (address_space,) * 2))
        libc_call("mallopt", -8, 2)  # M_ARENA_MAX: each thread's 64 MiB arena would count against it
    for which, value in limits:
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError):
            pass


def child(req, fds, env):
    """In the forked child: isolate, then run; never returns."""
    try:
        os.setsid()
        for fd, target in zip(fds, (0, 1, 2)):
            os.dup2(fd, target)
        os.closerange(3, 65536)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        os.chdir(inside(req.get("cwd", ".")))
        set_limits(req["timeout"])
        os.environ.clear()
        os.environ.update(env)
        if "argv" in req:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            try:
                os.execvpe(req["argv"][0], req["argv"], env)
            except OSError as e:
                os.write(2, ("%s: %s\n" % (req["argv"][0], e.strerror)).encode())
                os._exit(127)
        os._exit(run_python(req["code"]))
    except BaseException:  # noqa: BLE001 - report and leave; never fall back into the worker loop
        try:
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(126)


def run_python(code):
    """Run code as ``python3 -c`` would, in this already-started interpreter; returns the exit code."""
    import atexit
    import linecache
    import types

    prctl(4, 1)  # PR_SET_DUMPABLE: an ordinary process again
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                                   errors="backslashreplace", line_buffering=True)
    sys.argv = ["-c"]
    sys.path.insert(0, "")
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    linecache.cache["<string>"] = (len(code), None, code.splitlines(True), "<string>")
    status = 0
    try:
        exec(compile(code, "<string>", "exec"), main.__dict__)
    except BaseException as e:  # noqa: BLE001 - SystemExit or an error, as the interpreter reports them
        status = exit_status(e, skip_frame=True)
    threading = sys.modules.get("threading")
    if threading is not None:  # like interpreter shutdown: wait for non-daemon threads first
        try:
            threading._shutdown()
        except BaseException as e:  # noqa: BLE001 - e.g. sys.exit() or an error while joining
            status = exit_status(e) if isinstance(e, SystemExit) else status or 1
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - e.g. the file-size limit or a closed pipe
            status = status or 1
    return status


def exit_status(e, skip_frame=False):
    """The exit status ``python3 -c`` gives for an exception that ended the main code."""
    if isinstance(e, SystemExit):
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code & 0xFF
        print(e.code, file=sys.stderr)
        return 1
    tb = e.__traceback__.tb_next if skip_frame and e.__traceback__ is not None else e.__traceback__
    traceback.print_exception(type(e), e, tb)
    return 1


def do_run(req):
    if req.get("files"):
        put_files(req["files"])
    timeout = float(req["timeout"])
    max_output, output_kill = int(req["max_output"]), int(req["output_kill"])
    env = {"PATH": CONFIG["path"], "HOME": CONFIG["workspace"], "LANG": "C.UTF-8", "TMPDIR": CONFIG["tmpdir"],
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({str(k): str(v) for k, v in req.get("env", {}).items()})
    inside(req.get("cwd", "."))
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    stdin = base64.b64decode(req["stdin"]) if req.get("stdin") else b""
    ooms = oom_kills()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(req, (in_r, out_w, err_w), env)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    if not stdin:
        os.close(in_w)
        in_w = None
    else:
        os.set_blocking(in_w, False)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    bufs = {out_r: bytearray(), err_r: bytearray()}
    total, truncated, timed_out, killed_for_output, status = 0, False, False, False, None
    poller = select.poll()
    for fd in (out_r, err_r):
        poller.register(fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    if in_w is not None:
        poller.register(in_w, select.POLLOUT)
    deadline = start + timeout
    open_fds = {out_r, err_r}
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        events = poller.poll(min(left, 0.01 if pidfd is None else left) * 1000)
        for fd, ev in events:
            if fd == in_w:
                try:
                    n = os.write(in_w, stdin[:65536])
                    stdin = stdin[n:]
                except (BlockingIOError, BrokenPipeError):
                    n = 0
                if not stdin or ev & (select.POLLERR | select.POLLHUP):
                    poller.unregister(in_w)
                    os.close(in_w)
                    in_w = None
            elif fd in open_fds:
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                total += len(chunk)
                room = max_output - len(bufs[fd])
                if room > 0:
                    bufs[fd] += chunk[:room]
                if len(chunk) > room:
                    truncated = True
                if total > output_kill:
                    killed_for_output = True
        if killed_for_output:
            break
        if pidfd is None or any(fd == pidfd for fd, _ in events):
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
    if status is None:  # timed out or flooded its output: kill the whole call
        kill_all()
        try:
            status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except ChildProcessError:
            status = -signal.SIGKILL
    duration = time.monotonic() - start
    for fd in open_fds:  # the child exited: take what is already in the pipes, then stop
        os.set_blocking(fd, False)
        try:
            while len(bufs[fd]) <= max_output:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                room = max_output - len(bufs[fd])
                bufs[fd] += chunk[:max(room, 0)]
                truncated = truncated or len(chunk) > room
        except BlockingIOError:
            pass
    kill_all()
    for fd in (out_r, err_r, pidfd, in_w):
        if fd is not None:
            os.close(fd)
    stderr = bufs[err_r].decode("utf-8", "replace")
    if killed_for_output:
        truncated = True
        stderr += "\n[sandbox: output exceeded %d bytes; process killed]\n" % output_kill
    if timed_out:
        stderr += "\n[sandbox: timed out after %.3gs; process killed]\n" % timeout
    if ooms is not None and (oom_kills() or 0) > ooms:
        stderr += "\n[sandbox: out of memory (limit %d MiB); the kernel killed a process]\n" % (CONFIG["memory"] >> 20)
    return {"stdout": bufs[out_r].decode("utf-8", "replace"), "stderr": stderr, "exit_code": status,
            "duration": duration, "timed_out": timed_out, "truncated": truncated}


# ---- workspace -------------------------------------------------------------------------------

def wipe(path):
    def force(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
        except OSError:
            pass
        func(p)

    try:
        entries = os.listdir(path)
    except OSError:
        return
    for name in entries:
        full = os.path.join(path, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, onerror=force)
            else:
                os.unlink(full)
        except OSError:
            pass


def do_reset():
    clean = kill_all()
    left = [] if clean else ["processes"]
    for path in [CONFIG["workspace"]] + list(CONFIG["wipe"]):
        wipe(path)
        try:
            if os.listdir(path):
                left.append(path)
        except OSError:
            pass
    return {"clean": not left, "left": left}


def handle(req):
    op = req.get("op")
    if op == "ping":
        return {"ok": True, "pid": os.getpid(), "uid": os.getuid()}
    if op == "run":
        return do_run(req)
    if op == "put":
        put_files(req["files"])
        return {"ok": True}
    if op == "get":
        full = inside(req["path"])
        if not os.path.isfile(full):
            return {"data": None}
        if os.path.getsize(full) > (64 << 20):
            return {"error": "file %s is larger than 64 MiB" % req["path"]}
        with open(full, "rb") as f:
            return {"data": base64.b64encode(f.read()).decode()}
    if op == "reset":
        return do_reset()
    return {"error": "unknown op %r" % op}


def main():
    if len(sys.argv) > 1:
        CONFIG.update(json.loads(sys.argv[1]))
    proto_in, proto_out = os.dup(0), os.dup(1)  # private copies; 0 and 1 now point at /dev/null
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    prctl(4, 0)   # PR_SET_DUMPABLE 0: same-uid code cannot ptrace us or open /proc/<worker>/fd
    prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of our children are re-parented to us
    os.makedirs(CONFIG["workspace"], exist_ok=True)
    os.chdir(CONFIG["workspace"])
    while True:
        try:
            (size,) = LEN.unpack(read_exact(proto_in, 4))
            req = json.loads(read_exact(proto_in, size))
        except (EOFError, OSError):
            break
        except ValueError as e:
            reply = {"error": "bad request: %s" % e}
        else:
            if req.get("op") == "exit":
                break
            try:
                reply = handle(req)
            except Exception as e:  # noqa: BLE001 - one bad request must not end the worker
                reply = {"error": "%s: %s" % (type(e).__name__, e)}
        body = json.dumps(reply).encode()
        try:
            write_all(proto_out, LEN.pack(len(body)) + body)
        except OSError:
            break
    kill_all(1.0)


if __name__ == "__main__":
    main()
