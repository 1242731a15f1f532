"""Ray rollout workers: episodes/s with 1, 2 and 4 workers, the wall time a worker death costs, and Code-v0's rate.

    python bench/cluster.py                      # I/O-bound env: every step sleeps 0.1 s
    python bench/cluster.py --step-sleep 0.05 --episodes 128 --concurrency 4
    python bench/cluster.py --sections code --code-episodes 48   # Code-v0 on Docker sandboxes only

A local cluster (``ray.cluster_utils.Cluster``): a head that takes no workers and two nodes with
``--node-cpus`` logical CPUs each; workers request 0.5 CPU and ``sleepy: 1`` of the 4 each node
advertises.  The env is tests/cluster_env.py's ``SleepArith-v0`` (two steps per episode) under its
oracle, so the work is waiting, as env calls (sandboxes, browsers, HTTP) are.  Per worker count:
a warm-up batch, then ``--episodes`` timed through one shared queue; ratios are against 1 worker in
the same run (goal: >= 1.6x at 2, >= 2.5x at 4).  Then, with 2 workers, the same batch with and
without ``ray.kill`` of a worker after a quarter of the episodes landed: the extra wall time.
Memory is the resident set of the driver and every process it started (GCS, raylets, agents, workers),
after the cluster came up and after each worker count.

The Code section (``--sections ...,code``; needs a Docker engine and the sandbox image, else it is
recorded as skipped with the reason): ``Code-v0`` under its oracle on real Docker sandboxes, with
1 and 2 workers; workers request Code-v0's own ``docker: 1`` of the 2 each node advertises, so they
spread over the nodes, and each worker process runs its own sandbox pool (per-node pools).  The
ratio is against 1 worker in the same run.  On a machine whose CPUs the sandboxes share with Ray,
this is CPU-bound, not I/O-bound: the ratio says what two cores give, not what two machines would.
Prints figures only (no timed asserts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from agents.policy import SamplingParams  # noqa: E402
from agents.rollout import Episode  # noqa: E402
from tests.cluster_env import ENV_ID  # noqa: E402
from trainers.cluster.backend import ClusterRollout  # noqa: E402
from trainers.cluster.worker import EnvSpec, PolicySpec  # noqa: E402
from trainers.config import ClusterConfig  # noqa: E402

STORE = 80 * 2**20
SAMPLING = SamplingParams(temperature=0.0, max_tokens=32)


def ray_rss_mb() -> float:
    """Resident memory of this process and all its descendants (MB): the cluster's GCS, raylets, agents and
    workers all descend from the driver that started it, so other Ray instances on the machine are not counted.
    Sandbox containers are the Docker engine's children, not counted here."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("PPid:"):
                    parents[int(pid)] = int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss[int(pid)] = int(line.split()[1])
        except (OSError, ValueError):
            continue
    ours, grew = {os.getpid()}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in ours} - ours
        ours |= more
        grew = bool(more)
    return sum(rss.get(p, 0) for p in ours) / 1024


def backend(workers: int, args) -> ClusterRollout:
    cfg = ClusterConfig(address="auto", workers=workers, concurrency=args.concurrency, cpus_per_worker=0.5,
                        resources={"sleepy": 1.0}, episode_timeout=60.0, max_retries=2, start_timeout=120.0)
    env = EnvSpec(ENV_ID, "train", {"step_sleep": args.step_sleep}, ("tests.cluster_env",))
    return ClusterRollout(cfg, env, PolicySpec("agents:make_policy", ("oracle",), {"env": ENV_ID}))


def code_backend(workers: int, args) -> ClusterRollout:
    cfg = ClusterConfig(address="auto", workers=workers, concurrency=args.code_concurrency, cpus_per_worker=0.5,
                        episode_timeout=120.0, max_retries=2, start_timeout=120.0)  # resources: Code-v0's {docker: 1}
    return ClusterRollout(cfg, EnvSpec("Code-v0", "train"), PolicySpec("agents:make_policy", ("oracle",), {"env": "Code-v0"}))


def code_episodes(n: int, offset: int) -> list[Episode]:
    from envs.registry import task_set

    ids = sorted(task_set("Code-v0").ids("train"))
    return [Episode(task_id=ids[(offset + i) % len(ids)], seed=offset + i) for i in range(n)]


def docker_missing() -> str | None:
    """Why the Code section cannot run here (no engine, no image), or None."""
    try:
        import docker

        from sandboxes.image import IMAGE, image_exists

        client = docker.from_env(timeout=30)
        client.ping()
        return None if image_exists(client, IMAGE) else f"sandbox image {IMAGE} missing (turngym sandbox build --offline)"
    except Exception as e:  # noqa: BLE001
        return f"no Docker engine reachable ({type(e).__name__}: {e})"


