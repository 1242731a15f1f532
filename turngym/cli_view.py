"""``turngym view RUN_DIR``: write the static trajectory viewer (see :mod:`turngym.viewer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def view_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (every trajectory JSONL under it) or one .jsonl file")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file to write (default: RUN_DIR/viewer.html)")] = None,
    methods: Annotated[str | None, typer.Option(help="comma-separated credit methods to compute (default: all that can be)")] = None,
) -> None:
    """Write a static HTML viewer of a run's trajectories with each method's per-turn credit (opens from disk)."""
    from turngym.viewer import write_viewer

    try:
        names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
        path, data = write_viewer(run_dir, out, names)
    except (FileNotFoundError, KeyError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    if not data["trajectories"]:
        console.print(f"[yellow]no trajectory JSONL found under {run_dir}[/]")
    console.print(f"wrote {path} ({len(data['trajectories'])} trajectories; credit: {', '.join(data['methods']) or 'none'})")
