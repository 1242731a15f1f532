"""``turngym cluster check``: a Ray cluster's nodes and resources, and one episode played per rollout worker."""

from __future__ import annotations

import json
import time
from typing import Optional

import typer
from rich.console import Console

from turngym.cli_tables import print_table, table as cli_table

cluster_app = typer.Typer(help="Rollouts on a Ray cluster (pip install -e '.\\[cluster]').", no_args_is_help=True)
console = Console()


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


@cluster_app.command("check")
def check_cmd(
    address: str = typer.Option("auto", help="local | auto | HOST:PORT | ray://HOST:PORT"),
    env: str = typer.Option("Lookup-v0", help="the env each worker plays one episode of"),
    policy: str = typer.Option("oracle", help="oracle, random, or a baseline the env registers"),
    workers: Optional[int] = typer.Option(None, min=1, help="rollout workers to start (default: one per node)"),
    resources: Optional[str] = typer.Option(None, help='custom resources per worker as JSON, e.g. \'{"docker": 1}\' '
                                                       "(default: what the env needs)"),
    cpus: float = typer.Option(0.5, min=0.0, help="CPUs per worker"),
    imports: list[str] = typer.Option([], "--import", help="a module every worker imports first (an env registered outside plugins)"),
    timeout: float = typer.Option(120.0, min=1.0, help="seconds for the workers to start, and for each episode"),
) -> None:
    """Show the cluster's nodes and resources, then play one episode on each rollout worker."""
    try:
        import ray
    except ImportError:
        _fail("ray is not installed: pip install -e '.[cluster]'")
    import importlib

    from agents.policy import SamplingParams
    from agents.rollout import Episode
    from envs.registry import entry, task_set
    from trainers.cluster.dispatch import Dispatcher
    from trainers.cluster.nodes import ClusterError, connect, nodes, on_each_node, require_resources, where
    from trainers.cluster.worker import EnvSpec, PolicySpec, worker_resources

    try:
        for module in imports:
            importlib.import_module(module)
        env_id = entry(env).id
        request = json.loads(resources) if resources else worker_resources(env_id)
        owns = connect(address)
    except (ImportError, KeyError, ValueError, ClusterError) as e:
        _fail(str(e.args[0] if isinstance(e, KeyError) and e.args else e))
    dispatcher = None
    try:
        alive = nodes()
        pinned = on_each_node(where, timeout=timeout)
        table = cli_table("node", "address", "CPU", "mem GB", "store GB", "custom", "pinned task",
                          wrap=("custom", "pinned task"), title=f"{len(alive)} alive node(s)")
        for n in alive:
            r = n["resources"]
            custom = {k: v for k, v in r.items() if k not in ("CPU", "GPU", "memory", "object_store_memory")
                      and not k.startswith("node:") and not k.startswith("accelerator_type")}
            ran = pinned.get(n["node_id"])
            table.add_row(n["node_id"][:12], n["address"], f"{r.get('CPU', 0):g}", f"{r.get('memory', 0) / 2**30:.1f}",
                          f"{r.get('object_store_memory', 0) / 2**30:.2f}", ", ".join(f"{k}={v:g}" for k, v in sorted(custom.items())),
                          f"pid {ran['pid']} on {ran['host']}" if isinstance(ran, dict) else f"[red]{ran}[/]")
        print_table(console, table)
        try:
            require_resources(request)
        except ClusterError as e:
            _fail(str(e), 1)
        n_workers = workers or len(alive)
        console.print(f"starting {n_workers} rollout worker(s) for {env_id} (CPU {cpus:g}, resources {request}) ...")
        dispatcher = Dispatcher(EnvSpec(env_id, "train", {}, tuple(imports)), PolicySpec("agents:make_policy", (policy,), {"env": env_id}),
                                workers=n_workers, concurrency=1, episode_timeout=timeout, max_retries=0, start_timeout=timeout,
                                actor_options={"num_cpus": cpus, "resources": request})
        try:
            dispatcher.wait_ready(timeout)
        except ClusterError as e:
            _fail(str(e), 1)
        ids = task_set(env_id).ids("train")
        t0 = time.monotonic()
        refs = [s.handle.play.remote(Episode(task_id=ids[i % len(ids)], seed=i), SamplingParams(temperature=0.0, max_tokens=256))
                for i, s in enumerate(dispatcher.slots)]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        results = cli_table("worker", "node", "task", "reward", "turns", "seconds", "status", wrap=("status",),
                            title="one episode per worker")
        bad = 0
        for slot, ref in zip(dispatcher.slots, refs):
            if ref not in ready:
                bad += 1
                results.add_row(str(slot.index), slot.node_id[:12], "", "", "", f"{time.monotonic() - t0:.1f}", "[red]timeout[/]")
                continue
            try:
                traj = ray.get(ref)
            except Exception as e:  # noqa: BLE001  (a dead worker is reported, the others still count)
                bad += 1
                results.add_row(str(slot.index), slot.node_id[:12], "", "", "", "", f"[red]{type(e).__name__}[/]")
                continue
            bad += traj.failed
            status = f"[red]failed: {traj.error}[/]" if traj.failed else "ok"
            results.add_row(str(slot.index), slot.node_id[:12], traj.task_id, f"{traj.total_reward:g}", str(len(traj.turns)),
                            f"{traj.wall_time:.2f}", status)
        print_table(console, results)
        if bad:
            raise typer.Exit(1)
    finally:
        if dispatcher is not None:
            dispatcher.close()
        if owns:
            ray.shutdown()
