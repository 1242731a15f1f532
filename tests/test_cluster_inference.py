"""vLLM servers as Ray actors and weight sync across machines (trainers/cluster/inference.py, ``sync:``).

Fast: the ``inference``/``sync`` config checks (``nccl`` refused naming ``sync.backend``; servers on another
machine than the driver need ``sync.shared_dir``), pushes through a shared folder against stub servers (a fresh
folder per push, older ones removed, a killed run's folders collected), and the watchdog that stops a server
whose actor is gone.  Slow: a local Ray cluster (tests/cluster_env.py) with a node advertising ``vllm: 2`` runs
two vLLM CPU servers on the tiny model as actors; a rollout worker plays episodes on them, a push through
``sync.shared_dir`` reaches both and both then serve the learner's logprobs; a killed server actor fails the next
push and play with :class:`ServerDied`, and closing the backend leaves no server process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_sync_check import FakeModel, Stub
from trainers.config import ConfigError, validate_config
from trainers.sync import VLLMReloadSync
from trainers.sync_files import gc_push_roots
from trainers.sync_multi import MultiSync

BASE = {"env": "Lookup-v0", "rollout": "vllm"}
CLUSTER = {**BASE, "cluster": {"address": "auto"}}


# ----- config ------------------------------------------------------------------------------------------
def test_nccl_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"^sync\.backend: nccl \(vLLM's NCCL weight-transfer engine\) is not implemented: "
                                          r"it needs CUDA .* use backend: reload"):
        validate_config({**BASE, "sync": {"backend": "nccl"}})
    with pytest.raises(ConfigError, match=r"^sync\.backend: Input should be 'reload' or 'nccl'"):
        validate_config({**BASE, "sync": {"backend": "ipc"}})


def test_the_sync_section_its_timeout_and_the_run_hash(tmp_path):
    base = validate_config(BASE)
    assert (base.sync.backend, base.sync.shared_dir, base.sync.timeout, base.push_timeout) == ("reload", None, None, 600.0)
    assert validate_config({**BASE, "sync_timeout": 30}).push_timeout == 30.0  # the older name still works
    both = validate_config({**BASE, "sync_timeout": 30, "sync": {"timeout": 5, "shared_dir": str(tmp_path)}})
    assert both.push_timeout == 5.0 and both.sync.shared_dir == str(tmp_path)
    assert validate_config(both.model_dump(mode="json")) == both  # a run's config.yaml reads back unchanged
    # where weights pass and where servers run may change on resume: not in the hash (sync_timeout still is)
    actors = validate_config({**CLUSTER, "inference": {"replicas": 2}, "sync": {"shared_dir": str(tmp_path)}})
    assert actors.config_hash() == validate_config(CLUSTER).config_hash() == base.config_hash()
    with pytest.raises(ConfigError, match=r"^sync\.shared_dir: must be an absolute path every node mounts, got 'shared'"):
        validate_config({**BASE, "sync": {"shared_dir": "shared"}})
    with pytest.raises(ConfigError, match=rf"^sync\.shared_dir: no folder '{tmp_path}/nope' on this machine: mount"):
        validate_config({**BASE, "sync": {"shared_dir": str(tmp_path / "nope")}})
    with pytest.raises(ConfigError, match=r"^sync\.timeout: Input should be greater than 0"):
        validate_config({**BASE, "sync": {"timeout": 0}})


def test_inference_needs_a_cluster_and_no_other_servers():
    cfg = validate_config({**CLUSTER, "inference": {"replicas": 2, "gpus": 1, "resources": {}}})
    assert (cfg.inference.replicas, cfg.inference.cpus, cfg.inference.gpus, cfg.inference.resources) == (2, 1.0, 1.0, {})
    assert validate_config({**CLUSTER, "inference": {}}).inference.resources == {"vllm": 1.0}
    bad = [({**BASE, "inference": {}}, r"^inference: starts vLLM servers as Ray actors and needs cluster: set"),
           ({**CLUSTER, "inference": {}, "vllm_url": "http://10.0.0.2:8000"}, r"^inference: and vllm_url are both set"),
           ({**CLUSTER, "inference": {}, "vllm_urls": ["http://a:1", "http://b:1"]}, r"^inference: and vllm_urls are both set"),
           ({**CLUSTER, "inference": {}, "vllm_servers": 2}, r"^vllm_servers: is 2 but inference starts the servers"),
           ({**CLUSTER, "inference": {"replicas": 0}}, r"^inference\.replicas: Input should be greater than or equal to 1"),
           ({**CLUSTER, "inference": {"tp": 2}}, r"^inference\.tp: Extra inputs are not permitted")]
    for data, match in bad:
        with pytest.raises(ConfigError, match=match):
            validate_config(data)


def test_servers_on_another_machine_need_a_shared_dir():
    from trainers.cluster.inference import ClusterError, replicas_fit, require_shared_dir

    require_shared_dir(["10.0.0.1", "10.0.0.1"], "10.0.0.1", None)  # the driver's machine: /dev/shm reaches them
    require_shared_dir(["10.0.0.1", "10.0.0.2"], "10.0.0.1", "/mnt/shared")
    with pytest.raises(ClusterError, match=r"^sync\.shared_dir: is not set, but vLLM servers run on \['10\.0\.0\.2'\], not on "
                                           r"the driver's machine \(10\.0\.0\.1\): .*/dev/shm.*set sync\.shared_dir"):
        require_shared_dir(["10.0.0.1", "10.0.0.2"], "10.0.0.1", None)
    nodes = [{"resources": {"CPU": 2.0, "vllm": 2.0}}, {"resources": {"CPU": 4.0}}, {"resources": {"CPU": 8.0, "vllm": 1.0}}]
    assert replicas_fit(nodes, {"vllm": 1.0, "CPU": 1.0, "GPU": 0.0}) == 3
    assert replicas_fit(nodes, {"vllm": 1.0, "CPU": 1.5}) == 2  # the first node's 2 CPUs hold one
    assert replicas_fit(nodes, {"vllm": 1.0, "GPU": 1.0}) == 0


# ----- pushes through a shared folder (stub servers) ------------------------------------------------------
def _recorded(sync, seen):
    """Record each reload's weights path and what was in it when the server was told to read it."""
    post = sync._post

    def recording(stage, path, deadline, **kw):
        if stage == "reload":
            where = Path(kw["json"]["kwargs"]["weights_path"])
            seen.append((where, sorted(p.name for p in where.iterdir())))
        return post(stage, path, deadline, **kw)

    sync._post = recording


