"""The Docker sandbox and its security battery, on a real engine with the turngym-sandbox image.

Each battery test takes a fresh sandbox from a shared pool, attacks it, and checks that the attack
ends with a clear ExecResult, that the sandbox still answers, and that the next episode gets a clean
sandbox. Skips (with the reason) where there is no engine or no image; CI sets both up through
scripts/setup.d/20-docker.sh.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from sandboxes import SandboxPool, SandboxUnavailable
from sandboxes.base import Limits

docker = pytest.importorskip("docker", reason="docker SDK not installed (pip install 'turngym[sandbox]')")


@pytest.fixture(scope="module")
def client():
    from sandboxes.image import IMAGE, image_exists

    try:
        c = docker.from_env(timeout=60)
        c.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker engine reachable ({e}); run scripts/setup.d/20-docker.sh")
    if not image_exists(c, IMAGE):
        pytest.skip(f"sandbox image {IMAGE} missing; run `turngym sandbox build --offline`")
    return c


@pytest.fixture(scope="module")
def pool(client):
    from sandboxes.docker import DockerBackend

    with SandboxPool(DockerBackend(client=client), size=2, max_active=8) as p:
        yield p
    assert client.api.containers(all=True, filters={"label": f"turngym.pool={p.id}"}) == []


@pytest.fixture
def sb(pool):
    with pool.sandbox(timeout=60) as sandbox:
        yield sandbox
        assert sandbox.ping(), "the sandbox must still answer after the attack"


def other_pids(sb):
    r = sb.run("import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())))", timeout=5)
    return r.stdout.strip()


def assert_clean_next_episode(pool):
    with pool.sandbox(timeout=60) as nxt:
        r = nxt.run("import os; print(os.listdir('.'), os.listdir('/tmp'), len([p for p in os.listdir('/proc') if p.isdigit()]))", timeout=5)
        assert r.stdout == "[] [] 2\n", r


# ---- the basics -------------------------------------------------------------------------------

def test_runs_python_shell_and_argv_with_exact_results(sb):
    r = sb.run("print(1 + 1)", timeout=5)
    assert (r.stdout, r.stderr, r.exit_code, r.timed_out, r.truncated, r.error) == ("2\n", "", 0, False, False, None)
    r = sb.run("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)", timeout=5)
    assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 3)
    r = sb.run("1/0", timeout=5)
    assert r.exit_code == 1 and r.stderr.endswith("ZeroDivisionError: division by zero\n") and 'File "<string>", line 1' in r.stderr
    r = sb.run("echo $((6*7)); exit 5", lang="sh", timeout=5)
    assert (r.stdout, r.exit_code) == ("42\n", 5)
    r = sb.run(["sqlite3", ":memory:", "select 6*7"], timeout=5)
    assert (r.stdout, r.exit_code) == ("42\n", 0)
    r = sb.run(["no-such-program"], timeout=5)
    assert r.exit_code == 127 and "No such file" in r.stderr
    r = sb.run("import sys; print(sys.stdin.read().upper())", stdin="hello", timeout=5)
    assert r.stdout == "HELLO\n"


def test_files_in_and_out_and_user(sb):
    r = sb.run("import json, os; print(open('data/in.txt').read(), os.getuid(), os.getcwd())",
               files={"data/in.txt": "abc"}, timeout=5)
    assert r.stdout == "abc 65534 /workspace\n"
    sb.put_files({"b.bin": bytes(range(256))})
    assert sb.get_file("b.bin") == bytes(range(256))
    sb.run("open('made.txt', 'w').write('x' * 10)", timeout=5)
    assert sb.get_file("made.txt") == b"x" * 10
    assert sb.get_file("absent.txt") is None
    r = sb.run(["sqlite3", "t.db", "create table t(x); insert into t values (7); select x from t"], timeout=5)
    assert r.stdout == "7\n"


def test_container_has_the_isolation_settings(sb, client):
    attrs = client.api.inspect_container(sb.id)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == Limits().memory == host["MemorySwap"]
    assert host["PidsLimit"] == Limits().pids
    assert host["NanoCpus"] == int(Limits().cpus * 1e9)
    assert set(host["Tmpfs"]) == {"/workspace", "/tmp"}
    assert attrs["Config"]["User"] == "65534:65534"
    assert attrs["Config"]["Labels"]["turngym.sandbox"] == "1"
    r = sb.run("import os; print(os.getuid(), os.getgid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])", timeout=5)
    assert r.stdout == "65534 65534 0000000000000000\n"


# ---- the security battery ---------------------------------------------------------------------

def test_network_is_unreachable(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno, os, socket
        for host in [("1.1.1.1", 53), ("172.17.0.1", 2375)]:
            try:
                socket.create_connection(host, timeout=2)
                print("connected")
            except OSError as e:
                print(errno.errorcode.get(e.errno, e))
        print(sorted(os.listdir('/sys/class/net')))
    """), timeout=10)
    assert r.stdout == "ENETUNREACH\nENETUNREACH\n['lo']\n", r
    assert_clean_next_episode(pool)


