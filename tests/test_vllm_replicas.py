"""Several vLLM servers: episodes pinned to one server, new ones to the least loaded (a mock transport);
a push reaching every server under one deadline and a check of every server (stub servers); config and
factory wiring; and two real vLLM CPU servers that both serve the learner's logprobs after a push (slow)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from types import SimpleNamespace

import httpx
import pytest

from agents.policy import SamplingParams
from agents.vllm_policy import VLLMError
from tests.test_sync_check import FakeModel
from trainers.config import ConfigError, validate_config
from trainers.sync import SyncError, SyncMismatch, VLLMLoraSync, VLLMReloadSync
from trainers.sync_multi import MultiSync

A, B = "http://a.test", "http://b.test"
MESSAGES = [{"role": "user", "content": "hi"}]


# ----- routing: least loaded, then sticky ------------------------------------------------------------
def _routed_policy(tiny_model):
    """A VLLMPolicy over A and B whose answers each server holds until its gate opens; ``seen``: hosts in order."""
    from agents.vllm_policy import VLLMPolicy

    policy = VLLMPolicy(tiny_model, [A, B + "/v1"], served_name="tiny", max_model_len=4096)
    seen: list[str] = []
    gates: dict[str, asyncio.Event] = {}

    async def handle(request):
        host = f"http://{request.url.host}"
        seen.append(host)
        await gates[host].wait()
        return httpx.Response(200, json={"choices": [{"token_ids": [1, 2], "logprobs": {"token_logprobs": [-0.5, -0.5]},
                                                      "finish_reason": "stop", "prompt_logprobs": None}]})

    client = None

    def make_client():
        nonlocal client
        if client is None:
            gates.update({A: asyncio.Event(), B: asyncio.Event()})
            client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
        return client

    policy._client = make_client
    return policy, seen, gates


async def _until(check, timeout=5.0):
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.005)


def test_new_episodes_go_to_the_least_loaded_server_and_stay_there(tiny_model):
    policy, seen, gates = _routed_policy(tiny_model)
    assert policy.base_urls == [A, B] and policy.base_url == A
    sampling = SamplingParams(temperature=1.0, max_tokens=4)

    async def main():
        policy._client()  # both servers hold their answers until their gate opens
        c1, c2, c3 = (policy.start_conversation(MESSAGES) for _ in range(3))
        first = asyncio.create_task(policy.generate_tokens([c1, c2, c3], sampling))
        await _until(lambda: policy.load() == {A: (2, 2), B: (1, 1)})  # c1 A, c2 B, c3 A (a tie: the first listed)
        c4 = policy.start_conversation(MESSAGES)
        fourth = asyncio.create_task(policy.generate_tokens([c4], sampling))  # B: 1 in flight against A's 2
        await _until(lambda: policy.load() == {A: (2, 2), B: (2, 2)})
        gates[B].set()
        await fourth
        c5 = policy.start_conversation(MESSAGES)
        await policy.generate_tokens([c5], sampling)  # B: none in flight, A still 2
        gates[A].set()
        await first
        assert policy.load() == {A: (0, 2), B: (0, 3)}
        gates[B].clear()
        turns = asyncio.create_task(policy.generate_tokens([c2, c4], sampling))  # their next turns: B, though A is idle
        await _until(lambda: policy.load()[B][0] == 2)
        c6 = policy.start_conversation(MESSAGES)
        await policy.generate_tokens([c6, c1], sampling)  # c6 new: A (B busy); c1 sticks to A
        with pytest.raises(VLLMError, match="no prompt logprobs"):  # scoring: the least loaded, A
            await policy.token_logprobs([1, 2, 3])
        assert [policy.server_for(c) for c in (c1, c2, c3, c4, c5, c6)] == [A, B, A, B, B, A]
        gates[B].set()
        await turns
        assert policy.load() == {A: (0, 3), B: (0, 3)}
        del c1, c2, c3, c4, c5, c6
        gc.collect()
        assert policy.load() == {A: (0, 0), B: (0, 0)}  # pins go with their conversations

    asyncio.run(main())
    assert sorted(seen[:3]) == [A, A, B] and seen[3:] == [B, B, B, B, A, A, A]


def test_one_url_keeps_the_single_server_path(tiny_model):
    from agents.vllm_policy import VLLMPolicy

    policy = VLLMPolicy(tiny_model, "http://one.test/v1", served_name="tiny")
    conv = policy.start_conversation(MESSAGES)
    assert policy.base_urls == ["http://one.test"] and policy.server_for(conv) == policy.least_loaded() == "http://one.test"
    with pytest.raises(ValueError, match="twice"):
        VLLMPolicy(tiny_model, [A, A + "/v1"])


# ----- MultiSync against stub servers ----------------------------------------------------------------
RELOAD = ["/pause", "/collective_rpc", "/reset_prefix_cache", "/resume"]


class CountingModel(FakeModel):
    saves = 0

    def save_pretrained(self, folder, **kw):
        type(self).saves += 1
        super().save_pretrained(folder, **kw)


@pytest.mark.parametrize("stubs", [[{}, {}]], indirect=True)
def test_a_push_saves_once_and_reloads_every_server(stubs):
    policy = SimpleNamespace(policy_version=0, served_name=None)
    sync = MultiSync([VLLMReloadSync(s.url, timeout=5.0) for s in stubs], policy, timeout=5.0)
    try:
        assert sync.syncs[0].folder == sync.syncs[1].folder and sync.urls == [s.url.removesuffix("/v1") for s in stubs]
        assert sync.push(CountingModel()) > 0 and policy.policy_version == 1 and CountingModel.saves == 1
    finally:
        sync.close()
    assert [s.calls for s in stubs] == [RELOAD, RELOAD]
    assert not sync.syncs[0].folder.exists()


@pytest.mark.parametrize("stubs", [[{"/collective_rpc": "hang"}, {"/collective_rpc": "hang"}]], indirect=True)
def test_servers_reload_in_parallel(stubs):
    sync = MultiSync([VLLMReloadSync(s.url, timeout=5.0) for s in stubs], SimpleNamespace(policy_version=0), timeout=5.0)
    timers = [threading.Timer(0.6, s.release.set) for s in stubs]  # each reload takes 0.6 s
    for t in timers:
        t.start()
    try:
        took = sync.push(FakeModel())
    finally:
        sync.close()
    assert 0.5 <= took < 1.1  # not 1.2: one after the other


@pytest.mark.parametrize("stubs", [[{}, {"/collective_rpc": "hang"}]], indirect=True)
def test_a_hung_server_fails_the_push_within_the_timeout_naming_its_url(stubs):
    policy = SimpleNamespace(policy_version=3, served_name=None)
    sync = MultiSync([VLLMReloadSync(s.url, timeout=1.0) for s in stubs], policy, timeout=1.0)
    hung = stubs[1].url.removesuffix("/v1")
    began = time.monotonic()
    try:
        with pytest.raises(SyncError, match=rf"1 of 2 servers failed: {hung}: weight sync stage 'reload' "
                                            r"\(POST /collective_rpc\) timed out.*resumed"):
            sync.push(FakeModel())
    finally:
        sync.close()
    assert time.monotonic() - began < 1.0 + 0.3 and policy.policy_version == 3
    assert stubs[0].calls == RELOAD and stubs[1].calls == ["/pause", "/collective_rpc", "/resume"]


@pytest.mark.parametrize("stubs", [[{}, {"/v1/load_lora_adapter": 500}]], indirect=True)
def test_lora_pushes_reach_every_server_and_name_a_failing_one(stubs):
    policy = SimpleNamespace(policy_version=0, served_name="tiny", name="vllm:tiny")
    sync = MultiSync([VLLMLoraSync(s.url, timeout=5.0) for s in stubs], policy, timeout=5.0)
    try:
        with pytest.raises(SyncError, match=rf"{stubs[1].url.removesuffix('/v1')}: weight sync stage 'load adapter'.*500"):
            sync.push(FakeModel())
        assert policy.policy_version == 0 and policy.served_name == "tiny"
        stubs[1].behaviour.clear()
        sync.push(FakeModel())
    finally:
        sync.close()
    assert policy.policy_version == 1 and policy.served_name == "turngym-policy" and policy.name == "vllm:turngym-policy"
    first = ["/v1/models", "/pause", "/v1/load_lora_adapter"]
    assert stubs[0].calls == first + ["/reset_prefix_cache", "/resume", "/pause", "/v1/unload_lora_adapter",
                                      "/v1/load_lora_adapter", "/reset_prefix_cache", "/resume"]
    assert stubs[1].calls == first + ["/resume"] + first + ["/reset_prefix_cache", "/resume"]  # the failed load: resumed


class FakeCheck:
    def __init__(self, url, diff=None, error=None):
        self.base_url, self.diff, self.error = url, diff, error

    def check(self, expected, ids, atol):
        if self.error:
            raise self.error
        return self.diff

    def close(self):
        pass


def test_the_check_covers_every_server_and_names_each_failing_one():
    ok = MultiSync([FakeCheck(A, 1e-5), FakeCheck(B, 3e-4)])
    assert ok.check([0.0], [1, 2], 1e-3) == 3e-4
    bad = MultiSync([FakeCheck(A, error=SyncMismatch("max |Δ logprob| 0.3")), FakeCheck(B, 1e-5),
                     FakeCheck("http://c.test", error=SyncError("weight sync stage 'check' timed out"))])
    with pytest.raises(SyncMismatch, match=r"failed on 2 of 3 servers: http://a.test: max .*; http://c.test: .*'check'"):
        bad.check([0.0], [1, 2], 1e-3)


# ----- config and the factory ------------------------------------------------------------------------
def test_config_fields_validate_and_leave_the_hash_alone():
    base = validate_config({"env": "Lookup-v0", "rollout": "vllm"})
    assert base.vllm_urls is None and base.vllm_servers == 1
    two = validate_config({"env": "Lookup-v0", "rollout": "vllm", "vllm_servers": 2})
    urls = validate_config({"env": "Lookup-v0", "rollout": "vllm", "vllm_urls": [A, B]})
    assert two.config_hash() == urls.config_hash() == base.config_hash()
    bad = [({"vllm_urls": [A]}, r"^vllm_urls: is set but rollout is 'hf'"),
           ({"rollout": "vllm", "vllm_url": A, "vllm_urls": [B]}, r"^vllm_urls: and vllm_url are both set"),
           ({"rollout": "vllm", "vllm_url": A, "vllm_servers": 2}, r"^vllm_servers: is 2 but servers are given by URL"),
           ({"rollout": "vllm", "vllm_urls": [A, A + "/v1"]}, r"^vllm_urls: lists a server twice"),
           ({"rollout": "vllm", "vllm_servers": 0}, r"vllm_servers"), ({"rollout": "vllm", "vllm_urls": []}, r"vllm_urls")]
    for extra, match in bad:
        with pytest.raises(ConfigError, match=match):
            validate_config({"env": "Lookup-v0", **extra})
    assert validate_config({"env": "Lookup-v0", "rollout": "vllm", "vllm_servers": 2, "lora": {"r": 8}}).vllm_servers == 2


@pytest.mark.parametrize("stubs", [[{}, {}]], indirect=True)
def test_the_backend_over_given_urls_routes_and_pushes_to_all(stubs, tiny_model, tmp_path, monkeypatch):
    import trainers.backends as backends

    monkeypatch.setattr(backends, "start_servers", lambda *a, **k: pytest.fail("servers were given by URL"))
    cfg = validate_config({"env": "Lookup-v0", "rollout": "vllm", "vllm_urls": [s.url for s in stubs]})
    backend = backends.rollout_backend(cfg, SimpleNamespace(model_dir=tiny_model), max_model_len=512, run_dir=tmp_path)
    try:
        assert backend.server is None and backend.policy.base_urls == [s.url.removesuffix("/v1") for s in stubs]
        assert isinstance(backend.sync, MultiSync) and backend.sync.policy is backend.policy
        backend.sync.push(FakeModel())
    finally:
        backend.close()
    assert backend.policy.policy_version == 1 and [s.calls for s in stubs] == [RELOAD, RELOAD]


# ----- two real vLLM CPU servers ---------------------------------------------------------------------
@pytest.mark.slow
def test_a_push_reaches_two_vllm_servers_and_both_serve_the_learners_logprobs(tiny_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from agents.vllm_server import VLLMUnavailable
    from trainers.backends import VLLMRollout
    from trainers.sync import check_ids, model_logprobs, sync_tolerance

    try:
        backend = VLLMRollout(SimpleNamespace(model_dir=tiny_model), url=None, servers=2, max_model_len=512, temperature=1.0,
                              seed=0, log_path=tmp_path / "vllm.log", sync_timeout=120)
    except VLLMUnavailable as e:
        pytest.skip(f"no vLLM here: {e}")
    sync, policy = backend.sync, backend.policy
    atol = sync_tolerance("float32", "cpu")
    try:
        assert isinstance(sync, MultiSync) and len(backend.servers) == 2
        assert (tmp_path / "vllm-0.log").exists() and (tmp_path / "vllm-1.log").exists()
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
        ids = check_ids(policy.renderer)
        base = model_logprobs(model, ids)
        assert sync.check(base, ids, atol) <= atol  # both start on the learner's weights

        def perturb(seed):
            torch.manual_seed(seed)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            return model_logprobs(model, ids)

        expected = perturb(0)
        sync.push(model)
        assert policy.policy_version == 1 and sync.check(expected, ids, atol) <= atol
        for child in sync.syncs:  # each server on its own
            served = child.served_logprobs(ids)
            assert max(abs(a - b) for a, b in zip(served, expected)) <= atol
            assert max(abs(a - b) for a, b in zip(served, base)) > 0.05
        both, one = [], []
        for _ in range(4):  # timings, interleaved: both servers, then the first alone
            both.append(sync.push(model))
            began = time.perf_counter()
            sync.syncs[0].save(model)
            sync.syncs[0].reload()
            one.append(time.perf_counter() - began)

        async def sample():  # two new episodes: one on each server, sampled from the pushed weights
            try:
                convs = [policy.start_conversation(MESSAGES) for _ in range(2)]
                outs = await policy.generate_tokens(convs, SamplingParams(temperature=1.0, max_tokens=8, seed=1))
                return [policy.server_for(c) for c in convs], outs
            finally:
                await policy.aclose()

        servers, outs = asyncio.run(sample())
        assert sorted(servers) == sorted(policy.base_urls) and all(o.policy_version == 5 for o in outs)
        moved = perturb(1)  # pushed to the first server only: the check names the second
        sync.syncs[0].save(model)
        sync.syncs[0].reload()
        with pytest.raises(SyncMismatch, match=rf"failed on 1 of 2 servers: {policy.base_urls[1]}: "):
            sync.check(moved, ids, atol)
        assert sync.syncs[0].check(moved, ids, atol) <= atol
    finally:
        backend.close()
    assert not backend.servers
    print(f"push to two servers: median {sorted(both)[2]:.2f} s {[round(x, 2) for x in both]}; "
          f"to one: median {sorted(one)[2]:.2f} s {[round(x, 2) for x in one]}")