@pytest.mark.parametrize("stubs", [[{}, {}]], indirect=True)
def test_a_shared_dir_push_goes_to_a_fresh_folder_and_old_pushes_go(stubs, tmp_path):
    policy = SimpleNamespace(policy_version=0, served_name=None)
    sync = MultiSync([VLLMReloadSync(s.url, timeout=5.0, shared_dir=tmp_path) for s in stubs], policy, timeout=5.0)
    seen: list = []
    for child in sync.syncs:
        _recorded(child, seen)
    root = sync.syncs[0].root
    try:
        assert root.parent == tmp_path and root.name.startswith(f"turngym-sync-{socket.gethostname()}-{os.getpid()}-")
        assert sorted(tmp_path.iterdir()) == [root]  # the second server's own folder went: both read the first's
        for n in (1, 2):
            sync.push(FakeModel())
            folder = root / f"v{n}"
            assert [w for w, _ in seen[-2:]] == [folder, folder] and all(files == ["weights.bin"] for _, files in seen[-2:])
            assert sorted(root.iterdir()) == [folder] and all(s.folder == folder for s in sync.syncs)
        assert policy.policy_version == 2
    finally:
        sync.close()
    assert list(tmp_path.iterdir()) == []


def test_without_a_shared_dir_the_push_folder_is_in_ram_and_rewritten(tmp_path):
    stub = Stub({})
    sync = VLLMReloadSync(stub.url, timeout=5.0)
    seen: list = []
    _recorded(sync, seen)
    try:
        sync.push(FakeModel())
        sync.push(FakeModel())
    finally:
        sync.close()
        stub.close()
    expect = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    assert [w for w, _ in seen] == [sync.root, sync.root] and (expect is None or str(sync.root).startswith(expect))
    assert not sync.root.exists()


def test_a_killed_runs_push_folders_are_collected(tmp_path):
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"turngym-sync-{host}-{dead.pid}-abc"
    mine = tmp_path / f"turngym-lora-{host}-{os.getpid()}-abc"
    elsewhere = tmp_path / f"turngym-sync-{host}x-{dead.pid}-abc"  # another host's: its pids are not ours to judge
    for d in (stale, mine, elsewhere):
        (d / "v1").mkdir(parents=True)
    assert gc_push_roots(tmp_path) == [stale]
    assert sorted(tmp_path.iterdir()) == sorted([mine, elsewhere])


# ----- the watchdog ----------------------------------------------------------------------------------------
def _live_in_group(pgid: int) -> list[int]:
    """Pids of the processes of group ``pgid`` that still run (zombies left out: pid 1 here reaps them late)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def _pids(matches) -> list[int]:
    """Pids of this machine's processes whose argv (a list of bytes) ``matches``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if matches(argv):
                found.append(int(entry))
    return found


def _watchdogs(server_pid: int) -> list[int]:
    """Pids of watchdogs watching ``server_pid``."""
    from trainers.cluster.inference import WATCHDOG

    return _pids(lambda argv: WATCHDOG.encode() in argv and str(server_pid).encode() in argv)


