"""WebShop-v0 speed and soak: HTTP vs in-process handlers, concurrency, memory over many episodes.

1. Oracle episodes on the test split through ``WebShopEnv``, once over HTTP (uvicorn on 127.0.0.1,
   one keep-alive httpx client) and once with the same app's handlers called in-process (Starlette's
   ASGI test client, no sockets): steps/s, p50/p99 step latency, and the ratio HTTP / in-process.
2. ``--concurrency`` envs (threads) playing oracle episodes at once against one server: episodes,
   failures, successes, wall time.
3. A server in its own process, ``--soak`` episodes (open a session, search, open a product; every
   other one never closed, as a crashed client would leave it): the server's RSS every tenth of the
   way and its live sessions, which the bounded table caps.

    python bench/webshop.py [--episodes 100] [--concurrency 64] [--soak 10000]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from envs.webshop.app import create_app
from envs.webshop.data import load_webshop_tasks
from envs.webshop.env import WebShopEnv
from envs.webshop.oracle import plan
from envs.webshop.shop import Shop


class InProcessEnv(WebShopEnv):
    """The env with its HTTP client swapped for an in-process ASGI client of the same app."""

    _app = None

    def _http(self):
        if self._client is None:
            if InProcessEnv._app is None:
                InProcessEnv._app = create_app(Shop(self.tasks.root))
            self._client = TestClient(InProcessEnv._app)
        return self._client


def play(env: WebShopEnv, task_ids: list[str], lat: list[float] | None = None) -> tuple[int, int]:
    steps = solved = 0
    for task_id in task_ids:
        _, info = env.reset(options={"task": task_id})
        for turn in range(env.max_turns):
            t = time.perf_counter()
            *_, terminated, truncated, step_info = env.step(plan(turn, info))
            if lat is not None:
                lat.append(time.perf_counter() - t)
            steps += 1
            if terminated or truncated:
                solved += step_info["success"]
                break
    return steps, solved


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def speed(tasks, ids: list[str]) -> None:
    rows = {}
    for name, cls in (("http", WebShopEnv), ("in-process", InProcessEnv)):
        env = cls(split="test", tasks=tasks)
        play(env, ids[:3])  # warm up: server start, catalogs
        lat: list[float] = []
        start = time.perf_counter()
        steps, solved = play(env, ids, lat)
        wall = time.perf_counter() - start
        env.close()
        rows[name] = (steps / wall, statistics.median(lat) * 1000, pct(lat, 0.99) * 1000, solved)
        print(f"{name:>10}: {len(ids)} episodes, {steps} steps, {steps / wall:7.1f} steps/s, p50 {rows[name][1]:.2f} ms, "
              f"p99 {rows[name][2]:.2f} ms, solved {solved}/{len(ids)}")
    print(f"     ratio: HTTP p50 / in-process p50 = {rows['http'][1] / rows['in-process'][1]:.2f}x; "
          f"in-process steps/s / HTTP steps/s = {rows['in-process'][0] / rows['http'][0]:.2f}x")


def concurrency(tasks, ids: list[str], n: int) -> None:
    per = [ids[i::n] or ids[:1] for i in range(n)]
    failures: list[str] = []
    solved = [0]
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        env = WebShopEnv(split="test", tasks=tasks)
        try:
            _, ok = play(env, chunk)
            with lock:
                solved[0] += ok
        except Exception as e:  # counted and printed: the figure is "no failure"
            with lock:
                failures.append(f"{type(e).__name__}: {e}")
        finally:
            env.close()

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(n) as pool:
        list(pool.map(worker, per))
    episodes = sum(len(c) for c in per)
    print(f"concurrent: {n} envs at once, {episodes} episodes in {time.perf_counter() - start:.1f} s, "
          f"failures {len(failures)}, solved {solved[0]}/{episodes}" + (f"; first failure: {failures[0]}" if failures else ""))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def soak(tasks, episodes: int) -> None:
    code = ("import sys, time; from envs.webshop.app import ShopServer; s = ShopServer(sys.argv[1], max_sessions=256); "
            "s.start(); print(s.port, flush=True); time.sleep(86400)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tasks.root)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent, env={**os.environ})
    try:
        port = int(proc.stdout.readline())
        catalog = tasks.catalog("A")
        samples = []
        start = time.perf_counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for i in range(episodes):
                product = catalog.products[i % len(catalog)]
                sid = http.post("/api/sessions", json={"world": "A"}).json()["session"]
                http.get(f"/s/{sid}/search", params={"q": product["query"]}).raise_for_status()
                http.get(f"/s/{sid}/item/{product['asin']}").raise_for_status()
                if i % 2:
                    http.delete(f"/api/sessions/{sid}")
                if (i + 1) % max(1, episodes // 10) == 0:
                    samples.append((i + 1, rss_kb(proc.pid) / 1024, http.get("/health").json()["sessions"]))
        wall = time.perf_counter() - start
        print(f"      soak: {episodes} episodes in {wall:.1f} s (half never closed; the server keeps at most 256 sessions)")
        for n, mb, live in samples:
            print(f"            after {n:>6} episodes: server RSS {mb:7.1f} MB, live sessions {live}")
        first, last = samples[0][1], samples[-1][1]
        print(f"            RSS growth from the first to the last sample: {last - first:+.1f} MB ({(last / first - 1) * 100:+.1f} %)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--soak", type=int, default=10_000)
    args = parser.parse_args()
    tasks = load_webshop_tasks()
    ids = list(tasks.ids("test"))
    print(f"WebShop-v0 bench ({os.cpu_count()} CPUs; timings are noisy on a shared machine)")
    speed(tasks, ids[: args.episodes])
    concurrency(tasks, ids[: max(args.concurrency * 4, args.episodes)], args.concurrency)  # 4 episodes per env
    if args.soak:
        soak(tasks, args.soak)


if __name__ == "__main__":
    main()
