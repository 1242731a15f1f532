"""Rollouts on Ray workers (trainers/cluster/) on a local three-node cluster shared by this module.

The cluster (``ray.cluster_utils.Cluster``): a head with no room for workers and two nodes, each with
2 CPUs, its own custom resource (``north``/``south``) and ``sleepy: 4`` that every worker requests, so
workers land only there.  The env (tests/cluster_env.py) sleeps in every step: the work is I/O-bound,
as env calls are.  Object stores are 80 MiB each (240 MiB in all).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[cluster]' (ray==2.60.0)")

from agents import seeds  # noqa: E402
from agents.policy import SamplingParams  # noqa: E402
from agents.rollout import Episode, RolloutConfig, rollout  # noqa: E402
from envs import make  # noqa: E402
from tests.cluster_env import ENV_ID, SeededTokenPolicy  # noqa: E402
from trainers.cluster.backend import ClusterRollout  # noqa: E402
from trainers.cluster.worker import EnvSpec, PolicySpec  # noqa: E402
from trainers.config import ClusterConfig  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STORE = 80 * 2**20  # Ray's minimum (75 MiB) and a little
NODE_RESOURCES = {"north": {"north": 1.0, "sleepy": 4.0}, "south": {"south": 1.0, "sleepy": 4.0}}
SAMPLING = SamplingParams(temperature=1.0, max_tokens=32)
TOKEN_POLICY = PolicySpec("tests.cluster_env:SeededTokenPolicy")
ORACLE = PolicySpec("agents:make_policy", ("oracle",), {"env": ENV_ID})


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    before = _ray_processes()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": STORE, "include_dashboard": False})
    for resources in NODE_RESOURCES.values():
        c.add_node(num_cpus=2, object_store_memory=STORE, resources=resources)
    ray.init(address=c.address, log_to_driver=False, configure_logging=False)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()
    # a worker process of a removed node can outlive its raylet (seen: reparented to init); end what we started
    end = time.monotonic() + 10.0
    while (_ray_processes() - before) and time.monotonic() < end:
        time.sleep(0.5)
    for pid in _ray_processes() - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _ray_processes() -> set[int]:
    """Pids of this machine's Ray worker processes (``ray::...`` in their command line)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read(5) == b"ray::":
                        out.add(int(entry))
            except OSError:
                pass
    return out


def _nodes(c) -> dict[str, object]:
    """Worker nodes (not the head) by node id."""
    return {n.node_id: n for n in c.list_all_nodes() if not n.head}


def _backend(*, workers=2, concurrency=2, timeout=30.0, retries=2, policy=TOKEN_POLICY, **env_kwargs) -> ClusterRollout:
    cfg = ClusterConfig(address="auto", workers=workers, concurrency=concurrency, cpus_per_worker=0.5,
                        resources={"sleepy": 1.0}, episode_timeout=timeout, max_retries=retries, start_timeout=60.0)
    env = EnvSpec(ENV_ID, "train", {"step_sleep": 0.05, **env_kwargs}, ("tests.cluster_env",))
    return ClusterRollout(cfg, env, policy)


