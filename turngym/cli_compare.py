"""``turngym compare CONFIG --methods grpo,igpo,spa,gigpo --seeds 3``: credit methods side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def compare_cmd(
    config: Annotated[str, typer.Argument(help="a training config YAML, or a preset name (e.g. compare-tiny)")],
    methods: Annotated[str, typer.Option(help="comma-separated credit methods; grpo is the baseline")] = "grpo,igpo,spa,gigpo",
    seeds: Annotated[int, typer.Option(min=1, help="seeds per method (config.seed, +1, ...)")] = 3,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="report folder (default: <out_dir>-compare)")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="override a config field, e.g. --set steps=20")] = None,
) -> None:
    """Train each method with the same env, budget and seeds; write curves (PNG, HTML) and a table."""
    from trainers.compare import compare
    from trainers.config import ConfigError, list_presets, load_config

    try:
        path, preset = (config, None) if Path(config).is_file() else (None, config)
        if preset is not None and preset not in list_presets():
            raise ConfigError(f"config: {config!r} is neither a file nor a preset ({list_presets()})")
        cfg = load_config(path, preset=preset, overrides=overrides or [])
        names = [m.strip() for m in methods.split(",") if m.strip()]
        folder = compare(cfg, names, seeds, out or Path(f"{cfg.out_dir}-compare"), console=console)
    except (ConfigError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    console.print((folder / "report.md").read_text())
    console.print(f"report: {folder / 'curves.html'}, {folder / 'curves.png'}")
