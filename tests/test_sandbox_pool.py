"""SandboxPool and the retry policy, against fake backends and fake engine errors (no Docker needed)."""

import threading
import time

import pytest

from sandboxes import SandboxPool, SandboxUnavailable
from sandboxes.base import check_path


class FakeSandbox:
    def __init__(self, n):
        self.n, self.closed, self.alive = n, False, True

    def ping(self, timeout=5.0):
        return self.alive and not self.closed

    def close(self):
        self.closed = True


class FakeBackend:
    """Makes FakeSandboxes; can fail the next ``fail`` creations or be slow."""

    def __init__(self, fail=0, delay=0.0):
        self.fail, self.delay, self.made, self.removed_labels = fail, delay, [], []
        self.lock = threading.Lock()

    def create(self, labels):
        time.sleep(self.delay)
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise RuntimeError("engine said no (HTTP 500)")
            sb = FakeSandbox(len(self.made))
            self.made.append(sb)
            return sb

    def remove_labelled(self, labels):
        self.removed_labels.append(dict(labels))
        return 0


def test_pool_hands_out_each_sandbox_once_and_replaces_it():
    backend = FakeBackend()
    with SandboxPool(backend, size=2, max_active=4) as pool:
        assert pool.wait_warm(2, timeout=5) == 2
        seen = []
        for _ in range(6):
            with pool.sandbox() as sb:
                seen.append(sb.n)
        assert len(set(seen)) == 6  # never reused
        deadline = time.time() + 5
        while time.time() < deadline and not all(backend.made[n].closed for n in seen):
            time.sleep(0.01)
        assert all(backend.made[n].closed for n in seen)
        assert pool.wait_warm(2, timeout=5) == 2  # replaced in the background
    assert all(sb.closed for sb in backend.made)
    assert backend.removed_labels == [pool.labels]


def test_pool_caps_concurrency():
    with SandboxPool(FakeBackend(), size=1, max_active=2) as pool:
        a, b = pool.acquire(), pool.acquire()
        t0 = time.monotonic()
        with pytest.raises(SandboxUnavailable, match="no sandbox slot free"):
            pool.acquire(timeout=0.3)
        assert time.monotonic() - t0 >= 0.29
        pool.release(a)
        c = pool.acquire(timeout=5)
        assert c is not a and c is not b
        assert pool.stats()["active"] == 2


def test_pool_skips_sandboxes_that_died_while_warm():
    backend = FakeBackend()
    with SandboxPool(backend, size=2, max_active=4) as pool:
        pool.wait_warm(2, timeout=5)
        backend.made[0].alive = False
        with pool.sandbox() as sb:
            assert sb.alive and sb.n != 0
        assert pool.stats()["dead_on_handout"] == 1


def test_pool_recovers_from_transient_creation_failures():
    backend = FakeBackend(fail=1)
    with SandboxPool(backend, size=1, max_active=2, create_workers=1, fail_after=3) as pool:
        with pool.sandbox(timeout=10) as sb:
            assert sb.ping()
        assert pool.stats()["create_failed"] == 1


def test_pool_gives_a_clear_error_when_the_engine_keeps_failing():
    backend = FakeBackend(fail=10**6)
    with SandboxPool(backend, size=1, max_active=2, create_workers=1, fail_after=2) as pool:
        t0 = time.monotonic()
        with pytest.raises(SandboxUnavailable, match="cannot be created: engine said no"):
            pool.acquire(timeout=30)
        assert time.monotonic() - t0 < 10  # fails fast, does not sit out the whole timeout


def test_pool_async_context_manager():
    import asyncio

    async def episode(pool, i):
        async with pool.sandbox() as sb:
            await asyncio.sleep(0.01)
            return sb.n

    async def main(pool):
        return await asyncio.gather(*(episode(pool, i) for i in range(8)))

    with SandboxPool(FakeBackend(), size=2, max_active=3) as pool:
        ns = asyncio.run(main(pool))
    assert len(set(ns)) == 8


def test_closed_pool_refuses_and_cleans_up():
    backend = FakeBackend()
    pool = SandboxPool(backend, size=2, max_active=2)
    held = pool.acquire()
    pool.close()
    assert held.closed and all(sb.closed for sb in backend.made)
    with pytest.raises(SandboxUnavailable, match="closed"):
        pool.acquire(timeout=1)


def test_retry_backs_off_on_transient_engine_errors_then_says_what_failed():
    docker = pytest.importorskip("docker")
    import requests

    from sandboxes.docker import with_retry

    sleeps = []
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise docker.errors.APIError("500 Server Error", response=_Resp(500))
        return "ok"

    assert with_retry(flaky, "do a thing", attempts=4, delay=0.1, sleep=sleeps.append) == "ok"
    assert sleeps == [0.1, 0.2]

    def down():
        raise requests.exceptions.ReadTimeout("UnixHTTPConnectionPool: Read timed out")

    sleeps.clear()
    with pytest.raises(SandboxUnavailable, match=r"failed to create a container 3 times; last error: ReadTimeout"):
        with_retry(down, "create a container", attempts=3, delay=0.1, sleep=sleeps.append)
    assert sleeps == [0.1, 0.2]

    def bad_request():
        raise docker.errors.APIError("400 Client Error", response=_Resp(400))

    with pytest.raises(docker.errors.APIError):  # not transient: no retry
        with_retry(bad_request, "x", attempts=3, sleep=sleeps.append)


class _Resp:
    def __init__(self, status):
        self.status_code = status
        self.reason = "x"
        self.url = "http+docker://localhost/x"


@pytest.mark.parametrize("path, expected", [("a.py", "a.py"), ("d/e/f.txt", "d/e/f.txt"), ("/workspace/x", "x"), ("./a/../b", "b")])
def test_check_path_accepts_workspace_paths(path, expected):
    assert check_path(path) == expected


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "", ".", "/workspace/../etc"])
def test_check_path_rejects_escapes(path):
    with pytest.raises(ValueError):
        check_path(path)
