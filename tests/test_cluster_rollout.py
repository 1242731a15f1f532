"""Rollouts on Ray workers (trainers/cluster/) on a local three-node cluster shared by this module.

The cluster (``ray.cluster_utils.Cluster``, tests/cluster_env.py's ``local_cluster``): a head with no
room for workers and two nodes, each with 2 CPUs, its own custom resource (``north``/``south``),
``sleepy: 4`` that the SleepArith workers request, so workers land only there, and ``docker: 2`` that
Code-v0's workers request.  The env (tests/cluster_env.py) sleeps in every step: the work is I/O-bound,
as env calls are.  Object stores are 80 MiB each (240 MiB in all).  The training run samples from
tests/cluster_env.py's ``ScriptedServer`` (vLLM's HTTP API on loopback); the Code-v0 test needs a
Docker engine with the sandbox image and skips, naming what is missing, without one.
"""

from __future__ import annotations

import asyncio
import time

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[cluster]' (ray==2.60.0)")

from agents import seeds  # noqa: E402
from agents.policy import SamplingParams  # noqa: E402
from agents.rollout import Episode, RolloutConfig, rollout  # noqa: E402
from envs import make  # noqa: E402
from tests.cluster_env import ENV_ID, STORE, SeededTokenPolicy, local_cluster  # noqa: E402
from trainers.cluster.backend import ClusterRollout  # noqa: E402
from trainers.cluster.worker import EnvSpec, PolicySpec  # noqa: E402
from trainers.config import ClusterConfig  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# docker: 2 per node, what Code-v0's workers request (at most 2 per node, each with its sandbox pool)
NODE_RESOURCES = {"north": {"north": 1.0, "sleepy": 4.0, "docker": 2.0}, "south": {"south": 1.0, "sleepy": 4.0, "docker": 2.0}}
SAMPLING = SamplingParams(temperature=1.0, max_tokens=32)
TOKEN_POLICY = PolicySpec("tests.cluster_env:SeededTokenPolicy")
ORACLE = PolicySpec("agents:make_policy", ("oracle",), {"env": ENV_ID})


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(NODE_RESOURCES) as c:
        yield c


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


# ----- Code-v0 on Docker: a killed worker's sandboxes go with it ---------------------------------------
def _docker_client():
    """The Docker engine with the sandbox image, or a skip naming what is missing."""
    docker = pytest.importorskip("docker", reason="docker SDK not installed (pip install 'turngym[sandbox]')")
    from sandboxes.image import IMAGE, image_exists

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker engine reachable ({e}); run scripts/setup.d/20-docker.sh")
    if not image_exists(client, IMAGE):
        pytest.skip(f"sandbox image {IMAGE} missing; run `turngym sandbox build --offline`")
    return client


def _sandboxes(client) -> dict[str, int]:
    """Every sandbox container on the engine (label turngym.sandbox=1): id -> the pid of the process that made it."""
    return {c["Id"]: int(c["Labels"].get("turngym.pid") or -1)
            for c in client.api.containers(all=True, filters={"label": "turngym.sandbox=1"})}


def _worker_pids(known: set[str]) -> dict[str, int]:
    """Rollout worker actors (alive or dead) not in ``known``: actor id -> pid."""
    from ray._private.state import actors

    return {a["ActorID"]: int(a["Pid"]) for a in actors().values()
            if a["ActorClassName"].endswith("RolloutWorker") and a["ActorID"] not in known and a.get("Pid")}


def test_a_killed_code_worker_leaves_no_sandbox_behind_and_gc_runs_on_every_node(cluster):
    import socket
    import subprocess

    from envs.registry import task_set
    from sandboxes.image import IMAGE

    client = _docker_client()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid whose process is gone: the stale container below is garbage, as one a crashed run leaves
    stale = client.api.create_container(IMAGE, command=["true"], labels={
        "turngym.sandbox": "1", "turngym.pid": str(gone.pid), "turngym.host": socket.gethostname()})["Id"]
    known = set(_worker_pids(set()))
    ids = sorted(task_set("Code-v0").ids("train"))[:12]
    eps = [Episode(task_id=t, seed=i) for i, t in enumerate(ids)]
    cfg = ClusterConfig(address="auto", workers=2, concurrency=2, cpus_per_worker=0.5, episode_timeout=120.0, max_retries=2,
                        start_timeout=120.0)  # resources: None, so Code-v0's own request ({docker: 1})
    backend = ClusterRollout(cfg, EnvSpec("Code-v0", "train"), PolicySpec("agents:make_policy", ("oracle",), {"env": "Code-v0"}))
    killed: list[int] = []  # the pid of the worker killed
    landed: list = []
    seen: dict[str, int] = {}  # sandboxes of this test's workers, seen while episodes landed

    def kill_after_three(traj):
        pids = set(_worker_pids(known).values())
        seen.update({cid: pid for cid, pid in _sandboxes(client).items() if pid in pids})
        landed.append(traj)
        if len(landed) == 3:
            handle = backend.dispatcher.slots[0].handle
            killed.append(int(ray.get(handle.ready.remote(), timeout=30)["pid"]))
            ray.kill(handle, no_restart=True)

    try:
        alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        assert stale not in _sandboxes(client)  # collected by the GC at start
        assert set(backend.gc_reports["start"]) == alive and all(r.startswith("removed ") for r in backend.gc_reports["start"].values())
        got = backend.play(None, eps, SAMPLING, on_done=kill_after_three)
        stats = backend.last_stats
    finally:
        backend.close()
    _check_recovered(got, eps, stats)
    assert all(t.success for t in got)  # the oracle passes every hidden test
    assert killed and killed[0] in seen.values(), "the killed worker held no sandbox: nothing was tested"
    assert set(backend.gc_reports["close"]) == alive, backend.gc_reports  # the GC ran on every node at exit too
    assert all(r.startswith("removed ") for r in backend.gc_reports["close"].values()), backend.gc_reports
    pids = set(_worker_pids(known).values())  # every worker of this test, the killed one and its replacement included
    assert len(pids) == 3 and killed[0] in pids
    left = {cid: pid for cid, pid in _sandboxes(client).items() if cid in seen or pid in pids}
    assert left == {}, f"sandbox containers left behind: {left}"
    _assert_no_worker_left()


