"""vLLM servers as Ray actors (``inference: {replicas: N, ...}`` with ``cluster:`` set).

Each replica is a :class:`ServerActor` on a node that has ``inference.resources`` free (default ``{vllm: 1}``:
a node started with ``ray start --resources='{"vllm": 2}'`` takes two servers; ``inference.gpus`` reserves
GPUs, and Ray sets the server's ``CUDA_VISIBLE_DEVICES``).  It starts a :func:`trainers.sync.training_server`
bound to its node's IP (``ray.util.get_node_ip_address()``), not loopback, so the driver and the rollout
workers on every node reach it.  :func:`start_fleet` checks that the nodes can hold every replica, places
the actors and asks where they landed (fail fast: a server on another machine than the driver needs
``sync.shared_dir``, and the model folder must be on its node), then starts all servers in parallel under
``inference.start_timeout``; all or none.

Stopping: :meth:`ServerFleet.close` asks each actor to stop its server, then kills it.  A killed actor
(``ray.kill``, its node gone, a crash) runs no Python at all, and Ray then kills its child processes but
not theirs (vLLM's engine core and its workers lived on in a test here), so each server gets a
watchdog: an orphaned process in its own session that SIGTERMs, then SIGKILLs, the server's process
group (and removes its untied weight copy) once the actor's process is gone; it checks every 0.5 s.

A server that dies mid-run is not restarted: a fresh one would hold the base weights at another URL,
while live episodes are pinned to the old one and every worker's policy lists it.  The backend fails
clearly instead: before every play (:class:`trainers.cluster.backend.ClusterRollout`) and every push or
check (:class:`GuardedSync`), :meth:`ServerFleet.check` raises :class:`ServerDied` naming each dead replica,
its URL, its node and the cause (the actor's death, or the vLLM process's exit code and log tail).  The run
stops there and resumes from its last checkpoint with fresh servers (``turngym train ... --resume``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainers.cluster.nodes import ClusterError
from trainers.sync import SyncError

# The watchdog (argv: owner pid, server pid = its process group, a folder to remove or "").  It forks and runs as
# the orphan: when an actor dies, Ray kills the actor's child processes (the API server, a direct watchdog) but
# not their children, so vLLM's engine processes would live on with nothing left to stop them.
WATCHDOG = r"""
import os, shutil, signal, sys, time
if os.fork():
    os._exit(0)
os.setsid()
owner, group, leftover = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def running(pid):
    if not os.path.isdir("/proc"):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False
def group_left():
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while running(owner):
    if not group_left():
        sys.exit(0)
    time.sleep(0.5)
for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        break
    end = time.monotonic() + grace
    while group_left() and time.monotonic() < end:
        time.sleep(0.2)
if leftover:
    shutil.rmtree(leftover, ignore_errors=True)
