"""``turngym webshop``: serve the shop for a person to use in a browser, and build its data."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

webshop_app = typer.Typer(help="The WebShop env's web shop: serve it, build its data.", no_args_is_help=True)
console = Console()


@webshop_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=0, max=65535, help="port (0: any free port)"),
    split: str = typer.Option("test", help="split to draw the goal from: train | val | test"),
    task: Optional[str] = typer.Option(None, help="task id of the goal (default: a random one of the split)"),
    seed: Optional[int] = typer.Option(None, help="seed for the random goal"),
    data: Optional[Path] = typer.Option(None, help="a task-set folder (default: the built-in shops, built on first use)"),
) -> None:
    """Serve the shop over HTTP; prints the URL of a session with a goal, and the goal's instruction.

    The pages never show the goal: read the instruction here, shop in the browser, press "Buy Now"
    and the done page shows your score.  The home page opens goal-free sessions.  Ctrl-C stops it.
    """
    from envs.tasks import check_split
    from envs.webshop.app import ShopServer
    from envs.webshop.data import WebShopTaskSet, load_webshop_tasks

    try:
        check_split(split)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--split") from None
    tasks = WebShopTaskSet(data) if data else load_webshop_tasks()
    ids = tasks.ids(split)
    if task is None:
        if not ids:
            raise typer.BadParameter(f"split {split!r} has no tasks", param_hint="--split")
        task = random.Random(seed).choice(list(ids))
    try:
        chosen = tasks.get(task)
    except KeyError:
        raise typer.BadParameter(f"no task {task!r} (ids look like {ids[0] if ids else 'webshop/A/train/0000'})", param_hint="--task") from None
    server = ShopServer(tasks.root, host=host, port=port)
    server.start()
    try:
        import httpx

        sid = httpx.post(f"{server.url}/api/sessions", json={"world": chosen.data["world"], "goal": chosen.data["goal"]}).json()["session"]
        console.print(f"[bold]WebShop[/] serving {', '.join(server.shop.worlds)} at {server.url}/")
        console.print(f"Task {chosen.id}: [bold]{chosen.prompt}[/]")
        console.print(f"Shop for it at {server.url}/s/{sid}/")
        console.print("Ctrl-C stops the server.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@webshop_app.command("build")
def build(data: Optional[Path] = typer.Option(None, help="folder to build into (default: the cache)")) -> None:
    """Build the two generated shops and their goals (once; later runs load them) and time it."""
    from envs.tasks import cache_root
    from envs.webshop.data import DATA_VERSION, build_webshop_data, load_webshop_tasks

    root = data or cache_root() / DATA_VERSION
    if (root / "test.jsonl").exists():
        console.print(f"already built at {root}")
    else:
        console.print(f"built {root} in {build_webshop_data(root):.1f} s")
    tasks = load_webshop_tasks(root)
    console.print(f"products: A {len(tasks.catalog('A'))}, B {len(tasks.catalog('B'))}; goals: {tasks.sizes()}")