def _until(check, seconds: float) -> float:
    began = time.monotonic()
    while not check() and time.monotonic() - began < seconds:
        time.sleep(0.1)
    return time.monotonic() - began


def test_the_watchdog_stops_the_server_group_when_its_owner_dies(tmp_path):
    from trainers.cluster.inference import WATCHDOG

    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    # a "server": a group leader with a child, as vLLM's API server and its engine process
    server = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"],
                              start_new_session=True)
    leftover = tmp_path / "untied"
    leftover.mkdir()
    try:
        subprocess.run([sys.executable, "-c", WATCHDOG, str(owner.pid), str(server.pid), str(leftover)], check=True, timeout=30)
        assert _until(lambda: len(_live_in_group(server.pid)) == 2, 10) < 10
        time.sleep(1.0)
        assert len(_watchdogs(server.pid)) == 1 and len(_live_in_group(server.pid)) == 2  # the owner lives: so does the server
        owner.kill()  # as Ray kills a dead actor's children: the server's leader too, its own child not
        owner.wait()
        server.kill()
        server.wait()
        took = _until(lambda: not _live_in_group(server.pid), 10)
        assert not _live_in_group(server.pid) and took < 5.0
        assert _until(lambda: not _watchdogs(server.pid) and not leftover.exists(), 10) < 10
    finally:
        owner.kill()
        for pid in _live_in_group(server.pid) + _watchdogs(server.pid):
            os.kill(pid, signal.SIGKILL)
    # a server stopped the normal way: the watchdog just leaves
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        subprocess.run([sys.executable, "-c", WATCHDOG, str(owner.pid), str(server.pid), ""], check=True, timeout=30)
        time.sleep(0.5)
        assert len(_watchdogs(server.pid)) == 1
        server.kill()
        server.wait()
        assert _until(lambda: not _watchdogs(server.pid), 5) < 5 and owner.poll() is None
    finally:
        owner.kill()
        owner.wait()


# ----- two vLLM CPU servers as Ray actors (slow) -----------------------------------------------------------
def _server_processes(ports: list[int]) -> list[int]:
    """Pids of this machine's vLLM API servers listening on ``ports``."""
    return _pids(lambda argv: b"vllm.entrypoints.openai.api_server" in argv and any(str(p).encode() in argv for p in ports))


