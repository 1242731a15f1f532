"""``ClusterRollout``: the :class:`trainers.backends.RolloutBackend` whose episodes run on Ray workers.

In training (:func:`cluster_backend`, ``cluster:`` set and ``rollout: vllm``) the driver keeps what it
kept before: the vLLM servers (given by URL, started here, or Ray actors with ``inference:`` set, whose
health every play checks first: :mod:`trainers.cluster.inference`), a driver-side ``VLLMPolicy``
(``policy``: its ``policy_version``, the sync check, answer probes) and the weight sync.  Workers
build their own ``VLLMPolicy`` on the same URL and model folder (it must exist at the same path on
every node); each dispatch carries the driver's ``policy_version``, so every turn is stamped with
the weights that sampled it.  :meth:`ClusterRollout.play` ignores ``make_env``: workers build the env
from its id (``envs.make(env, split=train_split, max_turns=...)``).

``last_stats`` holds the last :meth:`~ClusterRollout.play`'s figures; :meth:`~ClusterRollout.take_stats`
returns the figures of every play since its previous call (a step's refills included), as
``cluster/*`` metrics: episodes/s, retried and timed-out tries, worker deaths, per-worker
utilisation (mean, min, max) and the staleness of turns (the driver's ``policy_version`` minus each
turn's, mean and max).  For families that need Docker (the workers request ``docker``), sandbox containers
whose creating process is gone are collected by label on every node at start and at :meth:`~ClusterRollout.close`;
``gc_reports`` holds what each node reported (``{"start"|"close": {node_id: "removed N sandbox container(s)"}}``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from trainers.cluster.dispatch import Dispatcher
from trainers.cluster.nodes import ClusterError, connect, gc_sandboxes, nodes, on_each_node, require_resources
from trainers.cluster.worker import EnvSpec, PolicySpec, worker_resources


class _Version:
    """The driver-side policy of a backend without a server (checks, tests): a version counter."""

    def __init__(self, name: str):
        self.name, self.policy_version = name, 0


class ClusterRollout:
    def __init__(self, cluster: Any, env: EnvSpec, worker_policy: PolicySpec, *, policy: Any = None, sync: Any = None,
                 closers: Sequence[Callable[[], None]] = (), console: Any = None, url: str | None = None,
                 checks: Sequence[Callable[[], None]] = ()):
        """``url``: the server workers reach (a loopback one is refused when nodes span several machines);
        ``checks``: called before each play, each may raise (the server actors' health: ServerFleet.check)."""
        self.cluster, self.env = cluster, env
        self.checks = list(checks)
        self.policy = policy if policy is not None else _Version(worker_policy.target)
        self.sync = sync
        self._closers = list(closers)
        self._owns_ray, self.gc = False, False
        self.gc_reports: dict[str, dict[str, Any]] = {}  # "start"/"close": node id -> what the sandbox GC did there
        self.dispatcher: Dispatcher | None = None
        self.last_stats: dict[str, float] = {}
        self._pending: list[dict[str, float]] = []
        try:
            self._owns_ray = connect(cluster.address, local_cpus=cluster.local_cpus)
            if url is not None:
                _check_reachable(url)
            resources = worker_resources(env.env_id, cluster.resources)
            require_resources(resources)
            self.gc = "docker" in resources  # sandbox containers by label, on every node, at start and exit
            if self.gc:
                self.gc_reports["start"] = on_each_node(gc_sandboxes)
            options: dict[str, Any] = {"num_cpus": cluster.cpus_per_worker, "resources": resources}
            if cluster.memory_gb:
                options["memory"] = int(cluster.memory_gb * 2**30)
            if console is not None:
                console.print(f"starting {cluster.workers} rollout worker(s) on Ray ({cluster.address}) ...")
            self.dispatcher = Dispatcher(env, worker_policy, workers=cluster.workers, concurrency=cluster.concurrency,
                                         episode_timeout=cluster.episode_timeout, max_retries=cluster.max_retries,
                                         start_timeout=cluster.start_timeout, actor_options=options)
            self.workers = self.dispatcher.wait_ready()
        except BaseException:
            self.close()
            raise

    def play(self, make_env: Callable[[], Any] | None, episodes: Sequence[Episode], sampling: SamplingParams,
             on_done: Callable[[Trajectory], None] | None = None, env_id: str = "") -> list[Trajectory]:
        """Exactly one trajectory per episode, in order (see :mod:`trainers.cluster.dispatch`)."""
        from envs.registry import env_id as full_id

        if env_id and full_id(env_id) != full_id(self.env.env_id):
            raise ValueError(f"this backend's workers play {self.env.env_id}, not {env_id}")
        assert self.dispatcher is not None, "closed"
        for check in self.checks:
            check()
        version = getattr(self.policy, "policy_version", None)
        keys = ("policy_version", "served_name", "name") if hasattr(self.policy, "served_name") else ("policy_version",)
        state = {k: getattr(self.policy, k) for k in keys if hasattr(self.policy, k)}
        trajs = self.dispatcher.run(episodes, sampling, state, on_done)
        lags = [int(version) - t.policy_version for tr in trajs if not tr.failed for t in tr.turns
                if version is not None and t.policy_version is not None]
        self.last_stats = {**self.dispatcher.stats, "staleness_mean": sum(lags) / len(lags) if lags else 0.0,
                           "staleness_max": float(max(lags, default=0))}
        self._pending.append(self.last_stats)
        return trajs

    def take_stats(self) -> dict[str, float]:
        """``cluster/*`` metrics over every play since the previous call (sums, or the slowest/worst)."""
        plays, self._pending = self._pending, []
        if not plays:
            return {}
        seconds = sum(p["seconds"] for p in plays)
        episodes = sum(p["episodes"] for p in plays)
        out = {"episodes_per_s": episodes / max(seconds, 1e-9)}
        for key in ("retried", "timed_out", "worker_deaths", "failed"):
            out[key] = sum(p[key] for p in plays)
        for key in ("util_mean", "staleness_mean"):  # weighted by each play's length
            out[key] = sum(p[key] * p["seconds"] for p in plays) / max(seconds, 1e-9)
        out["util_min"] = min(p["util_min"] for p in plays)
        out["staleness_max"] = max(p["staleness_max"] for p in plays)
        return {f"cluster/{k}": float(v) for k, v in out.items()}

    def close(self) -> None:
        """Stop the workers, collect sandboxes on every node, stop what the driver started; safe twice."""
        try:
            if self.dispatcher is not None:
                self.dispatcher.close()
                self.dispatcher = None
                if self.gc:
                    self.gc_reports["close"] = on_each_node(gc_sandboxes)
            for close in self._closers:
                close()
            self._closers = []
        finally:
            if self._owns_ray:
                import ray

                ray.shutdown()
                self._owns_ray = False


def cluster_backend(config: Any, vllm: Any, *, max_model_len: int, console: Any = None) -> ClusterRollout:
    """The training backend: ``vllm`` (a :class:`trainers.backends.VLLMRollout`: the server and the weight sync)
    on the driver, episodes on ``config.cluster.workers`` workers; closing it closes ``vllm``."""
    try:
        policy = vllm.policy
        spec = PolicySpec("agents.vllm_policy:VLLMPolicy", (str(policy.model_dir), policy.base_urls),
                          {"served_name": policy.served_name, "max_model_len": max_model_len})
        # the arguments the loop makes its envs with (Trainer.env_kwargs): env_kwargs, then max_turns
        kwargs = {**getattr(config, "env_kwargs", {}), **({"max_turns": config.max_turns} if config.max_turns else {})}
        env = EnvSpec(config.env, config.train_split, kwargs, tuple(config.cluster.imports))
    except BaseException:
        vllm.close()
        raise
    # a failure from here on closes the workers and then vllm (ClusterRollout.close)
    fleet = getattr(vllm, "fleet", None)  # servers as Ray actors: each play first checks they are alive
    return ClusterRollout(config.cluster, env, spec, policy=policy, sync=vllm.sync, closers=[vllm.close], console=console,
                          url=policy.base_url, checks=[fleet.check] if fleet is not None else [])


def _check_reachable(url: str) -> None:
    """A loopback URL reaches the driver's machine only: refuse it when the cluster has nodes elsewhere."""
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    machines = {n["address"] for n in nodes()}
    if (host in ("localhost", "::1") or host.startswith("127.")) and len(machines) > 1:
        raise ClusterError(f"vllm_url: workers on {len(machines)} machines ({sorted(machines)}) cannot reach {url}, a loopback "
                           "address (the server the loop starts listens on 127.0.0.1): give vllm_url of a server every node reaches")