# ----- a training run through the cluster writes the in-process run's metrics ------------------------------
# Not compared, and why: time/*, *_per_s and *seconds (the learner's update_seconds) are wall-clock figures;
# cluster/* only the cluster run has (checked apart).  Everything else (rewards, success, advantages, loss, ratios,
# entropy, grad norm, token counts, policy_version) must be equal, bit for bit.
NOT_COMPARED = ("time/", "_per_s", "seconds", "cluster/")


def _train(out, model, url: str, cluster_section: dict | None):
    import io

    from rich.console import Console

    from trainers.config import validate_config
    from trainers.loop import train

    cfg = validate_config({
        "env": "SleepArith-v0", "model": str(model), "rollout": "vllm", "vllm_url": url, "env_kwargs": {"step_sleep": 0.01},
        "group_size": 4, "tasks_per_step": 2, "steps": 2, "sampling": {"temperature": 1.0, "max_tokens": 48},
        "max_model_len": 1024, "sync_check": False, "test_tasks": 1, "micro_batch": 8, "device": "cpu", "seed": 3,
        "optim": {"lr": 1e-3}, "out_dir": str(out), "cluster": cluster_section})
    return train(cfg, console=Console(file=io.StringIO()))


def _weights(run) -> dict:
    from safetensors.torch import load_file

    return {k: v for f in sorted((run / "model").glob("*.safetensors")) for k, v in load_file(f).items()}


@pytest.mark.timeout(600)
def test_a_two_step_training_run_through_the_cluster_writes_the_in_process_metrics(cluster, tiny_model, one_torch_thread, tmp_path):
    pytest.importorskip("safetensors")
    import torch

    from tests.cluster_env import ScriptedServer
    from trainers.metrics import read_metrics

    server = ScriptedServer(tiny_model)  # both runs sample from it; pushes reach it (the reload route answers 200)
    section = {"address": "auto", "workers": 2, "concurrency": 2, "cpus_per_worker": 0.5, "resources": {"sleepy": 1},
               "imports": ["tests.cluster_env"], "episode_timeout": 120, "start_timeout": 120}
    try:
        local = _train(tmp_path / "local", tiny_model, server.url, None)
        local_pushes = server.calls.count("/collective_rpc")
        remote = _train(tmp_path / "remote", tiny_model, server.url, section)
    finally:
        server.close()
    a, b = read_metrics(local), read_metrics(remote)
    assert [r["step"] for r in a] == [r["step"] for r in b] == [1, 2]
    for ra, rb in zip(a, b):
        keys = {k for k in ra.keys() | rb.keys() if not any(x in k for x in NOT_COMPARED)}
        assert {k: (ra.get(k), rb.get(k)) for k in keys if ra.get(k) != rb.get(k)} == {}, f"step {ra['step']}"
    # a comparison that could fail: mixed rewards, non-zero advantages and loss, weights moved by the update
    assert all(0 < r["reward"] < 1 and r["adv_std"] > 0 and r["loss"] != 0 and r["episodes"] == 8 for r in a), a
    assert [r["policy_version"] for r in b] == [1, 2] and local_pushes == 2 and server.calls.count("/collective_rpc") == 4
    for r in b:  # the cluster run's own figures: every episode played on the workers, none retried, none stale
        assert r["cluster/episodes_per_s"] > 0 and r["cluster/failed"] == r["cluster/retried"] == r["cluster/worker_deaths"] == 0
        assert r["cluster/staleness_max"] == 0 and 0 < r["cluster/util_mean"] <= 1
    wa, wb = _weights(local), _weights(remote)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    _assert_no_worker_left()