def _served_requests(url: str) -> float:
    """Completions the server finished (its Prometheus counter)."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("vllm:request_success_total{"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_vllm_servers_as_actors_serve_take_a_shared_dir_push_and_stop(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[cluster]' (ray==2.60.0)")
    from agents import seeds
    from agents.policy import SamplingParams
    from agents.rollout import Episode
    from agents.vllm_server import VLLMUnavailable, vllm_python
    from envs import make
    from tests.cluster_env import local_cluster
    from trainers.backends import rollout_backend
    from trainers.cluster.inference import ServerDied
    from trainers.cluster.nodes import nodes
    from trainers.sync import check_ids, model_logprobs, sync_tolerance

    try:
        vllm_python()
    except VLLMUnavailable as e:
        pytest.skip(f"no vLLM here: {e}")
    shared, run_dir = tmp_path / "shared", tmp_path / "run"
    shared.mkdir()
    run_dir.mkdir()
    cfg = validate_config({**BASE, "model": str(tiny_model), "max_turns": 2,
                           "sampling": {"temperature": 1.0, "max_tokens": 16},
                           "cluster": {"address": "auto", "workers": 1, "concurrency": 2, "cpus_per_worker": 0.5,
                                       # a bound, not a timing: the worker starts beside two vLLM servers, >120 s on a loaded 2-core machine
                                       "resources": {"rollout": 1.0}, "start_timeout": 600},
                           "inference": {"replicas": 2, "start_timeout": 900}, "sync": {"shared_dir": str(shared), "timeout": 120}})
    sampling = SamplingParams(temperature=1.0, max_tokens=16)
    tasks = make("Lookup-v0", split="train").tasks.ids("train")[:2]
    episodes = [Episode(task_id=tasks[i % 2], seed=seeds.episode_seed(0, 1, i), sample=0) for i in range(4)]
    with local_cluster({"inference": {"vllm": 2.0}, "rollout": {"rollout": 1.0}}):
        node = next(SimpleNamespace(node_id=n["node_id"], node_ip_address=n["address"]) for n in nodes() if "vllm" in n["resources"])
        began = time.monotonic()
        try:
            backend = rollout_backend(cfg, SimpleNamespace(model_dir=tiny_model), max_model_len=512, run_dir=run_dir)
        except Exception as e:  # noqa: BLE001
            if "vLLM exited with code" in str(e) or "not healthy" in str(e):  # the vLLM process itself, not this code
                pytest.skip(f"vLLM's CPU server cannot start here: {str(e)[:2000]}")
            raise
        started = time.monotonic() - began
        fleet, sync, policy = backend.sync.fleet, backend.sync, backend.policy
        ports = [int(u.rsplit(":", 1)[1]) for u in fleet.urls]
        killed = False
        try:
            # both on the node that advertises vllm, bound to its IP (not loopback), listed for routing
            assert {p["node_id"] for p in fleet.placed} == {node.node_id} and len(set(fleet.urls)) == 2
            assert all(u.startswith(f"http://{node.node_ip_address}:") for u in fleet.urls)
            assert not node.node_ip_address.startswith("127.") and policy.base_urls == fleet.urls
            assert sorted(p.name for p in run_dir.iterdir()) == ["vllm-0.log", "vllm-1.log"]
            assert len(_server_processes(ports)) == 2
            model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
            ids, atol = check_ids(policy.renderer), sync_tolerance("float32", "cpu")
            base = model_logprobs(model, ids)
            assert sync.check(base, ids, atol) <= atol  # both serve the learner's weights from the start

            got = backend.play(None, episodes, sampling, env_id="Lookup-v0")
            assert [(t.task_id, t.seed) for t in got] == [(e.task_id, e.seed) for e in episodes]
            assert not any(t.failed for t in got) and all(t.has_tokens and t.policy_versions == [0] for t in got)
            served = [_served_requests(u) for u in fleet.urls]
            assert all(n >= 1 for n in served), served  # the worker's episodes reached both servers

            torch.manual_seed(0)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            expected = model_logprobs(model, ids)
            shared_pushes = [sync.push(model)]
            root = sync.syncs[0].root
            assert root.parent == shared and sorted(root.iterdir()) == [root / "v1"] and policy.policy_version == 1
            assert sync.check(expected, ids, atol) <= atol
            for child in sync.syncs:  # each server on its own: the new weights, not the old
                logprobs = child.served_logprobs(ids)
                assert max(abs(a - b) for a, b in zip(logprobs, expected)) <= atol
                assert max(abs(a - b) for a, b in zip(logprobs, base)) > 0.05
            again = backend.play(None, episodes[:2], sampling, env_id="Lookup-v0")
            assert all(not t.failed and t.policy_versions == [1] for t in again)

            shm = MultiSync([VLLMReloadSync(u, timeout=120) for u in fleet.urls], SimpleNamespace(policy_version=0), timeout=120)
            shm_pushes = []
            try:
                for _ in range(3):  # interleaved: the same weights to the same servers through each folder
                    shared_pushes.append(sync.push(model))
                    shm_pushes.append(shm.push(model))
            finally:
                shm.close()
            assert sorted(root.iterdir()) == [root / "v4"] and sync.check(expected, ids, atol) <= atol

            # a server actor killed: its vLLM goes (the watchdog), the other stays; the next push and play say which
            victim = fleet.infos[1]["pid"]
            ray.kill(fleet.actors[1], no_restart=True)
            killed = True
            end = time.monotonic() + 30
            while _server_processes(ports[1:]) and time.monotonic() < end:
                time.sleep(0.2)
            assert _server_processes(ports[1:]) == [] and len(_server_processes(ports[:1])) == 1
            assert _until(lambda: not _live_in_group(victim), 30) < 30  # its engine processes went too (the watchdog)
            dead = rf"1 of 2 vLLM server\(s\) gone: replica 1 \({fleet.urls[1]}, node {node.node_ip_address}\): its Ray actor died"
            with pytest.raises(ServerDied, match=dead):
                sync.push(model)
            with pytest.raises(ServerDied, match=dead):
                backend.play(None, episodes[:1], sampling, env_id="Lookup-v0")
            assert policy.policy_version == 4
        finally:
            first = fleet.infos[0]["pid"]
            backend.close()
        assert killed and _server_processes(ports) == [] and not root.exists() and list(shared.iterdir()) == []
        # close SIGKILLs what is left of a server's group last, without waiting: allow the kernel a moment to end it
        assert _until(lambda: not _live_in_group(first), 10) < 10
        assert _until(lambda: not _watchdogs(first) and not _watchdogs(victim), 10) < 10
        from ray._private.state import actors

        assert not [a for a in actors().values() if a["State"] != "DEAD" and a["ActorClassName"].endswith("ServerActor")]
    seconds = sorted(i["startup_seconds"] for i in fleet.infos)
    print(f"\nbackend up (2 server actors + 1 worker) in {started:.1f} s; each server healthy after {seconds} s; "
          f"push to both through sync.shared_dir: median {sorted(shared_pushes)[2]:.3f} s "
          f"{[round(x, 3) for x in shared_pushes]}; through /dev/shm: median {sorted(shm_pushes)[1]:.3f} s "
          f"{[round(x, 3) for x in shm_pushes]}")
