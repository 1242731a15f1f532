"""The Docker sandbox on a real engine with the turngym-sandbox image: exact results, isolation
settings, and the pool with real containers (creation, clean-up, daemon errors, gc)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sandboxes import SandboxPool, SandboxUnavailable
from sandboxes.base import Limits
from tests.docker_sandbox import (  # noqa: F401 (fixtures)
    assert_clean_next_episode,
    client,
    docker,
    other_pids,
    pool,
    sb,
)

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
    lim = Limits()
    assert host["Tmpfs"] == {
        "/workspace": f"rw,exec,nosuid,nodev,size={lim.workspace_size},nr_inodes={lim.workspace_inodes},mode=1777",
        "/tmp": f"rw,noexec,nosuid,nodev,size={lim.tmp_size},nr_inodes={lim.tmp_inodes},mode=1777",
        "/dev/shm": f"rw,noexec,nosuid,nodev,size={lim.tmp_size},nr_inodes={lim.tmp_inodes},mode=1777",
    }
    assert host["Sysctls"] == {"kernel.shm_rmid_forced": "1", "kernel.shmmax": str(lim.tmp_size),
                               "kernel.shmall": str(lim.tmp_size // 4096), "kernel.msgmni": "16"}
    assert attrs["Config"]["User"] == "65534:65534"
    assert attrs["Config"]["Labels"]["turngym.sandbox"] == "1"
    r = sb.run("import os; print(os.getuid(), os.getgid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])", timeout=5)
    assert r.stdout == "65534 65534 0000000000000000\n"


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


def test_image_check_finds_every_program_and_a_missing_one(client, monkeypatch):
    """check_image asks for each program on its own: dash's `command -v a b` answers for `a` only, so a
    single call once reported sqlite3 missing from a good image and failed the offline build."""
    from sandboxes import image

    assert image.check_image(client) == []
    monkeypatch.setattr(image, "PACKAGES", (*image.PACKAGES, "no-such-program"))
    assert image.check_image(client) == [f"no-such-program missing from {image.IMAGE}"]
