"""The weight-sync contract without vLLM: tolerances, the logprob comparison, the version check, and pushes
against a stub server whose endpoints hang or fail (each raises :class:`SyncError` within the push's
timeout, names the stage, and resumes the server)."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from trainers.sync import (
    SharedModuleSync, SyncError, SyncMismatch, VLLMLoraSync, VLLMReloadSync, WeightSync, check_policy_versions,
    compare_logprobs, sync_tolerance,
)


class Stub:
    """A local HTTP server answering every path with 200 unless ``behaviour[path]`` is "hang" or a status."""

    def __init__(self, behaviour: dict[str, object]):
        self.behaviour = behaviour
        self.calls: list[str] = []
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                stub.calls.append(path)
                what = stub.behaviour.get(path, 200)
                if what == "hang":
                    stub.release.wait(30)
                    what = 200
                body = json.dumps({"data": [{"id": "tiny"}]} if path == "/v1/models" else {}).encode()
                self.send_response(int(what))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(request):
    server = Stub(request.param)
    yield server
    server.close()


class FakeModel:
    peft_config = {"default": None}  # VLLMLoraSync pushes only peft models

    def save_pretrained(self, folder, **_):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "weights.bin").write_bytes(b"0")


def test_tolerance_per_dtype():
    assert sync_tolerance("float32", "cpu") == sync_tolerance(None, "cpu") == 1e-3
    assert sync_tolerance(None, "cuda:0") == sync_tolerance("bfloat16", "cpu") == 0.1
    assert 1e-3 < sync_tolerance("float16", "cuda") < 0.1
    with pytest.raises(ValueError, match="int8"):
        sync_tolerance("int8", "cpu")


def test_compare_names_the_gap_the_position_and_both_values():
    assert compare_logprobs([-1.0, -2.0], [-1.0, -2.0004], 1e-3) == pytest.approx(4e-4)
    with pytest.raises(SyncMismatch, match=r"max \|Δ logprob\| 0.3 > tolerance 0.001 at position 2 \(token 7\): "
                                           r"server -2.300000, learner -2.000000"):
        compare_logprobs([-1.0, -2.3, -0.5], [-1.0, -2.0, -0.4], 1e-3, ids=[5, 6, 7, 8])
    with pytest.raises(SyncMismatch, match="server nan"):
        compare_logprobs([math.nan], [-1.0], 1.0)
    with pytest.raises(SyncMismatch, match="3 positions, learner 2"):
        compare_logprobs([0.0, 0.0, 0.0], [0.0, 0.0], 1.0)


def test_every_turn_must_carry_the_pushed_version():
    traj = SimpleNamespace(task_id="t7", turns=[SimpleNamespace(policy_version=3), SimpleNamespace(policy_version=2)])
    check_policy_versions([SimpleNamespace(task_id="t1", turns=[SimpleNamespace(policy_version=3)])], 3)
    with pytest.raises(SyncMismatch, match="turn 1 of task 't7' was sampled by policy_version 2, expected 3"):
        check_policy_versions([traj], 3)


def test_every_route_is_a_weight_sync():
    syncs = [SharedModuleSync(None), VLLMReloadSync("http://127.0.0.1:9/v1"), VLLMLoraSync("http://127.0.0.1:9/v1")]
    try:
        assert all(isinstance(s, WeightSync) for s in syncs)
    finally:
        for s in syncs:
            s.close()


def _push_fails(sync, match: str) -> float:
    began = time.monotonic()
    try:
        with pytest.raises(SyncError, match=match):
            sync.push(FakeModel())
    finally:
        sync.close()
    return time.monotonic() - began


@pytest.mark.parametrize("stub", [{"/pause": "hang"}], indirect=True)
def test_a_hung_pause_raises_within_the_timeout_naming_the_stage(stub):
    policy = SimpleNamespace(policy_version=4, served_name=None)
    took = _push_fails(VLLMReloadSync(stub.url, policy, timeout=1.0), r"stage 'pause' \(POST /pause\) timed out.*resumed")
    assert took < 1.0 + 0.3 and policy.policy_version == 4
    assert stub.calls == ["/pause", "/resume"]  # the rescue /resume: a late pause does not stay paused


@pytest.mark.parametrize("stub", [{"/collective_rpc": 500}], indirect=True)
def test_a_failed_reload_names_the_stage_and_resumes(stub):
    policy = SimpleNamespace(policy_version=0, served_name=None)
    _push_fails(VLLMReloadSync(stub.url, policy, timeout=5.0), r"stage 'reload': POST /collective_rpc answered 500")
    assert stub.calls == ["/pause", "/collective_rpc", "/resume"] and policy.policy_version == 0


@pytest.mark.parametrize("stub", [{"/v1/load_lora_adapter": "hang"}], indirect=True)
def test_a_hung_adapter_load_raises_within_the_timeout(stub):
    policy = SimpleNamespace(policy_version=1, served_name="tiny")
    took = _push_fails(VLLMLoraSync(stub.url, policy, timeout=1.0), r"stage 'load adapter'")
    assert took < 1.0 + 0.3 and (policy.policy_version, policy.served_name) == (1, "tiny")
    assert stub.calls == ["/v1/models", "/pause", "/v1/load_lora_adapter", "/resume"]


@pytest.mark.parametrize("stub", [{}], indirect=True)
def test_a_push_through_the_stub_bumps_the_version(stub):
    policy = SimpleNamespace(policy_version=0, served_name=None)
    sync = VLLMReloadSync(stub.url, policy, timeout=5.0)
    try:
        assert sync.push(FakeModel()) > 0 and policy.policy_version == 1
    finally:
        sync.close()
    assert stub.calls == ["/pause", "/collective_rpc", "/reset_prefix_cache", "/resume"]
