"""Start vLLM's OpenAI-compatible server for a model folder, wait until it is healthy, stop it.

    with VLLMServer("tiny") as server:          # a folder, or a name agents.models resolves
        policy = VLLMPolicy(server.model_dir, server.url, served_name=server.served_name)

vLLM usually lives in its own virtualenv (``.venv-vllm``, made by ``scripts/setup.d/30-vllm.sh``):
the server runs as ``python -m vllm.entrypoints.openai.api_server`` with that venv's python, in
its own process group, offline (``HF_HUB_OFFLINE=1``).  The device is CUDA when an NVIDIA GPU is
visible, CPU otherwise (float32 there: bf16 is far slower on CPUs without AVX512-BF16).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


class VLLMUnavailable(RuntimeError):
    """No python with vLLM could be found."""


def vllm_python(explicit: str | os.PathLike | None = None) -> Path:
    """The python that runs vLLM: ``explicit``, ``$TURNGYM_VLLM_PYTHON``, ``.venv-vllm``, or this one."""
    candidates = [explicit, os.environ.get("TURNGYM_VLLM_PYTHON"), REPO_ROOT / ".venv-vllm" / "bin" / "python"]
    for c in candidates:
        if c and Path(c).exists():
            return Path(c)
    try:
        import importlib.util

        if importlib.util.find_spec("vllm") is not None:
            return Path(sys.executable)
    except (ImportError, ValueError):
        pass
    raise VLLMUnavailable(
        "no vLLM found: run scripts/setup.d/30-vllm.sh (makes .venv-vllm) or set TURNGYM_VLLM_PYTHON"
    )


def detect_device() -> str:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "cpu"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and "GPU" in out.stdout:
                return "cuda"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return "cpu"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class VLLMServer:
    """A vLLM server subprocess; a context manager (``start`` / ``stop`` also work)."""

    def __init__(
        self, model: str | os.PathLike, *, served_name: str | None = None, host: str = "127.0.0.1", port: int | None = None,
        device: str = "auto", dtype: str | None = None, max_model_len: int = 2048, python: str | os.PathLike | None = None,
        kv_cache_gb: float = 1.0, gpu_memory_utilization: float = 0.85, seed: int = 0, startup_timeout: float = 900.0,
        extra_args: list[str] | None = None, log_path: str | os.PathLike | None = None,
    ):
        from agents.models import resolve_model

        self.model_dir = resolve_model(model)
        self.served_name = served_name or self.model_dir.name
        self.host = host
        self.port = port
        self.device = detect_device() if device == "auto" else device
        self.dtype = dtype or ("float32" if self.device == "cpu" else "auto")
        self.max_model_len = max_model_len
        self.python = vllm_python(python)
        self.kv_cache_gb = kv_cache_gb
        self.gpu_memory_utilization = gpu_memory_utilization
        self.seed = seed
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="vllm-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(self.model_dir),
            "--served-model-name", self.served_name, "--host", self.host, "--port", str(self.port),
            "--max-model-len", str(self.max_model_len), "--dtype", self.dtype, "--seed", str(self.seed),
        ]
        if self.device == "cuda":
            cmd += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        else:
            # vLLM's CPU runner crashes the engine ("CPU Generator does not use offset") when a seeded
            # request's prompt is prefilled in chunks; whole-prompt prefill avoids that path.
            cmd += ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(max(self.max_model_len, 8192))]
        from agents.vision import is_vision_model

        if is_vision_model(self.model_dir) and "--enable-scale-out" not in self.extra_args:
            cmd += ["--enable-scale-out"]  # /inference/v1/generate: token ids with images (agents.vllm_policy)
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"})
        if self.device == "cpu":
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(round(self.kv_cache_gb)))))
            env["CUDA_VISIBLE_DEVICES"] = ""
        for key in ("PYTHONPATH", "VIRTUAL_ENV"):  # the server's venv must not see this project's
            env.pop(key, None)
        return env

    def start(self) -> VLLMServer:
        if self.proc is not None:
            return self
        self.port = self.port or free_port(self.host)
        log = self.log_path.open("wb")
        began = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True,
            cwd=tempfile.gettempdir(),
        )
        log.close()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with code {self.proc.returncode} during start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        raise TimeoutError(f"vLLM not healthy after {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open(errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the server's process group, then SIGKILL what is left after ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:  # workers left in the group after the parent exited
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
