"""The opt-in local backend: same worker and protocol on the host, with a loud warning (no Docker needed)."""

import os
import shutil
import time

import pytest

from sandboxes import get_backend
from sandboxes.local import LocalSandbox, LocalSandboxWarning


@pytest.fixture(params=[False, True], ids=["plain", "bwrap"])
def local(request):
    if request.param and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) not installed")
    sb = LocalSandbox(use_bwrap=request.param)
    yield sb
    sb.close()
    assert not os.path.exists(sb.root)


def test_local_backend_warns_that_it_is_not_isolation():
    with pytest.warns(LocalSandboxWarning, match="NOT isolation"):
        get_backend("local")
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_backend("podman")


def test_local_sandbox_runs_code_with_limits(local):
    r = local.run("print(6 * 7)", timeout=5)
    assert (r.stdout, r.exit_code, r.timed_out) == ("42\n", 0, False)
    r = local.run("while True: pass", timeout=0.5)
    assert (r.exit_code, r.timed_out) == (-9, True)
    r = local.run("print('z' * 100000)", timeout=5)
    assert r.truncated and len(r.stdout) == local.limits.max_output
    r = local.run("x = bytearray(8 << 30)", timeout=5)
    assert r.exit_code == 1 and "MemoryError" in r.stderr
    local.put_files({"d/f.txt": "hi"})
    assert local.run("print(open('d/f.txt').read())", timeout=5).stdout == "hi\n"
    assert local.get_file("d/f.txt") == b"hi"
    with pytest.raises(ValueError):
        local.put_files({"../../etc/x": "no"})


def test_local_sandbox_kills_detached_background_processes(local):
    marker = f"{time.time_ns() % 10**6}.25"
    r = local.run(f"import subprocess; subprocess.Popen(['sleep', '{marker}'], start_new_session=True); print('ok')", timeout=5)
    assert r.stdout == "ok\n"
    alive = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == ["sleep", marker]]
    assert alive == []


def test_local_bwrap_has_no_network():
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) not installed")
    with LocalSandbox(use_bwrap=True) as sb:
        r = sb.run("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\nexcept OSError as e:\n    print(e.errno)", timeout=5)
        assert r.stdout == "101\n"  # ENETUNREACH


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode().split("\0")[:-1]
    except OSError:
        return None


def test_local_bwrap_hides_home_checkout_and_task_data(tmp_path, monkeypatch):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) not installed")
    secret = tmp_path / "turngym-home" / "code-v1" / "train.jsonl"  # where answer keys are cached
    secret.parent.mkdir(parents=True)
    secret.write_text("hidden answers")
    monkeypatch.setenv("TURNGYM_HOME", str(secret.parent.parent))
    checkout_file = os.path.abspath(__file__)
    with LocalSandbox(use_bwrap=True) as sb:
        probe = "import os, sys\nfor p in sys.argv[1:]:\n    print(os.path.exists(p))"
        r = sb.run(["python3", "-c", probe, str(secret), checkout_file, os.path.expanduser("~/.bashrc")], timeout=10)
        assert r.stdout == "False\nFalse\nFalse\n", r
        assert sb.run("print('interpreter still works')", timeout=10).stdout == "interpreter still works\n"
