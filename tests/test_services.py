"""envs.services: lazy shared services (refcounts, health checks, restarts, lingering) and the
bounded session table (caps, idle reclaim, reclaim order). A real HTTP server is the service."""

import http.server
import threading
import time
import urllib.request
import uuid

import pytest

from envs import services
from envs.services import BoundedSessions, ServiceUnavailable, SessionGone, acquire


class EchoServer:
    """A real HTTP server on a free port, in a thread; ``kill()`` shuts it down behind our back."""

    def __init__(self) -> None:
        self.server = None
        self.stopped = False

    def start(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def healthy(self) -> bool:
        try:
            return urllib.request.urlopen(self.url, timeout=2).read() == b"ok"
        except OSError:
            return False

    def kill(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def stop(self) -> None:
        self.stopped = True
        if self.server is not None:
            self.kill()


def key() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_acquire_is_lazy_and_shared_with_a_reference_count():
    k, made = key(), []

    def factory():
        made.append(EchoServer())
        return made[-1]

    a = acquire(k, factory, linger=0)
    b = acquire(k, factory, linger=0)
    assert made == [] and services.info(k) == {"refs": 2, "running": False, "starts": 0}  # nothing started
    svc = a.get()
    assert b.get() is svc and len(made) == 1 and svc.healthy()
    assert services.info(k) == {"refs": 2, "running": True, "starts": 1}
    a.release()
    a.release()  # idempotent: the count drops once
    assert services.info(k)["refs"] == 1 and not svc.stopped
    with pytest.raises(RuntimeError, match="released"):
        a.get()
    b.release()  # the last user with linger=0: stopped at once
    assert svc.stopped and not svc.healthy()
    assert services.info(k) == {"refs": 0, "running": False, "starts": 1}


def test_a_killed_service_is_restarted_on_the_next_get_after_the_check_interval():
    k, made = key(), []
    lease = acquire(k, lambda: made.append(EchoServer()) or made[-1], check_every=0.0)
    first = lease.get()
    first.kill()  # dies behind the helper's back
    second = lease.get()
    assert second is not first and second.healthy() and len(made) == 2
    assert first.stopped  # the dead one was stopped before being replaced
    assert services.info(k) == {"refs": 1, "running": True, "starts": 2}
    lease.release()
    assert second.healthy()  # default linger=None: an unused service keeps running...
    services.stop_all()  # ...until exit (stop_all is what atexit runs)
    assert second.stopped


def test_health_checks_are_rate_limited():
    checks = []

    class Counting(EchoServer):
        def healthy(self):
            checks.append(1)
            return True

    with acquire(key(), Counting, check_every=3600.0, linger=0) as svc:
        assert svc is not None
    lease = acquire(key(), Counting, check_every=3600.0, linger=0)
    for _ in range(50):
        lease.get()
    assert checks == []  # started fresh, next check due in an hour
    lease.release()
    lease = acquire(key(), Counting, check_every=0.0, linger=0)
    for _ in range(5):
        lease.get()
    assert len(checks) == 4  # every get but the one that started it
    lease.release()


def test_linger_keeps_it_for_a_while_and_a_new_lease_cancels_the_stop():
    k = key()
    lease = acquire(k, EchoServer, linger=0.3)
    svc = lease.get()
    lease.release()
    again = acquire(k, EchoServer, linger=0.3)  # within the linger: the same one, no stop
    time.sleep(0.5)
    assert again.get() is svc and not svc.stopped
    again.release()
    time.sleep(0.6)
    assert svc.stopped and services.info(k)["running"] is False


def test_failed_start_raises_service_unavailable_and_the_next_get_retries():
    k, attempts = key(), []

    class Flaky(EchoServer):
        def start(self):
            attempts.append(1)
            if len(attempts) == 1:
                raise OSError("port in use")
            super().start()

    lease = acquire(k, Flaky, linger=0)
    with pytest.raises(ServiceUnavailable, match=r"failed to start: OSError: port in use"):
        lease.get()
    assert lease.get().healthy() and len(attempts) == 2
    lease.release()


def test_an_unreleased_lease_is_released_when_collected():
    import gc

    k = key()
    lease = acquire(k, EchoServer, linger=0)
    svc = lease.get()
    del lease
    gc.collect()
    assert services.info(k)["refs"] == 0 and svc.stopped


def test_concurrent_first_gets_start_one_service():
    k, made = key(), []

    class Slow(EchoServer):
        def start(self):
            made.append(self)
            time.sleep(0.2)
            super().start()

    leases = [acquire(k, Slow, linger=0) for _ in range(8)]
    got: list = []
    threads = [threading.Thread(target=lambda le=le: got.append(le.get())) for le in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(s is made[0] for s in got)
    for le in leases:
        le.release()
    assert made[0].stopped


# ---- BoundedSessions -----------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_sessions_full_table_reclaims_the_least_recently_used():
    closed = []
    table = BoundedSessions(3, clock=Clock(), on_close=lambda k, v, why: closed.append((k, v, why)))
    for name in "abc":
        table.add(name.upper(), key=name)
    assert table.get("a") == "A"  # a is now the most recently used: b is the oldest
    table.add("D", key="d")
    table.add("E", key="e")
    assert closed == [("b", "B", "full"), ("c", "C", "full")]
    assert list(table.keys()) == ["a", "d", "e"] and len(table) == 3
    with pytest.raises(SessionGone, match=r"'b' was reclaimed to make room \(at most 3 sessions live\)"):
        table.get("b")
    assert table.counts == {"added": 5, "full": 2}


def test_sessions_idle_ones_are_reclaimed_oldest_first():
    clock, closed = Clock(), []
    table = BoundedSessions(10, idle_ttl=60.0, clock=clock, on_close=lambda k, v, why: closed.append((k, why)))
    table.add(1, key="a")   # used at t=0
    clock.now += 30
    table.add(2, key="b")   # t=30
    clock.now += 20
    table.get("a")          # a used again at t=50
    clock.now += 40         # t=90: b idle 60 s (reclaimed, ttl reached), a idle 40 s (kept)
    assert table.reap() == ["b"] and closed == [("b", "idle")]
    clock.now += 20         # t=110: a idle 60 s
    with pytest.raises(SessionGone, match="'a' was reclaimed after 60s without use"):
        table.get("a")
    assert closed == [("b", "idle"), ("a", "idle")] and len(table) == 0


def test_sessions_close_and_unknown_and_a_failing_cleanup():
    def boom(k, v, why):
        raise RuntimeError("cleanup failed")

    table = BoundedSessions(2, on_close=boom)
    k = table.add("x")
    assert isinstance(k, str) and len(k) == 32
    assert table.close(k) is True and table.close(k) is False  # a failing on_close does not propagate
    with pytest.raises(SessionGone, match="was closed"):
        table.get(k)
    with pytest.raises(SessionGone, match="no session 'nope'"):
        table.get("nope")
    with pytest.raises(ValueError, match="max_sessions >= 1"):
        BoundedSessions(0)


def test_sessions_stay_bounded_under_a_leaking_client():
    """A client that opens a session per episode and never closes it (the leak that killed a peer's
    JVM) holds at most max_sessions at any time."""
    closed = []
    table = BoundedSessions(16, idle_ttl=600.0, on_close=lambda k, v, why: closed.append(k))
    ids = [table.add(bytearray(1024)) for _ in range(1000)]
    assert len(table) == 16 and list(table.keys()) == ids[-16:] and closed == ids[:-16]
