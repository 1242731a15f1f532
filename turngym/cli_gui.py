"""``turngym gui``: record the GUI traces, export them in GUI-R1's layout, save an app's page."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

gui_app = typer.Typer(help="The GUI envs' data: record traces in Chromium, export them, look at an app.", no_args_is_help=True)
console = Console()


@gui_app.command("build-traces")
def build_traces_cmd(
    out: Optional[Path] = typer.Option(None, help="folder to record into (default: $TURNGYM_HOME/gui-v1/traces)"),
    train: int = typer.Option(48, min=0, help="traces of the train split"),
    val: int = typer.Option(8, min=0, help="traces of the val split"),
    test: int = typer.Option(32, min=1, help="traces of the test split"),
) -> None:
    """Let the oracle play goals in headless Chromium and record every step (screenshots, elements,
    gold actions).  Needs Debian chromium (scripts/setup.d/40-browser.sh)."""
    from envs.gui.browser import browser_unavailable
    from envs.gui.traces import TraceSizes, build_traces, traces_root
    from trainers.step_progress import StepProgress

    reason = browser_unavailable()
    if reason:
        raise typer.BadParameter(reason)
    root = out or traces_root()
    if (root / "test.jsonl").exists():
        console.print(f"{root} already holds traces; remove it to record again")
        raise typer.Exit(0)
    sizes = TraceSizes(train=train, val=val, test=test)
    with StepProgress("recording traces", train + val + test, console) as bar:  # plain lines off a terminal
        seconds = build_traces(root, sizes, progress=lambda rec: bar.advance())
    console.print(f"recorded {train + val + test} traces into {root} in {seconds:.1f} s")


@gui_app.command("export")
def export_cmd(
    out: Path = typer.Argument(..., help="folder for <split>.jsonl and images/"),
    split: str = typer.Option("train", help="train | val | test"),
    data: Optional[Path] = typer.Option(None, help="trace folder (default: the built-in traces, recorded on first use)"),
) -> None:
    """Write the traces of a split in GUI-R1's layout (one JSON row per step + PNG files)."""
    from envs.gui.traces import export_gui_r1, load_trace_tasks, traces_root
    from envs.tasks import check_split

    check_split(split)
    root = data or traces_root()
    load_trace_tasks(str(root))  # records them first if missing
    rows = export_gui_r1(root, out, split)
    console.print(f"wrote {rows} rows to {out / f'{split}.jsonl'}")


@gui_app.command("page")
def page_cmd(
    app: str = typer.Argument(..., help="notes | todo | calendar | settings | mail | files | contacts"),
    out: Path = typer.Argument(..., help="HTML file to write"),
    seed: int = typer.Option(0, help="seed of the layout, texts and goals"),
    theme: str = typer.Option("paper", help="paper | night | forest | ocean | sunset | mono"),
) -> None:
    """Save one app page as a standalone HTML file (open it in any browser) and print its goals."""
    from envs.gui.apps import render_app

    try:
        page, goals = render_app(app, seed, theme)
    except KeyError as e:
        raise typer.BadParameter(str(e)) from None
    out.write_text(page.html(), encoding="utf-8")
    for goal in goals:
        console.print(f"- {goal.kind}: {goal.texts[0]}")
    console.print(f"wrote {out}")