def code_section(args) -> dict:
    """Code-v0 episodes/s with 1 and 2 workers (oracle, real sandboxes), the ratio, and memory."""
    missing = docker_missing()
    if missing:
        return {"skipped": missing}
    out: dict = {"episodes": args.code_episodes, "concurrency": args.code_concurrency}
    rates = {}
    for n in (1, 2):
        b = code_backend(n, args)
        try:
            b.play(None, code_episodes(2 * n * args.code_concurrency, 0), SAMPLING)  # warm-up: envs and pools start
            t0 = time.perf_counter()
            trajs = b.play(None, code_episodes(args.code_episodes, 1000), SAMPLING)
            wall = time.perf_counter() - t0
            bad = [t.error for t in trajs if t.failed or not t.success]
            assert not bad, bad[:3]
            rates[n] = args.code_episodes / wall
            out[f"workers_{n}"] = {"episodes_per_s": round(rates[n], 2), "wall_s": round(wall, 2),
                                   "nodes": len({w["node_id"] for w in b.workers}),
                                   "util_mean": round(b.last_stats["util_mean"], 3), "ray_rss_mb": round(ray_rss_mb())}
        finally:
            b.close()
    out["speedup_2_vs_1"] = round(rates[2] / rates[1], 2)
    return out


def episodes(n: int, offset: int = 0) -> list[Episode]:
    tasks = ["train0", "train1", "train2", "train3"]
    return [Episode(task_id=tasks[i % 4], seed=offset + i) for i in range(n)]


def timed(b: ClusterRollout, n: int, on_done=None) -> tuple[float, dict]:
    t0 = time.perf_counter()
    trajs = b.play(None, episodes(n, 1000), SAMPLING, on_done=on_done)
    wall = time.perf_counter() - t0
    assert len(trajs) == n and not any(t.failed for t in trajs), [t.error for t in trajs if t.failed][:3]
    return wall, b.last_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--step-sleep", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=2, help="episodes in flight per worker")
    parser.add_argument("--node-cpus", type=int, default=2)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--sections", default="scaling,death,code", help="any of scaling, death, code")
    parser.add_argument("--code-episodes", type=int, default=48)
    parser.add_argument("--code-concurrency", type=int, default=2, help="Code-v0 episodes in flight per worker")
    args = parser.parse_args()
    sections = set(args.sections.split(","))

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": STORE, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=args.node_cpus, object_store_memory=STORE, resources={"sleepy": 4.0, "docker": 2.0})
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}})
    cluster.wait_for_nodes()
    out: dict = {"episodes": args.episodes, "step_sleep": args.step_sleep, "concurrency": args.concurrency,
                 "ideal_episodes_per_s_per_worker": args.concurrency / (2 * args.step_sleep),
                 "ray_rss_mb_idle_cluster": round(ray_rss_mb())}
    try:
        rates = {}
        for n in [int(x) for x in args.workers.split(",")] if "scaling" in sections else []:
            b = backend(n, args)
            try:
                timed(b, 2 * n * args.concurrency)  # warm-up: every worker builds its envs
                wall, stats = timed(b, args.episodes)
                rates[n] = args.episodes / wall
                out[f"workers_{n}"] = {"episodes_per_s": round(rates[n], 2), "wall_s": round(wall, 2),
                                       "util_mean": round(stats["util_mean"], 3), "util_min": round(stats["util_min"], 3),
                                       "ray_rss_mb": round(ray_rss_mb())}
            finally:
                b.close()
        if rates:
            base = rates[min(rates)]
            out["speedup_vs_1"] = {n: round(r / base, 2) for n, r in rates.items()}
        if "death" in sections:
            worker_death(args, out)
        if "code" in sections:
            out["code"] = code_section(args)
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(out, indent=2))


def worker_death(args, out: dict) -> None:
    """With 2 workers: the same batch with and without ray.kill of a worker after a quarter landed."""
    b = backend(2, args)
    try:
        timed(b, 4 * args.concurrency)
        clean, _ = timed(b, args.episodes)
        landed: list = []

        def kill_one(_traj) -> None:
            landed.append(1)
            if len(landed) == args.episodes // 4:
                ray.kill(b.dispatcher.slots[0].handle, no_restart=True)

        killed, stats = timed(b, args.episodes, on_done=kill_one)
        out["worker_death"] = {"wall_s_clean": round(clean, 2), "wall_s_with_death": round(killed, 2),
                               "extra_wall_s": round(killed - clean, 2), "retried": stats["retried"],
                               "worker_deaths": stats["worker_deaths"]}
    finally:
        b.close()


if __name__ == "__main__":
    main()
