"""HumanEval verdicts on the host: record a test's inputs at build time, replay it at submit time.

A HumanEval test statement (``def __tg_test(candidate): ...``, see :mod:`envs.code.humaneval`)
both computes the inputs it gives ``candidate`` and checks what comes back. Running it next to the
model's code would let that code forge the verdict (write the result pipe, patch the harness,
shadow ``abs`` or a prompt helper, read the test from a frame). So:

* :func:`record` (build time) runs each statement with the canonical solution behind a recording
  ``candidate`` and keeps the distinct encoded ``(args, kwargs)`` it was called with.
* The sandbox gets only those inputs and returns the user's encoded return values
  (``{"kind": "calls"}`` cases of :mod:`envs.code.harness`).
* :func:`judge` (submit time) re-runs each statement here, in a fresh namespace holding the
  trusted prompt helpers (the prompt, never the user's code), with ``candidate`` looking the
  sandbox's value up by its arguments. The test passes iff the statement finishes without an
  exception, within its time limit. A call the recording lacks fails the test; a call that raised
  in the sandbox raises here too (checks that expect an exception still work).

``random`` is seeded with :data:`SEED` right before each statement runs, so checks that draw random
inputs draw the same ones both times. Both run in a separate ``python -I`` process (this file as a
script) with a memory cap and a per-statement timer, so the host's own state is never touched.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

SEED = 1234
MEMORY = 4 << 30


class Missing(BaseException):
    """``candidate`` called with inputs the recording does not have, or the timer rang."""


def _key(enc):
    return json.dumps(enc, sort_keys=True)


def _run_stmt(ns, src, candidate, timeout):
    exec(compile(src, "<hidden test>", "exec"), ns)
    random.seed(SEED)

    def ring(signum, frame):
        raise Missing("timed out")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(timeout, 0.01))
    try:
        ns["__tg_test"](candidate)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _namespace(code, prelude):
    ns = {"__name__": "__tg_check__"}
    exec(compile(code, "<prompt>", "exec"), ns)
    exec(compile(prelude or "", "<prelude>", "exec"), ns)
    return ns


def _record_item(item, timeout, encode):
    calls_per_stmt, errors = [], []
    for src in item["stmts"]:
        ns = _namespace(item["code"], item.get("prelude", ""))
        fn, seen = ns[item["entry_point"]], {}

        def candidate(*args, **kwargs):
            enc = encode((args, kwargs))
            seen.setdefault(_key(enc), enc)
            return fn(*args, **kwargs)

        ns[item["entry_point"]] = candidate  # checks that call the function by name (HumanEval/33) see it too
        try:
            _run_stmt(ns, src, candidate, timeout)
            errors.append(None)
        except BaseException as e:  # noqa: BLE001 - reported to the build
            errors.append("%s: %s" % (type(e).__name__, str(e)[:200]))
        calls_per_stmt.append(list(seen.values()))
    return {"calls": calls_per_stmt, "errors": errors}


def _judge_item(item, timeout, decode, encode):
    verdicts, deadline = [], time.monotonic() + float(item.get("budget", float("inf")))
    for src, table in zip(item["stmts"], item["tables"]):
        left = deadline - time.monotonic()
        if table is None or left <= 0.01:
            verdicts.append(False)
            continue
        lookup = {_key(call): result for call, result in table}

        def candidate(*args, **kwargs):
            try:
                result = lookup[_key(encode((args, kwargs)))]
            except (KeyError, TypeError, ValueError) as e:
                raise Missing("candidate called with inputs the test did not record") from e
            if "value" not in result:
                raise RuntimeError(str(result.get("error", "the call failed"))[:300])
            return decode(result["value"])

        ns = _namespace(item["helpers"], item.get("prelude", ""))
        ns[item["entry_point"]] = candidate  # as in HumanEval, where the check shares the solution's namespace
        try:
            _run_stmt(ns, src, candidate, min(timeout, left))
            verdicts.append(True)
        except BaseException:  # noqa: BLE001 - any failure fails this test only
            verdicts.append(False)
    return verdicts


def _main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from harness import decode, encode

    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    except (ImportError, ValueError, OSError):
        pass
    request = json.load(sys.stdin)
    timeout = float(request["timeout"])
    if request["mode"] == "record":
        out = [_record_item(item, timeout, encode) for item in request["items"]]
    else:
        out = [_judge_item(item, timeout, decode, encode) for item in request["items"]]
    sys.stdout.write(json.dumps(out))


def _call(mode, items, timeout, total):
    done = subprocess.run([sys.executable, "-I", os.path.abspath(__file__)], input=json.dumps(
        {"mode": mode, "items": items, "timeout": timeout}), capture_output=True, text=True, timeout=total,
        cwd=os.path.dirname(os.path.abspath(__file__)))
    if done.returncode != 0:
        raise RuntimeError("the %s process failed (exit %s): %s" % (mode, done.returncode, done.stderr[-2000:]))
    return json.loads(done.stdout)


def record(items, timeout=20.0):
    """For each ``{"code", "entry_point", "prelude", "stmts"}`` (trusted code: the prompt plus the
    canonical solution): ``{"calls": [[encoded call, ...] per statement], "errors": [None or text]}``."""
    return _call("record", items, timeout, 60.0 + timeout * sum(len(i["stmts"]) for i in items))


def tables(calls_per_stmt, results):
    """Pair each statement's recorded calls with the sandbox's ``calls`` results (``None``: the
    whole statement failed in the sandbox: error, crash, timeout, wrong shape)."""
    out = []
    for calls, r in zip(calls_per_stmt, results):
        values = r.get("values") if r.get("status") == "ok" else None
        ok = isinstance(values, list) and len(values) == len(calls) and all(isinstance(v, dict) for v in values)
        out.append([[c, v] for c, v in zip(calls, values)] if ok else None)
    return out


def judge(helpers, entry_point, prelude, stmts, stmt_tables, timeout=5.0, budget=60.0):
    """One verdict per statement; a judge process that dies or overruns fails every statement.

    ``budget`` bounds the judge process's whole wall time, start-up included: it is killed then
    even if it cannot run its own timers (stopped, or stuck in C code). Statements still running
    past ``budget`` less a margin for reporting fail."""
    try:
        item = {"helpers": helpers, "entry_point": entry_point, "prelude": prelude, "stmts": stmts, "tables": stmt_tables,
                "budget": budget - min(1.0, budget / 4)}
        (verdicts,) = _call("judge", [item], timeout, budget)
        return [v is True for v in verdicts]
    except (RuntimeError, ValueError, subprocess.TimeoutExpired):
        return [False] * len(stmts)


def judge_many(items, timeout=20.0):
    """Batch form of :func:`judge` for the build: ``items`` of ``{"helpers", "entry_point", "prelude", "stmts", "tables"}``."""
    return _call("judge", items, timeout, 60.0 + timeout * sum(len(i["stmts"]) for i in items))


if __name__ == "__main__":
    _main()
