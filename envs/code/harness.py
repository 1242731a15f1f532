"""The test harness that runs inside the sandbox (standard library only; also importable on the host).

It is sent as the code of one sandbox call, followed by ``main(JOB_PATH)``; the job comes in that
workspace file (a fresh random name per call), which the harness reads and deletes before any user
code runs. Every case runs in its own forked child
with its own time limit, so one failing, crashing or hanging test never hides the others:

* ``{"kind": "call", "expr": "f(1, 2)"}``: the child runs the setup and the user's code, evaluates
  the call and sends back the *encoded* return value (:func:`encode`: exact builtin types only, so
  an object whose ``__eq__`` always says True is refused). The host compares it with the expected
  value, so the expected values of such tests never enter the sandbox at all.
* ``{"kind": "calls", "calls": [encoded (args, kwargs), ...]}``: the inputs one HumanEval test
  statement passes to ``candidate`` (recorded at build time, see :mod:`envs.code.replay`). The
  child calls the user's function on each and sends back the encoded return values (or the
  error); the host then re-runs the test statement itself with those values. No verdict is ever
  made in a process that ran user code, and no expected value enters the sandbox.

Children get ``/dev/null`` as stdin, stdout and stderr, so user code cannot print into the
harness's output. Only after the last child has finished does the parent read the per-episode
nonce from its stdin, and it prefixes every result line with it: the nonce is never in a process
that runs user code, so a program that prints lookalike result lines cannot forge a score. The
parent also makes itself non-dumpable, so same-user processes cannot read its memory or stdin
through ``/proc`` (the local backend running as root is not covered; it is not isolation).
"""

import os
import sys

if __name__ == "__main__":  # never import from the workspace: a saved hashlib.py must not run here
    try:
        _cwd = os.path.realpath(os.getcwd())
    except OSError:
        _cwd = None
    sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != _cwd]
    sys.path_importer_cache.clear()

import hashlib
import json
import math
import select
import signal
import time
import traceback

JOB_FILE = ".tg_job.json"
SOLUTION_FILE = "<solution>"
MAX_RESULT = 1 << 20  # bytes read from one child
BIG = 2000  # encoded values longer than this are sent as a SHA-256 digest
CALL_MAX = 32 << 10  # longest encoded return value of one recorded HumanEval call
_SCALARS = (type(None), bool, int, float, str)


class Unsupported(TypeError):
    pass