"""


class ServerDied(ClusterError, SyncError):
    """A vLLM server actor (or its vLLM process) is gone; the message names each replica, URL, node and cause."""


class ServerActor:
    """One vLLM training server on this actor's node (a threaded actor: ``status`` answers while ``start`` waits)."""

    def __init__(self) -> None:
        self.server: Any = None

    def node(self, model_dir: str) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
                "host": os.uname().nodename, "model_here": Path(model_dir).is_dir()}

    def start(self, model_dir: str, options: dict[str, Any], log_path: str | None = None) -> dict[str, Any]:
        import ray

        from trainers.sync import training_server

        log = Path(log_path) if log_path and Path(log_path).parent.is_dir() else None  # the run folder, when this node has it
        self.server = training_server(model_dir, host=ray.util.get_node_ip_address(), log_path=log, on_spawn=self._watch,
                                      **options)
        self.server.start()
        return {"url": self.server.url, "pid": self.server.proc.pid, "startup_seconds": self.server.startup_seconds,
                "log": str(self.server.log_path)}

    def _watch(self, server: Any) -> None:
        leftover = str(server.untied_dir.parent) if getattr(server, "untied_dir", None) is not None else ""
        subprocess.run([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(server.proc.pid), leftover], check=True,
                       start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)  # returns once the watchdog has forked away (it leaves when the server's group is gone)

    def status(self) -> dict[str, Any]:
        server = self.server
        if server is None or server.proc is None:
            return {"alive": False, "returncode": None, "log_tail": "(not started)"}
        code = server.proc.poll()
        return {"alive": code is None, "returncode": code, "log_tail": "" if code is None else server.log_tail(20)}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def replicas_fit(nodes: Sequence[dict[str, Any]], request: dict[str, float]) -> int:
    """How many servers asking ``request`` (Ray resource name -> amount) the ``nodes`` hold in all."""
    total = 0
    for node in nodes:
        have = node["resources"]
        fits = [int(have.get(key, 0.0) // amount) for key, amount in request.items() if amount > 0]
        total += min(fits) if fits else 1_000_000
    return total


def require_shared_dir(server_ips: Sequence[str], driver_ip: str, shared_dir: str | None) -> None:
    """Refuse servers on another machine than the driver when pushes go through the driver's ``/dev/shm``."""
    remote = sorted({ip for ip in server_ips if ip != driver_ip})
    if remote and shared_dir is None:
        raise ClusterError(f"sync.shared_dir: is not set, but vLLM servers run on {remote}, not on the driver's machine "
                           f"({driver_ip}): pushed weights go to the driver's /dev/shm, which they cannot read; set "
                           "sync.shared_dir to a folder every node mounts at the same path")


class GuardedSync:
    """A :class:`trainers.sync.WeightSync` whose push and check first make sure every server is alive; any other
    attribute (``policy``, ``last_timings``, ``syncs``) is the wrapped sync's."""

    def __init__(self, sync: Any, fleet: ServerFleet):
        self.sync, self.fleet = sync, fleet

    def __getattr__(self, name: str) -> Any:
        if name in ("sync", "fleet"):
            raise AttributeError(name)
        return getattr(self.sync, name)

    def push(self, model: Any) -> float:
        self.fleet.check()
        try:
            return self.sync.push(model)
        except SyncError:
            self.fleet.check()  # a server that died during the push: say that rather than "connection refused"
            raise

    def check(self, expected_logprobs: Sequence[float], ids: Sequence[int], atol: float) -> float:
        self.fleet.check()
        return self.sync.check(expected_logprobs, ids, atol)

    def close(self) -> None:
        self.sync.close()


class ServerFleet:
    """The started server actors: ``urls`` (in replica order), ``infos`` (node, pid, start-up seconds, log), and
    ``placed`` (where each landed); :meth:`check`, :meth:`guard`, :meth:`close` (safe twice)."""

    def __init__(self, actors: list[Any], placed: list[dict[str, Any]], infos: list[dict[str, Any]], owns_ray: bool):
        self.actors, self.placed, self.infos, self._owns_ray = actors, placed, infos, owns_ray
        self.urls = [info["url"] for info in infos]

    def guard(self, sync: Any) -> GuardedSync:
        return GuardedSync(sync, self)

    def check(self, timeout: float = 30.0) -> None:
        """Raise :class:`ServerDied` naming every replica whose actor or vLLM process is gone (or does not answer)."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        if not self.actors:
            raise ServerDied("the vLLM server actors were closed")
        deadline = time.monotonic() + timeout
        refs = [a.status.remote() for a in self.actors]
        problems = []
        for i, ref in enumerate(refs):
            where = f"replica {i} ({self.urls[i]}, node {self.placed[i]['ip']})"
            try:
                status = ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
            except GetTimeoutError:
                problems.append(f"{where}: its actor did not answer within {timeout:g}s")
            except RayActorError as e:
                problems.append(f"{where}: its Ray actor died ({_first_line(e)})")
            else:
                if not status["alive"]:
                    problems.append(f"{where}: vLLM exited with code {status['returncode']}; its log ends:\n{status['log_tail']}")
        if problems:
            raise ServerDied(f"{len(problems)} of {len(self.actors)} vLLM server(s) gone: " + "; ".join(problems) +
                             " (servers are not restarted: the run stops; resume it with --resume for fresh servers)")

    def close(self) -> None:
        import ray

        actors, self.actors = self.actors, []
        try:
            if actors:
                refs = [a.stop.remote() for a in actors]
                ray.wait(refs, num_returns=len(refs), timeout=60.0)
                for actor in actors:
                    try:
                        ray.kill(actor, no_restart=True)
                    except Exception:  # noqa: BLE001  (already gone; its watchdog stops the server)
                        pass
        finally:
            if self._owns_ray:
                self._owns_ray = False
                ray.shutdown()


def start_fleet(config: Any, model_dir: Any, *, max_model_len: int, lora_rank: int | None = None, run_dir: Path | None = None,
                console: Any = None) -> ServerFleet:
    """``config.inference.replicas`` servers as Ray actors (connecting to ``config.cluster.address`` first), all up
    and healthy, or none and a :class:`ClusterError` naming the replica and the field to change."""
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    from trainers.cluster.nodes import connect, nodes

    spec = config.inference
    owns = connect(config.cluster.address, local_cpus=config.cluster.local_cpus)
    actors: list[Any] = []
    try:
        request = {**spec.resources, "CPU": spec.cpus, "GPU": spec.gpus}
        fit = replicas_fit(nodes(), request)
        if fit < spec.replicas:
            raise ClusterError(f"inference.replicas: is {spec.replicas} but the nodes hold {fit} server(s) asking "
                               f"{ {k: v for k, v in request.items() if v} } each; start nodes with ray start "
                               f"--resources='{{\"vllm\": N}}', or change inference.resources/cpus/gpus")
        options: dict[str, Any] = {"num_cpus": spec.cpus, "num_gpus": spec.gpus, "resources": dict(spec.resources),
                                   "max_concurrency": 4, "scheduling_strategy": "SPREAD"}
        if spec.memory_gb:
            options["memory"] = int(spec.memory_gb * 2**30)
        if console is not None:
            console.print(f"starting {spec.replicas} vLLM server(s) as Ray actors ...")
        remote = ray.remote(ServerActor)
        actors = [remote.options(**options).remote() for _ in range(spec.replicas)]
        deadline = time.monotonic() + spec.start_timeout
        try:
            placed = ray.get([a.node.remote(str(model_dir)) for a in actors], timeout=spec.start_timeout)
        except GetTimeoutError:
            raise ClusterError(f"inference: the vLLM server actors were not placed within inference.start_timeout "
                               f"({spec.start_timeout:g}s): the resources they ask ({options['resources']}) are taken") from None
        missing = [f"{p['host']} ({p['ip']})" for p in placed if not p["model_here"]]
        if missing:
            raise ClusterError(f"model: no folder {model_dir} on {missing}: the model must be at the same path on every node")
        require_shared_dir([p["ip"] for p in placed], ray.util.get_node_ip_address(), config.sync.shared_dir)
        server = {"max_model_len": max_model_len, "lora_rank": lora_rank, "seed": config.seed,
                  # vLLM reports raw logprobs unless told otherwise: at T != 1 the learner scores log π_T
                  "processed_logprobs": config.sampling.temperature != 1.0,
                  "startup_timeout": max(1.0, deadline - time.monotonic())}
        logs = [str(run_dir / f"vllm-{i}.log") if run_dir is not None else None for i in range(spec.replicas)]
        refs = [a.start.remote(str(model_dir), server, log) for a, log in zip(actors, logs)]
        infos = []
        for i, ref in enumerate(refs):
            try:
                infos.append(ray.get(ref, timeout=max(0.1, deadline + 30.0 - time.monotonic())))
            except GetTimeoutError:
                raise ClusterError(f"inference: vLLM server replica {i} on {placed[i]['ip']} not healthy within "
                                   f"inference.start_timeout ({spec.start_timeout:g}s)") from None
            except RayError as e:
                raise ClusterError(f"inference: vLLM server replica {i} on {placed[i]['ip']} failed to start: {e}") from None
        return ServerFleet(actors, placed, infos, owns)
    except BaseException:
        ServerFleet(actors, [], [], owns).close()
        raise


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
