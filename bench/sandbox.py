"""Sandbox latency and throughput, all in one run on the same engine (prints figures, asserts nothing).

    .venv/bin/python bench/sandbox.py [--episodes 96] [--concurrency 32]

1. a trivial call (``python3 -c 'print(1+1)'``) three ways: a fresh ``docker run``, ``docker exec`` in
   a running container, and the pool's warm worker; p50/p95 and the ratios against ``docker exec``;
2. time to hand out a fresh (never used) sandbox from a warm pool;
3. throughput of N episodes at C concurrent (each: write a file, run Python on it, query sqlite);
4. the cost of the memory hardening (tmpfs inode caps, a /dev/shm tmpfs, IPC sysctls): sandbox
   creation (container + worker ready) with today's settings against the settings without them,
   alternated in the same run, and a call's cost with the per-call OOM check against ``docker exec``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker

import sandboxes.docker as docker_backend
from sandboxes import SandboxPool
from sandboxes.docker import DockerBackend, DockerSandbox
from sandboxes.image import IMAGE

CODE = "print(1+1)"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def row(name: str, xs: list[float]) -> tuple[str, float, float]:
    p50, p95 = pct(xs, 0.5) * 1e3, pct(xs, 0.95) * 1e3
    print(f"  {name:<34} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   (n={len(xs)})")
    return name, p50, p95


def bench_docker_run(client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        got = client.containers.run(IMAGE, ["python3", "-c", CODE], remove=True, network_mode="none")
        out.append(time.perf_counter() - t)
        assert got == b"2\n", got
    return out


def bench_docker_exec(client, n: int) -> list[float]:
    c = client.containers.run(IMAGE, ["sleep", "infinity"], detach=True, network_mode="none", labels={"turngym.sandbox": "1"})
    try:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            code, got = c.exec_run(["python3", "-c", CODE])
            out.append(time.perf_counter() - t)
            assert (code, got) == (0, b"2\n"), got
        return out
    finally:
        c.remove(force=True)


def bench_warm(pool: SandboxPool, n: int) -> tuple[list[float], list[float]]:
    with pool.sandbox() as sb:
        for _ in range(10):
            sb.run(CODE, timeout=5)
        py, sh = [], []
        for _ in range(n):
            t = time.perf_counter()
            r = sb.run(CODE, timeout=5)
            py.append(time.perf_counter() - t)
            assert r.stdout == "2\n", r
        for _ in range(n):
            t = time.perf_counter()
            r = sb.run(["true"], timeout=5)
            sh.append(time.perf_counter() - t)
            assert r.exit_code == 0, r
    return py, sh


def bench_handout(pool: SandboxPool, n: int) -> list[float]:
    out = []
    for _ in range(n):
        pool.wait_warm(pool.size, timeout=60)
        t = time.perf_counter()
        sb = pool.acquire()
        out.append(time.perf_counter() - t)
        pool.release(sb)
    return out


async def episode(pool: SandboxPool, i: int, calls: list[float]) -> bool:
    async with pool.sandbox() as sb:
        ok = True
        for args, kwargs, want in [
            (("import json; d = json.load(open('in.json')); print(sum(d))",), {"files": {"in.json": f"[{i}, 1, 2]"}}, f"{i + 3}\n"),
            (("sqlite3 t.db 'create table t(x); insert into t values (41); select x + 1 from t'",), {"lang": "sh"}, "42\n"),
            (("print(open('in.json').read())",), {}, f"[{i}, 1, 2]\n"),
        ]:
            t = time.perf_counter()
            r = await sb.arun(*args, timeout=10, **kwargs)
            calls.append(time.perf_counter() - t)
            ok = ok and r.stdout == want and r.exit_code == 0
        return ok


async def bench_throughput(pool: SandboxPool, episodes: int, concurrency: int) -> tuple[float, int, list[float]]:
    sem = asyncio.Semaphore(concurrency)
    calls: list[float] = []

    async def one(i):
        async with sem:
            try:
                return await episode(pool, i, calls)
            except Exception as e:  # noqa: BLE001 - counted as a failure
                print(f"  episode {i} failed: {e}")
                return False

    t = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(episodes)))
    return time.perf_counter() - t, results.count(False), calls


HARDENED = docker_backend.host_config_kwargs


def unhardened_host_config(limits):
    """Today's isolation settings less the memory hardening: no inode caps, Docker's own /dev/shm, no IPC sysctls."""
    kw = HARDENED(limits)
    kw.pop("sysctls")
    kw["tmpfs"] = {path: ",".join(o for o in opts.split(",") if not o.startswith("nr_inodes="))
                   for path, opts in kw["tmpfs"].items() if path != "/dev/shm"}
    kw["shm_size"] = limits.tmp_size
    return kw


def bench_create(client, n: int) -> tuple[list[float], list[float]]:
    hardened, plain = [], []
    for _ in range(n):
        for config, out in ((HARDENED, hardened), (unhardened_host_config, plain)):
            docker_backend.host_config_kwargs = config
            try:
                t = time.perf_counter()
                sb = DockerSandbox.create(client)
                out.append(time.perf_counter() - t)
            finally:
                docker_backend.host_config_kwargs = HARDENED
            sb.close()
    return hardened, plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="docker run samples")
    ap.add_argument("--execs", type=int, default=30, help="docker exec samples")
    ap.add_argument("--calls", type=int, default=300, help="warm worker samples")
    ap.add_argument("--handouts", type=int, default=30)
    ap.add_argument("--episodes", type=int, default=96)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--creates", type=int, default=10, help="sandbox creations per setting (section 4)")
    args = ap.parse_args()
    client = docker.from_env(timeout=120, max_pool_size=64)
    print(f"engine: Docker {client.version()['Version']}, {os.cpu_count()} CPUs, image {IMAGE}")
    print("trivial call: python3 -c 'print(1+1)'")
    run = row("docker run (fresh container)", bench_docker_run(client, args.runs))
    exe = row("docker exec (running container)", bench_docker_exec(client, args.execs))
    with SandboxPool(DockerBackend(client=client), size=4, max_active=args.concurrency) as pool:
        pool.wait_warm(4, timeout=120)
        py, sh = bench_warm(pool, args.calls)
        warm = row("pool warm worker: python", py)
        row("pool warm worker: argv ['true']", sh)
        print(f"  warm worker vs docker exec: {exe[1] / warm[1]:.1f}x faster at p50, {exe[2] / warm[2]:.1f}x at p95;"
              f" vs docker run: {run[1] / warm[1]:.0f}x at p50")
        print("hand-out of a fresh sandbox from a warm pool:")
        row("pool.acquire()", bench_handout(pool, args.handouts))
    with SandboxPool(DockerBackend(client=client), size=args.concurrency, max_active=args.concurrency, create_workers=4) as pool:
        pool.wait_warm(args.concurrency, timeout=300)
        wall, failures, calls = asyncio.run(bench_throughput(pool, args.episodes, args.concurrency))
        print(f"throughput: {args.episodes} episodes x 3 calls at {args.concurrency} concurrent on {os.cpu_count()} CPUs")
        print(f"  {args.episodes / wall:.1f} episodes/s, {3 * args.episodes / wall:.1f} calls/s, wall {wall:.1f} s, failures {failures}")
        row("call latency under load", calls)
        print(f"  pool: {pool.stats()}")
    print("memory hardening: sandbox creation, alternating settings")
    hardened, plain = bench_create(client, args.creates)
    h, p = row("with inode caps, /dev/shm, IPC", hardened), row("without (previous settings)", plain)
    print(f"  hardened / previous: {h[1] / p[1]:.2f}x at p50, {h[2] / p[2]:.2f}x at p95")


if __name__ == "__main__":
    main()