def test_fork_bomb_is_contained(sb, pool):
    r = sb.run(":(){ :|:& };: ; sleep 2", lang="bash", timeout=1)  # the classic, left running until the timeout
    assert (r.exit_code, r.timed_out, r.error) == (-9, True, None), r
    assert other_pids(sb) == "[]"  # everything it made is gone
    # Sleeping children: this half tests the pids limit itself (busy children make each further fork
    # crawl under the 1-CPU quota on a loaded 2-core host; the bash bomb above covers CPU burn).
    r = sb.run(textwrap.dedent("""
        import os, time
        n = 0
        while True:
            try:
                if os.fork() == 0:
                    time.sleep(3600)
                n += 1
            except OSError:
                print("fork refused after", n > 10); break
    """), timeout=10)
    assert r.stdout == "fork refused after True\n" and r.exit_code == 0, r
    assert other_pids(sb) == "[]"
    assert sb.run("print('alive')", timeout=5).stdout == "alive\n"
    assert_clean_next_episode(pool)


def test_memory_bombs_are_contained(sb, pool):
    r = sb.run("x = bytearray(4 << 30)", timeout=10)
    assert r.exit_code == 1 and r.stderr.strip().endswith("MemoryError"), r
    r = sb.run("a = []\nwhile True: a.append(bytearray(16 << 20))", timeout=20)
    assert r.exit_code == 1 and "MemoryError" in r.stderr, r
    # several processes, each under its own address-space limit, together over the container's memory:
    # the memory cgroup's OOM killer picks them (oom_score_adj 1000), never the worker
    r = sb.run(textwrap.dedent("""
        import os
        pids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                a = []
                try:
                    while True: a.append(b'x' * (8 << 20))
                except MemoryError:
                    os._exit(3)
            pids.append(pid)
        print(sorted({os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids}))
    """), timeout=30)
    assert r.exit_code == 0 and r.stdout in ("[-9]\n", "[-9, 3]\n"), r
    assert sb.run("print('alive')", timeout=5).stdout == "alive\n"
    assert_clean_next_episode(pool)


def test_infinite_loop_is_killed_at_the_timeout(sb, pool):
    t0 = time.monotonic()
    r = sb.run("while True: pass", timeout=1.0)
    assert (r.exit_code, r.timed_out, r.error) == (-9, True, None)
    assert 1.0 <= r.duration < 2.0 and time.monotonic() - t0 < 3.0
    assert "timed out after 1s" in r.stderr
    r = sb.run("import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: pass", timeout=0.5)
    assert (r.exit_code, r.timed_out) == (-9, True)
    assert other_pids(sb) == "[]"
    assert_clean_next_episode(pool)


