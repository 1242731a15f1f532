"""VLLMServer's process handling (start, health wait, failure, timeout, clean stop) and the
``models`` / ``serve`` CLI, with a stand-in server script instead of vLLM: fast, no torch."""

import os
import stat
import sys
import textwrap
import time

import httpx
import pytest
from typer.testing import CliRunner

from agents import make_policy
from agents.vllm_server import VLLMServer
from turngym.cli import app

FAKE = textwrap.dedent(f"""\
    #!{sys.executable}
    # Stands in for `python -m vllm.entrypoints.openai.api_server ...`: reads --port, spawns a child
    # (as vLLM spawns its engine), answers /health, and writes the pids it owns.
    import http.server, os, subprocess, sys, time
    args = sys.argv[1:]
    mode = os.environ.get("FAKE_MODE", "ok")
    print("fake vllm args:", " ".join(args), flush=True)
    if mode == "crash":
        print("RuntimeError: engine core failed to start", flush=True)
        sys.exit(3)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["FAKE_PIDS"], "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}")
    if mode == "hang":
        time.sleep(600)
    port = int(args[args.index("--port") + 1])
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    path = tmp_path / "fake-python"
    path.write_text(FAKE)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_PIDS", str(tmp_path / "pids"))
    model = tmp_path / "model"
    model.mkdir()
    return path, model, tmp_path / "pids"


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap our own zombie child, if it is one
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def test_server_waits_for_health_and_stops_its_whole_process_group(fake):
    python, model, pids = fake
    with VLLMServer(model, python=python, device="cpu", startup_timeout=30) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        assert server.alive() and server.startup_seconds is not None
        cmd = server.command()
        assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"] and "--dtype" in cmd
        assert cmd[cmd.index("--dtype") + 1] == "float32" and server.environment()["HF_HUB_OFFLINE"] == "1"
        parent, child = map(int, pids.read_text().split())
    assert not server.alive()
    assert _gone(parent) and _gone(child)  # the spawned child went with the group


def test_server_that_crashes_raises_with_its_log(fake, monkeypatch):
    python, model, _ = fake
    monkeypatch.setenv("FAKE_MODE", "crash")
    with pytest.raises(RuntimeError, match="engine core failed to start"):
        VLLMServer(model, python=python, device="cpu", startup_timeout=30).start()


def test_server_that_never_gets_healthy_times_out_and_is_killed(fake, monkeypatch):
    python, model, pids = fake
    monkeypatch.setenv("FAKE_MODE", "hang")
    server = VLLMServer(model, python=python, device="cpu", startup_timeout=3)
    with pytest.raises(TimeoutError, match="not healthy"):
        server.start()
    parent, child = map(int, pids.read_text().split())
    assert _gone(parent) and _gone(child)


def test_serve_cli_reports_a_failed_start(fake, monkeypatch):
    python, model, _ = fake
    monkeypatch.setenv("FAKE_MODE", "crash")
    result = CliRunner().invoke(app, ["serve", str(model), "--python", str(python), "--device", "cpu"])
    assert result.exit_code == 1 and "exited with code 3" in result.output


def test_models_tiny_cli_writes_once(tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="torch not installed: install the [train] extra")
    monkeypatch.setenv("TURNGYM_HOME", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(app, ["models", "tiny"])
    assert first.exit_code == 0, first.output
    folder = tmp_path / "models" / "tiny-llama"
    assert (folder / "model.safetensors").exists() and (folder / "chat_template.jinja").exists()
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert runner.invoke(app, ["models", "tiny"]).exit_code == 0
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime
    assert runner.invoke(app, ["models", "prepare", "nonesuch"]).exit_code == 2


def test_make_policy_specs(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="needs the server's URL"):
        make_policy("vllm:tiny")
    with pytest.raises(ValueError, match="no model folder"):
        make_policy("vllm:/no/such/folder@http://127.0.0.1:1")
    pytest.importorskip("torch", reason="torch not installed: install the [train] extra")
    monkeypatch.setenv("TURNGYM_HOME", str(tmp_path))
    from agents.hf_policy import HFPolicy
    from agents.vllm_policy import VLLMPolicy

    v = make_policy("vllm:tiny@http://127.0.0.1:1/v1")
    assert isinstance(v, VLLMPolicy) and v.base_url == "http://127.0.0.1:1"
    assert isinstance(make_policy("hf:tiny"), HFPolicy)
