"""Ray rollout workers: episodes/s with 1, 2 and 4 workers, and the wall time a worker death costs.

    python bench/cluster.py                      # I/O-bound env: every step sleeps 0.1 s
    python bench/cluster.py --step-sleep 0.05 --episodes 128 --concurrency 4

A local cluster (``ray.cluster_utils.Cluster``): a head that takes no workers and two nodes with
``--node-cpus`` logical CPUs each; workers request 0.5 CPU and ``sleepy: 1`` of the 4 each node
advertises.  The env is tests/cluster_env.py's ``SleepArith-v0`` (two steps per episode) under its
oracle, so the work is waiting, as env calls (sandboxes, browsers, HTTP) are.  Per worker count:
a warm-up batch, then ``--episodes`` timed through one shared queue; ratios are against 1 worker in
the same run (goal: >= 1.6x at 2, >= 2.5x at 4).  Then, with 2 workers, the same batch with and
without ``ray.kill`` of a worker after a quarter of the episodes landed: the extra wall time.
Memory is the resident set of every Ray process (raylets, GCS, agents, workers) and the driver.
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
    """Resident memory of this process and every process whose command line names ray (MB)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if int(pid) != os.getpid() and b"ray" not in cmd:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


def backend(workers: int, args) -> ClusterRollout:
    cfg = ClusterConfig(address="auto", workers=workers, concurrency=args.concurrency, cpus_per_worker=0.5,
                        resources={"sleepy": 1.0}, episode_timeout=60.0, max_retries=2, start_timeout=120.0)
    env = EnvSpec(ENV_ID, "train", {"step_sleep": args.step_sleep}, ("tests.cluster_env",))
    return ClusterRollout(cfg, env, PolicySpec("agents:make_policy", ("oracle",), {"env": ENV_ID}))


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
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": STORE, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=args.node_cpus, object_store_memory=STORE, resources={"sleepy": 4.0})
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}})
    cluster.wait_for_nodes()
    out: dict = {"episodes": args.episodes, "step_sleep": args.step_sleep, "concurrency": args.concurrency,
                 "ideal_episodes_per_s_per_worker": args.concurrency / (2 * args.step_sleep)}
    try:
        rates = {}
        for n in [int(x) for x in args.workers.split(",")]:
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
        base = rates[min(rates)]
        out["speedup_vs_1"] = {n: round(r / base, 2) for n, r in rates.items()}

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
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