def test_disk_fill_hits_the_workspace_limit(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno
        written = 0
        try:
            for i in range(100):
                with open(f'f{i}', 'wb') as f:
                    f.write(b'x' * (8 << 20)); written += 8
        except OSError as e:
            print(errno.errorcode[e.errno], written <= 64)
    """), timeout=20)
    assert r.stdout == "ENOSPC True\n", r
    r = sb.run("open('big', 'wb').write(b'x' * (40 << 20))", timeout=10)  # over RLIMIT_FSIZE
    assert r.exit_code != 0
    assert_clean_next_episode(pool)


def test_huge_output_is_capped(sb, pool):
    cap = Limits().max_output
    r = sb.run("print('y' * 200000)", timeout=5)
    assert (r.exit_code, r.truncated, len(r.stdout)) == (0, True, cap)
    t0 = time.monotonic()
    r = sb.run("while True: print('x' * 1000)", timeout=20)
    assert r.truncated and r.exit_code == -9 and not r.timed_out and len(r.stdout) == cap
    assert "output exceeded" in r.stderr and time.monotonic() - t0 < 15
    r = sb.run("head -c 100000000 /dev/zero | tr '\\0' z >&2", lang="sh", timeout=20)
    assert r.truncated and len(r.stderr) <= cap + 200
    assert_clean_next_episode(pool)


def test_host_files_are_not_reachable(sb, pool, tmp_path):
    secret = tmp_path / f"secret-{uuid.uuid4().hex}"
    secret.write_text("host secret")
    r = sb.run(textwrap.dedent(f"""
        import os
        print(os.path.exists({str(secret)!r}), os.path.exists('/var/run/docker.sock'), os.path.exists('/run/docker.sock'))
        try:
            open('/proc/1/environ').read(); print('read worker environ')
        except OSError as e:
            print(type(e).__name__)
        try:
            os.listdir('/proc/1/fd'); print('listed worker fds')
        except OSError as e:
            print(type(e).__name__)
    """), timeout=5)
    assert r.stdout == "False False False\nPermissionError\nPermissionError\n", r
    assert_clean_next_episode(pool)


def test_writing_outside_the_workspace_fails(sb, pool):
    r = sb.run(textwrap.dedent("""
        import errno
        for path in ['/etc/evil', '/usr/bin/evil', '/evil', '/proc/sys/kernel/hostname']:
            try:
                open(path, 'w').write('x'); print('wrote', path)
            except OSError as e:
                print(errno.errorcode[e.errno])
    """), timeout=5)
    assert r.stdout.split() == ["EROFS", "EROFS", "EROFS", "EROFS"] or "wrote" not in r.stdout, r
    assert "wrote" not in r.stdout
    with pytest.raises(ValueError):
        sb.put_files({"../escape.txt": "x"})
    with pytest.raises(ValueError):
        sb.get_file("/etc/passwd")
    sb.run("import os; os.symlink('/etc', 'link')", timeout=5)
    from sandboxes import SandboxError

    with pytest.raises(SandboxError, match="outside the workspace"):
        sb.get_file("link/passwd")
    r = sb.run("cp /bin/true /tmp/t && /tmp/t", lang="sh", timeout=5)
    assert r.exit_code == 126  # /tmp is noexec
    assert_clean_next_episode(pool)


def test_killing_the_worker_from_inside_fails(sb, pool):
    r = sb.run(textwrap.dedent("""
        import os, signal
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSTOP):
            os.kill(1, sig)
        try:
            os.kill(-1, signal.SIGKILL)   # everyone but us and PID 1: here, no one
        except ProcessLookupError:
            pass
        print('still here')
    """), timeout=5)
    assert (r.stdout, r.exit_code) == ("still here\n", 0), r
    assert sb.ping() and sb.run("print(2)", timeout=5).stdout == "2\n"
    assert_clean_next_episode(pool)


def test_worker_death_from_outside_gives_a_clear_result_and_the_pool_replaces_it(pool, client):
    with pool.sandbox(timeout=60) as sb:
        sb.kill_container()
        r = sb.run("print(1)", timeout=5)
        assert r.error and r.exit_code == -1 and "broken" in r.stderr
        assert sb.broken and not sb.ping()
    assert_clean_next_episode(pool)


def test_background_processes_do_not_outlive_the_call(sb, pool):
    t0 = time.monotonic()
    r = sb.run("sleep 30 & nohup sleep 40 >/dev/null 2>&1 & setsid sleep 50 & echo started", lang="sh", timeout=10)
    assert (r.stdout, r.exit_code) == ("started\n", 0)
    assert time.monotonic() - t0 < 2  # the call does not wait for its background children
    r = sb.run("import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True); print('ok')", timeout=5)
    assert r.stdout == "ok\n"
    assert other_pids(sb) == "[]"
    assert_clean_next_episode(pool)


def test_reset_wipes_within_an_episode(sb):
    sb.run("open('a', 'w').write('1'); open('/tmp/b', 'w').write('2'); import os; os.makedirs('d/e'); os.chmod('d', 0o500)", timeout=5)
    assert sb.reset() == {"clean": True, "left": []}
    assert sb.run("import os; print(os.listdir('.'), os.listdir('/tmp'))", timeout=5).stdout == "[] []\n"


# ---- pool with real containers ----------------------------------------------------------------

def test_episodes_never_share_a_container(pool):
    ids = []
    for _ in range(3):
        with pool.sandbox(timeout=60) as sb:
            ids.append(sb.id)
            assert sb.run("import os; print(os.listdir('.'))", timeout=5).stdout == "[]\n"
            sb.run("open('mine', 'w').write('x')", timeout=5)
    assert len(set(ids)) == 3


def test_pool_close_removes_every_container(client):
    from sandboxes.docker import DockerBackend

    pool = SandboxPool(DockerBackend(client=client), size=2, max_active=2)
    held = pool.acquire(timeout=60)
    assert held.run("print(1)", timeout=5).stdout == "1\n"
    assert pool.wait_warm(1, timeout=60) >= 1
    pool.close()
    assert client.api.containers(all=True, filters={"label": f"turngym.pool={pool.id}"}) == []


def test_containers_go_away_when_the_owning_process_is_killed(client):
    script = textwrap.dedent("""
        import sys, time
        from sandboxes import SandboxPool
        from sandboxes.docker import DockerBackend
        pool = SandboxPool(DockerBackend(), size=2, max_active=2)
        pool.wait_warm(2, timeout=60)
        sb = pool.acquire()
        print(pool.id, flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pool_id = proc.stdout.readline().strip()
    flt = {"label": f"turngym.pool={pool_id}"}
    assert pool_id and len(client.api.containers(all=True, filters=flt)) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def started():  # running, exiting or being removed; "created" ones never ran
        return [c for c in client.api.containers(all=True, filters=flt) if c["State"] != "created"]

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and started():
        time.sleep(0.2)
    assert started() == []  # every started sandbox removed itself
    # a container caught between create and start never ran; gc knows its owner is dead
    from sandboxes.docker import gc

    left = client.api.containers(all=True, filters=flt)
    assert {c["Id"] for c in left} <= set(gc(client))
    assert client.api.containers(all=True, filters=flt) == []


class FlakyAPI:
    """The real APIClient, except that create_container fails with HTTP 500 the first ``fail`` times."""

    def __init__(self, api, fail):
        self._api, self.fail, self.calls = api, fail, 0

    def create_container(self, *args, **kwargs):
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise docker.errors.APIError("500 Server Error: engine overloaded", response=_Resp500())
        return self._api.create_container(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._api, name)


class FlakyClient:
    def __init__(self, client, fail):
        self.api = FlakyAPI(client.api, fail)
        self.images = client.images


class _Resp500:
    status_code = 500
    reason = "Internal Server Error"
    url = "http+docker://localhost/containers/create"


def test_daemon_errors_are_retried_then_reported_clearly(client):
    from sandboxes.docker import DockerBackend, DockerSandbox

    flaky = FlakyClient(client, fail=2)
    with DockerSandbox.create(flaky, delay=0.05) as sb:
        assert sb.run("print(1)", timeout=5).stdout == "1\n"
    assert flaky.api.calls == 3
    down = FlakyClient(client, fail=10**6)
    with pytest.raises(SandboxUnavailable, match="failed to create a container 3 times; last error: APIError"):
        DockerSandbox.create(down, attempts=3, delay=0.05)
    with SandboxPool(DockerBackend(client=down, attempts=2, delay=0.05), size=1, max_active=1, fail_after=2) as pool:
        with pytest.raises(SandboxUnavailable, match=r"cannot be created: Docker engine failed to create a container 2 times.*500 Server Error"):
            pool.acquire(timeout=30)


def test_missing_image_is_a_clear_error(client):
    from sandboxes.docker import DockerSandbox

    with pytest.raises(SandboxUnavailable, match="turngym sandbox build --offline"):
        DockerSandbox.create(client, image="turngym-sandbox:does-not-exist")


def test_gc_removes_orphans_only(client):
    from sandboxes.docker import LABEL, gc

    orphan = client.api.create_container("turngym-sandbox:1", command=["true"], labels={LABEL: "1", "turngym.pid": "999999999"})
    with SandboxPool(__import__("sandboxes.docker", fromlist=["DockerBackend"]).DockerBackend(client=client), size=1, max_active=1) as pool:
        pool.wait_warm(1, timeout=60)
        removed = gc(client)
        assert orphan["Id"] in removed
        assert len(client.api.containers(all=True, filters={"label": f"turngym.pool={pool.id}"})) == 1  # alive owner: kept