def _episodes(n: int, step: int = 1) -> list[Episode]:
    tasks = ["train0", "train1", "train2", "train3"]
    return [Episode(task_id=tasks[(i // 2) % 4], seed=seeds.episode_seed(0, step, i // 2), sample=i % 2) for i in range(n)]


def _key(t) -> tuple:
    return (t.task_id, t.seed, t.sample)


def _alive_workers() -> int:
    from ray._private.state import actors

    return sum(a["State"] != "DEAD" and a["ActorClassName"].endswith("RolloutWorker") for a in actors().values())


def _assert_no_worker_left(deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while _alive_workers() and time.monotonic() < end:
        time.sleep(0.2)
    assert _alive_workers() == 0, "rollout worker actors left behind"


def test_one_worker_reproduces_the_in_process_rollout(cluster):
    eps = _episodes(8)
    reference_policy = SeededTokenPolicy()
    reference_policy.policy_version = 5
    expected = asyncio.run(rollout(lambda: make(ENV_ID, split="train", step_sleep=0.05), reference_policy, eps,
                                   RolloutConfig(concurrency=4, sampling=SAMPLING), env_id=ENV_ID))
    backend = _backend(workers=1, concurrency=4)
    try:
        assert {w["node_id"] for w in backend.workers} <= set(_nodes(cluster))  # the resource request kept it off the head
        backend.policy.policy_version = 5  # what a weight push does on the driver: every dispatch carries it
        done = []
        got = backend.play(None, eps, SAMPLING, on_done=done.append, env_id=ENV_ID)
    finally:
        backend.close()
    assert [_key(t) for t in got] == [_key(t) for t in eps] and len(done) == len(eps)
    assert {t.outcome for t in expected} == {0.0, 1.0}  # the seeds decide: a comparison that could fail
    for a, b in zip(got, expected):
        assert not a.failed and a.has_tokens
        assert a.token_ids() == b.token_ids() and a.loss_mask() == b.loss_mask()
        assert a.rollout_logprobs() == b.rollout_logprobs()
        assert [t.reward for t in a.turns] == [t.reward for t in b.turns] and a.finish_reason == b.finish_reason
        assert a.policy_versions == [5]
    stats = backend.last_stats
    assert stats["retried"] == stats["timed_out"] == stats["worker_deaths"] == stats["failed"] == 0
    assert stats["episodes_per_s"] > 0 and 0 < stats["util_mean"] <= 1 and stats["staleness_max"] == 0
    row = backend.take_stats()
    assert row["cluster/episodes_per_s"] == pytest.approx(stats["episodes_per_s"]) and backend.take_stats() == {}
    _assert_no_worker_left()


def _check_recovered(got, eps, stats):
    assert [_key(t) for t in got] == [_key(t) for t in eps]  # exactly the requested episodes, in order
    assert len({_key(t) for t in got}) == len(eps)
    assert not any(t.failed for t in got), [t.error for t in got if t.failed]
    assert all(t.success == (t.outcome == 1.0) for t in got)
    assert stats["retried"] >= 1 and stats["worker_deaths"] >= 1


def test_a_killed_worker_costs_no_episode(cluster):
    eps = _episodes(16)
    backend = _backend(workers=2, concurrency=2, step_sleep=0.15)
    killed, landed = [], []

    def kill_after_three(traj):
        landed.append(traj)
        if len(landed) == 3:
            killed.append(backend.dispatcher.slots[0].handle)
            ray.kill(killed[0], no_restart=True)

    try:
        got = backend.play(None, eps, SAMPLING, on_done=kill_after_three)
        stats = backend.last_stats
        assert killed and backend.dispatcher.slots[0].handle is not killed[0]  # replaced
    finally:
        backend.close()
    _check_recovered(got, eps, stats)
    _assert_no_worker_left()


def test_a_removed_node_costs_no_episode(cluster):
    eps = _episodes(16)
    backend = _backend(workers=2, concurrency=2, step_sleep=0.15)
    removed, landed = [], []

    def remove_after_three(traj):
        landed.append(traj)
        if len(landed) == 3:
            node_id = backend.dispatcher.slots[0].node_id
            node = _nodes(cluster)[node_id]
            removed.append(node_id)
            cluster.remove_node(node)
    try:
        got = backend.play(None, eps, SAMPLING, on_done=remove_after_three)
        stats = backend.last_stats
        assert removed and all(s.node_id != removed[0] for s in backend.dispatcher.slots)  # replaced on the other node
    finally:
        backend.close()
        name = "north" if any(n.get("Resources", {}).get("south") for n in ray.nodes() if n["Alive"]) else "south"
        cluster.add_node(num_cpus=2, object_store_memory=STORE, resources=NODE_RESOURCES[name])  # the next test's cluster
        cluster.wait_for_nodes()
    _check_recovered(got, eps, stats)
    _assert_no_worker_left()


def test_a_step_that_never_returns_times_out_while_the_others_finish(cluster):
    eps = _episodes(8)  # train1 (episodes 2 and 3) hangs in its first step
    backend = _backend(workers=2, concurrency=2, timeout=2.0, retries=1, policy=ORACLE, hang=("train1",))
    try:
        t0 = time.monotonic()
        got = backend.play(None, eps, SAMPLING)
        wall = time.monotonic() - t0
        stats = backend.last_stats
    finally:
        backend.close()
    assert [_key(t) for t in got] == [_key(t) for t in eps]
    hung = [t for t in got if t.task_id == "train1"]
    assert len(hung) == 2 and all(t.failed and t.finish_reason == "error" for t in hung)
    assert all(t.error.startswith("timeout: no result within 2s") and "(2 tries)" in t.error for t in hung), hung[0].error
    assert all(not t.failed and t.success for t in got if t.task_id != "train1")  # the oracle solves the rest
    assert stats["timed_out"] == 4 and stats["retried"] == 2 and stats["failed"] == 2
    assert wall < 2 * 2.0 + 6.0  # two tries of 2 s each, plus scheduling
    _assert_no_worker_left()


def test_cluster_check_shows_the_nodes_and_plays_one_episode_per_worker(cluster):
    from typer.testing import CliRunner

    from turngym.cli import app

    result = CliRunner().invoke(app, ["cluster", "check", "--address", cluster.address, "--env", "SleepArith-v0",
                                      "--import", "tests.cluster_env", "--workers", "2", "--resources", '{"sleepy": 1}',
                                      "--timeout", "60"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "3 alive node(s)" in result.output and "north=1" in result.output and "south=1" in result.output
    assert result.output.count(" ok ") == 2 and "train0" in result.output and "train1" in result.output
    _assert_no_worker_left()
    assert ray.is_initialized()  # the check used this process's connection and left it open


def test_a_worker_that_cannot_start_fails_the_backend_with_the_reason(cluster):
    from trainers.cluster.nodes import ClusterError

    with pytest.raises(ClusterError, match=r"rollout worker 0 failed to start: .*ModuleNotFoundError.*no_such_module"):
        _backend(workers=1, policy=PolicySpec("no_such_module:Policy"))
    with pytest.raises(ClusterError, match=r"no node advertises it"):
        ClusterRollout(ClusterConfig(address="auto", resources={"tpu_pod": 1}), EnvSpec(ENV_ID, imports=("tests.cluster_env",)),
                       TOKEN_POLICY)
    _assert_no_worker_left()
