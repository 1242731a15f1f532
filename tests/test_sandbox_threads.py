"""Threads in sandboxed Python code behave as under ``python3 -c``: the program ends when its
non-daemon threads have, then atexit handlers run; and threads start up to the pids limit in Docker
(an address-space limit equal to the memory limit allowed only ~20, since each thread reserves a
stack and a malloc arena)."""

import textwrap

import pytest

from sandboxes.base import Limits
from sandboxes.local import LocalSandbox
from tests.docker_sandbox import client, docker, pool, sb  # noqa: F401 (fixtures)

BACKGROUND_THREAD = textwrap.dedent("""
    import atexit, threading, time
    done = []
    atexit.register(lambda: print('atexit sees', done, flush=True))
    def work():
        time.sleep(0.3)
        done.append('thread')
        print('thread done', flush=True)
    threading.Thread(target=work).start()
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()  # daemon: not waited for
    print('main done', flush=True)
""")
EXPECTED = "main done\nthread done\natexit sees ['thread']\n"


@pytest.fixture
def local():
    sb = LocalSandbox()
    yield sb
    sb.close()


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_non_daemon_threads_finish_before_the_program_ends(backend, request):
    box = request.getfixturevalue("local" if backend == "local" else "sb")
    r = box.run(BACKGROUND_THREAD, timeout=10)
    assert (r.stdout, r.stderr, r.exit_code) == (EXPECTED, "", 0), r
    # the exit status is the main code's, as with python3 -c, whether it exits or raises
    r = box.run(BACKGROUND_THREAD + "raise SystemExit(5)\n", timeout=10)
    assert (r.stdout, r.exit_code) == (EXPECTED, 5), r
    r = box.run(BACKGROUND_THREAD + "1 / 0\n", timeout=10)
    assert (r.stdout, r.exit_code) == (EXPECTED, 1) and r.stderr.rstrip().endswith("ZeroDivisionError: division by zero"), r
    # a thread that never ends is still bounded by the call's timeout
    r = box.run("import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\nprint('main', flush=True)", timeout=1)
    assert (r.stdout, r.exit_code, r.timed_out) == ("main\n", -9, True), r


def test_threads_start_up_to_the_pids_limit_in_docker(sb):
    r = sb.run(textwrap.dedent("""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(32) as ex:
            print(sum(ex.map(lambda i: i * i, range(1000))))
        gate, started = threading.Event(), 0
        try:
            for _ in range(200):
                threading.Thread(target=gate.wait, daemon=True).start()
                started += 1
        except RuntimeError as e:
            print(e)
        gate.set()
        print(started)
    """), timeout=30)
    # 1000 squares summed; then the pids limit (128) less the worker and this process
    assert r.stdout == f"332833500\ncan't start new thread\n{Limits().pids - 2}\n", r
    r = sb.run("x = bytearray(4 << 30)", timeout=10)  # one absurd allocation still fails fast and cleanly
    assert r.exit_code == 1 and r.stderr.rstrip().endswith("MemoryError"), r
