"""``turngym models ...`` (models without a hub) and ``turngym serve`` (a vLLM server)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

models_app = typer.Typer(help="Models without a hub: SmolLM2 from its packaged GGUF, tiny test models (text, vision-language), tiny-base.", no_args_is_help=True)
console = Console()

OUT_OPT = typer.Option(None, help="folder to write (default: the turngym cache)")
FORCE_OPT = typer.Option(False, help="rebuild even if the folder is there")


@models_app.command("prepare")
def prepare_cmd(
    name: str = typer.Argument(..., help="the model to prepare: smollm2"),
    out: Optional[Path] = OUT_OPT,
    force: bool = FORCE_OPT,
) -> None:
    """Convert a packaged model into a cached transformers folder (once; later calls reuse it)."""
    from agents.models import ALIASES, SMOLLM2_NAME, prepare_smollm2

    if ALIASES.get(name) != SMOLLM2_NAME:
        console.print(f"[red]error:[/] unknown model {name!r}; known: smollm2")
        raise typer.Exit(2)
    began = time.monotonic()
    try:
        path = prepare_smollm2(out, overwrite=force)
    except (FileNotFoundError, ImportError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    console.print(f"{path}  ({time.monotonic() - began:.1f} s)")


@models_app.command("tiny")
def tiny_cmd(
    out: Optional[Path] = OUT_OPT,
    seed: int = typer.Option(0, help="weight initialisation seed"),
    force: bool = FORCE_OPT,
) -> None:
    """Write a tiny random Llama model (head_dim 64) with its own tokenizer and chat template."""
    from agents.models import TINY_NAME, cache_dir, write_tiny

    path = write_tiny(out or cache_dir() / TINY_NAME, seed=seed, overwrite=force)
    console.print(str(path))


@models_app.command("tiny-vl")
def tiny_vl_cmd(
    out: Optional[Path] = OUT_OPT,
    seed: int = typer.Option(0, help="weight initialisation seed"),
    force: bool = FORCE_OPT,
) -> None:
    """Write a tiny random Qwen2-VL (2-layer vision tower, head_dim 64) with its own tokenizer, chat template and image processor."""
    from agents.models import TINY_VL_NAME, cache_dir, write_tiny_vl

    path = write_tiny_vl(out or cache_dir() / TINY_VL_NAME, seed=seed, overwrite=force)
    console.print(str(path))


@models_app.command("tiny-base")
def tiny_base_cmd(
    out: Optional[Path] = OUT_OPT,
    force: bool = FORCE_OPT,
    steps: Optional[int] = typer.Option(None, help="pretraining steps (default: the recipe's)"),
    seed: int = typer.Option(0, help="corpus and initialisation seed"),
) -> None:
    """Pretrain tiny-base: a 3.6 M-parameter Llama, started from a copy circuit, that copies names, numbers and ids into tool calls (15-25 min on 2 cores)."""
    import json

    from agents.copybase.build import BaseRecipe
    from agents.models import TINY_BASE_NAME, cache_dir, write_tiny_base

    recipe = BaseRecipe(seed=seed, **({"steps": steps} if steps else {}))
    began = time.monotonic()
    path = write_tiny_base(out or cache_dir() / TINY_BASE_NAME, recipe, overwrite=force, log=console.print)
    figures = json.loads((path / "copybase.json").read_text())
    console.print(f"{path}  ({time.monotonic() - began:.0f} s; built in {figures['build_seconds']:.0f} s, "
                  f"{figures['parameters'] / 1e6:.2f} M parameters)", highlight=False)
    if "held_out_copy" in figures:
        console.print(f"held-out copy accuracy: {json.dumps(figures['held_out_copy'])}", highlight=False)


def serve_cmd(
    model: str = typer.Argument(..., help="a model folder, or smollm2 / tiny"),
    port: Optional[int] = typer.Option(None, help="port (default: a free one)"),
    host: str = typer.Option("127.0.0.1", help="address to bind"),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    dtype: Optional[str] = typer.Option(None, help="default: float32 on CPU, auto on CUDA"),
    max_model_len: int = typer.Option(2048, help="context length"),
    served_name: Optional[str] = typer.Option(None, help="model name in the API (default: the folder name)"),
    python: Optional[Path] = typer.Option(None, help="python with vLLM (default: .venv-vllm, $TURNGYM_VLLM_PYTHON)"),
    kv_cache_gb: float = typer.Option(1.0, help="KV cache on CPU (VLLM_CPU_KVCACHE_SPACE), GiB"),
    startup_timeout: float = typer.Option(900.0, help="seconds to wait for /health"),
) -> None:
    """Start vLLM's OpenAI-compatible server for a model; prints the URL once healthy, stops on Ctrl-C."""
    from agents.vllm_server import VLLMServer, VLLMUnavailable

    def _terminate(signum, frame):  # SIGTERM: leave through the context manager, which stops vLLM
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server = VLLMServer(
            model, served_name=served_name, host=host, port=port, device=device, dtype=dtype, max_model_len=max_model_len,
            python=python, kv_cache_gb=kv_cache_gb, startup_timeout=startup_timeout,
        )
    except (FileNotFoundError, VLLMUnavailable) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    console.print(f"starting vLLM ({server.device}, {server.dtype}) for {server.model_dir}; log: {server.log_path}")
    try:
        with server:
            console.print(f"vLLM ready in {server.startup_seconds:.0f} s at {server.url}", highlight=False)
            console.print(f"policy spec: vllm:{server.model_dir}@{server.url}", highlight=False)
            print(server.url, flush=True)
            while server.alive():
                time.sleep(1.0)
            console.print(f"[red]vLLM exited[/]:\n{server.log_tail()}")
            raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopped")
    except (RuntimeError, TimeoutError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