def encode(value, depth=0):
    """A JSON-able, type-exact encoding of a builtin value (None/bool/int/float/str and lists,
    tuples, dicts, sets, frozensets of them). Raises ``Unsupported`` for anything else."""
    if depth > 60:
        raise Unsupported("value is nested more than 60 levels deep")
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return {"F": repr(value)}
    if kind in _SCALARS:
        return value
    if kind is list:
        return {"l": [encode(v, depth + 1) for v in value]}
    if kind is tuple:
        return {"t": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if kind in (set, frozenset):
        items = sorted((encode(v, depth + 1) for v in value), key=lambda e: json.dumps(e, sort_keys=True))
        return {"s" if kind is set else "fs": items}
    raise Unsupported("returned a value of type %s; only builtin types (int, float, str, bool, None, "
                      "list, tuple, dict, set) are accepted" % kind.__name__)


def decode(enc):
    """The value :func:`encode` encoded; raises ``ValueError`` on an unknown tag."""
    if isinstance(enc, dict):
        if len(enc) != 1:
            raise ValueError("a tagged value has exactly one key")
        ((tag, body),) = enc.items()
        if tag == "F":
            return float(body)
        if tag == "l":
            return [decode(v) for v in body]
        if tag == "t":
            return tuple(decode(v) for v in body)
        if tag == "d":
            return {decode(k): decode(v) for k, v in body}
        if tag == "s":
            return {decode(v) for v in body}
        if tag == "fs":
            return frozenset(decode(v) for v in body)
        raise ValueError("unknown value tag %r" % (tag,))
    if isinstance(enc, list):
        raise ValueError("a bare list is not an encoded value")
    return enc


def run_calls(fn, calls, code):
    """Call ``fn`` on every encoded ``(args, kwargs)``; one ``{"value"}`` or ``{"error"}`` each."""
    out = []
    for call in calls:
        args, kwargs = decode(call)
        try:
            value = encode(fn(*args, **kwargs))
            if len(json.dumps(value)) > CALL_MAX:
                out.append({"error": "the returned value is too large"})
            else:
                out.append({"value": value})
        except BaseException as e:  # noqa: BLE001 - this call errs; the host decides what that means
            out.append({"error": short_error(e, code)})
    return out


def short_error(exc, code):
    """``Type: message`` plus the last line of the user's code that was running, if any."""
    lines = code.splitlines()
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SOLUTION_FILE and 0 < frame.lineno <= len(lines):
            where = " (line %d: %s)" % (frame.lineno, lines[frame.lineno - 1].strip()[:120])
    msg = str(exc)
    if len(msg) > 300:
        msg = msg[:300] + "..."
    return "%s: %s%s" % (type(exc).__name__, msg, where)


def run_case(job, compiled, case):
    """In the child: set up, load the user's code, run one case; returns the result dict."""
    ns = {"__name__": "solution", "__builtins__": __builtins__}
    for src in job.get("setup", []):
        exec(compile(src, "<setup>", "exec"), ns)
    ns.pop(job["entry_point"], None)  # the setup's stub does not count: the user's code must define it
    try:
        exec(compiled, ns)
    except BaseException as e:  # noqa: BLE001 - the user's module failed to load
        return {"status": "error", "error": "your code failed to run: " + short_error(e, job["code"])}
    entry = job["entry_point"]
    if not callable(ns.get(entry)):
        return {"status": "error", "error": "NameError: your code does not define a function %r" % entry}
    try:
        if case["kind"] == "call":
            value = encode(eval(case["expr"], ns))
            text = json.dumps(value, sort_keys=True)
            if len(text) > BIG:  # large values travel as a digest of their canonical encoding
                return {"status": "ok", "digest": hashlib.sha256(text.encode()).hexdigest()}
            return {"status": "ok", "value": value}
        if case["kind"] == "calls":
            return {"status": "ok", "values": run_calls(ns[entry], case["calls"], job["code"])}
        return {"status": "error", "error": "unknown case kind"}
    except BaseException as e:  # noqa: BLE001 - any exception fails this case only
        return {"status": "error", "error": short_error(e, job["code"])}


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def child_main(job, compiled, case, w):
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.setpgid(0, 0)
        sys.setrecursionlimit(3000)
        out = run_case(job, compiled, case)
        data = json.dumps(out).encode()
        if len(data) > MAX_RESULT:
            data = json.dumps({"status": "error", "error": "the result is too large to report"}).encode()
        write_all(w, data)
    except BaseException:  # noqa: BLE001
        pass
    os._exit(0)


def run_child(job, compiled, case, timeout):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        child_main(job, compiled, case, w)
    os.close(w)
    data, status, deadline = bytearray(), None, time.monotonic() + timeout
    eof = False
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not eof and select.select([r], [], [], min(left, 0.05))[0]:
            chunk = os.read(r, 65536)
            eof = not chunk
            if len(data) < MAX_RESULT + 1024:
                data += chunk
        elif eof:
            time.sleep(min(left, 0.002))
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass
    if status is None:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    os.set_blocking(r, False)
    try:
        while len(data) < MAX_RESULT + 1024:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    os.close(r)
    if status is None and not data:
        return {"status": "timeout", "error": "timed out after %.3gs" % timeout}
    try:
        out = json.loads(bytes(data))
        if isinstance(out, dict) and out.get("status") in ("ok", "fail", "error"):
            return out
    except ValueError:
        pass
    code = os.waitstatus_to_exitcode(status) if status is not None else None
    return {"status": "crash", "error": "the process ended without a result (exit status %s)" % code}


def run_job(job):
    """All cases of one job, in order; never raises."""
    try:
        compiled = compile(job["code"], SOLUTION_FILE, "exec")
    except (SyntaxError, ValueError) as e:
        error = "%s: %s" % (type(e).__name__, e)
        return [{"status": "error", "error": "your code does not compile: " + error} for _ in job["cases"]]
    results, deadline = [], time.monotonic() + float(job.get("budget", 60.0))
    for case in job["cases"]:
        left = deadline - time.monotonic()
        if left <= 0.05:
            results.append({"status": "timeout", "error": "not run: the time budget of the call was spent"})
            continue
        results.append(run_child(job, compiled, case, min(float(job.get("timeout", 5.0)), left)))
    return results


def _undumpable():
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:  # noqa: BLE001 - hardening only
        pass


def main(path=JOB_FILE):
    _undumpable()
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    os.unlink(path)
    jobs = payload["jobs"]
    all_results = [run_job(job) for job in jobs]
    nonce = sys.stdin.read().strip()  # only now, with every child gone
    for j, results in enumerate(all_results):
        for i, result in enumerate(results):
            result.update(job=j, case=i)
            print(nonce, json.dumps(result), flush=True)
    print(nonce, json.dumps({"done": len(jobs)}), flush=True)


if __name__ == "__main__" and len(sys.argv) > 1:  # as a script: python3 harness.py JOB_PATH
    main(sys.argv[1])
