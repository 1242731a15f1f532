"""The ``cluster`` config section and what picks the Ray backend; none of this needs Ray installed."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from trainers.config import ClusterConfig, ConfigError, load_config, validate_config

ROOT = Path(__file__).resolve().parent.parent


def test_cluster_is_off_by_default_and_set_by_overrides():
    base = validate_config({"env": "Lookup-v0", "rollout": "vllm"})
    assert base.cluster is None
    cfg = validate_config({"env": "Lookup-v0", "rollout": "vllm", "cluster": {"address": "auto", "workers": 16}})
    assert cfg.cluster == ClusterConfig(address="auto", workers=16)
    assert cfg.cluster.max_retries == 2 and cfg.cluster.resources is None and cfg.cluster.concurrency == 8
    # where rollouts run is not part of what the run computes: a resume may move to another cluster
    assert cfg.config_hash() == base.config_hash()


def test_overrides_reach_the_section(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env: Lookup-v0\nrollout: vllm\n")
    cfg = load_config(path, overrides=["cluster.address=ray://head:10001", "cluster.workers=4", "cluster.resources={docker: 1}"])
    assert cfg.cluster.address == "ray://head:10001" and cfg.cluster.workers == 4 and cfg.cluster.resources == {"docker": 1.0}


def test_a_cluster_with_the_in_process_policy_is_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"^rollout: is 'hf' but cluster is set: .*use rollout: vllm"):
        validate_config({"env": "Lookup-v0", "cluster": {"workers": 2}})
    with pytest.raises(ConfigError, match=r"cluster\.workers"):
        validate_config({"env": "Lookup-v0", "rollout": "vllm", "cluster": {"workers": 0}})
    with pytest.raises(ConfigError, match=r"cluster\.nodes"):
        validate_config({"env": "Lookup-v0", "rollout": "vllm", "cluster": {"nodes": 2}})


def test_importing_the_loop_does_not_import_ray():
    code = "import sys, trainers.loop, trainers.backends, trainers.cluster.worker; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_worker_resources_come_from_the_config_else_from_the_env():
    from trainers.cluster.worker import worker_resources

    assert worker_resources("Code-v0", {"sandbox": 2}) == {"sandbox": 2}
    assert worker_resources("Code-v0") == {"docker": 1.0}
    assert worker_resources("GUI-v0") == {"chromium": 1.0}
    assert worker_resources("Lookup-v0") == {} and worker_resources("Lookup-v0", {}) == {}


def test_the_factory_wraps_the_vllm_backend_when_a_cluster_is_set(monkeypatch, tmp_path):
    import trainers.backends as backends

    made = {}

    class FakeVLLM:
        def __init__(self, learner, **kw):
            made["vllm"] = kw

    fake = types.ModuleType("trainers.cluster.backend")
    fake.cluster_backend = lambda config, vllm, **kw: ("cluster", config.cluster.workers, vllm, kw)
    monkeypatch.setitem(sys.modules, "trainers.cluster.backend", fake)
    monkeypatch.setattr(backends, "VLLMRollout", FakeVLLM)
    cfg = validate_config({"env": "Lookup-v0", "rollout": "vllm", "vllm_url": "http://127.0.0.1:8000", "cluster": {"workers": 3}})
    kind, workers, vllm, kw = backends.rollout_backend(cfg, object(), max_model_len=512, run_dir=tmp_path)
    assert (kind, workers) == ("cluster", 3) and isinstance(vllm, FakeVLLM) and kw["max_model_len"] == 512
    assert made["vllm"]["url"] == "http://127.0.0.1:8000"
    plain = backends.rollout_backend(cfg.model_copy(update={"cluster": None}), object(), max_model_len=512, run_dir=tmp_path)
    assert isinstance(plain, FakeVLLM)


def test_workers_make_the_env_and_policy_the_loop_would(monkeypatch):
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[cluster]' (ray==2.60.0)")
    import trainers.cluster.backend as cluster

    made = {}
    monkeypatch.setattr(cluster, "ClusterRollout", lambda section, env, spec, **kw: made.update(env=env, spec=spec, **kw))
    policy = types.SimpleNamespace(model_dir=Path("/models/m"), base_urls=["http://10.0.0.2:8000"], served_name=None,
                                   base_url="http://10.0.0.2:8000")
    vllm = types.SimpleNamespace(policy=policy, sync="the sync", close=lambda: None)
    cfg = validate_config({"env": "Lookup-v0", "rollout": "vllm", "env_kwargs": {"keys": 9}, "max_turns": 3,
                           "cluster": {"workers": 2, "imports": ["my_envs"]}})
    cluster.cluster_backend(cfg, vllm, max_model_len=512)
    env, spec = made["env"], made["spec"]
    # the env as Trainer makes it (env_kwargs, then max_turns), the workers' VLLMPolicy on the driver's servers
    assert (env.env_id, env.split, env.kwargs, env.imports) == ("turngym/Lookup-v0", "train", {"keys": 9, "max_turns": 3}, ("my_envs",))
    assert spec.target == "agents.vllm_policy:VLLMPolicy" and spec.args == ("/models/m", ["http://10.0.0.2:8000"])
    assert spec.kwargs == {"served_name": None, "max_model_len": 512}
    assert made["policy"] is policy and made["sync"] == "the sync" and made["closers"] == [vllm.close]
    assert made["url"] == "http://10.0.0.2:8000"
