"""``turngym sandbox ...``: build the sandbox image, remove leftover containers, show the set-up."""

from __future__ import annotations

import typer
from rich.console import Console

from turngym.cli_tables import print_table, table as cli_table

sandbox_app = typer.Typer(help="Docker sandboxes for model-written code.", no_args_is_help=True)
console = Console()


def _client():
    from sandboxes.base import SandboxUnavailable
    from sandboxes.docker import DockerBackend

    try:
        backend = DockerBackend()
        backend.client.ping()
        return backend.client
    except (SandboxUnavailable, Exception) as e:  # noqa: BLE001 - any engine failure ends the command
        console.print(f"[red]error:[/] no Docker engine: {e}. Start one (see scripts/setup.d/20-docker.sh).")
        raise typer.Exit(2)


@sandbox_app.command("build")
def build(
    offline: bool = typer.Option(False, "--offline", help="build from Debian packages (debootstrap + docker import), no registry"),
    tag: str | None = typer.Option(None, help="image tag (default: turngym-sandbox:1)"),
    mirror: str | None = typer.Option(None, help="Debian mirror for --offline"),
    force: bool = typer.Option(False, help="rebuild even when the image exists"),
) -> None:
    """Build the sandbox image (python3, sqlite3, user 65534)."""
    from sandboxes.image import (
        IMAGE,
        ImageBuildError,
        build_offline,
        build_online,
        check_image,
        image_exists,
    )

    tag = tag or IMAGE
    client = _client()
    if image_exists(client, tag) and not force:
        console.print(f"{tag} already exists (use --force to rebuild)")
        return
    try:
        if offline:
            build_offline(client, tag, mirror=mirror, log=console.print)
        else:
            build_online(client, tag, log=console.print)
    except ImageBuildError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    problems = check_image(client, tag)
    for p in problems:
        console.print(f"[red]problem:[/] {p}")
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]{tag} is ready[/]")


@sandbox_app.command("gc")
def gc_cmd(
    all_: bool = typer.Option(False, "--all", help="remove every turngym sandbox container, even of live processes"),
) -> None:
    """Remove leftover sandbox containers (label turngym.sandbox=1) whose creating process is gone."""
    from sandboxes.docker import gc

    removed = gc(_client(), everything=all_)
    console.print(f"removed {len(removed)} sandbox container(s)")


@sandbox_app.command("info")
def info() -> None:
    """Engine, image and live sandbox containers."""
    from sandboxes.docker import LABEL
    from sandboxes.image import IMAGE, image_exists

    client = _client()
    version = client.version()
    table = cli_table("item", "value", wrap=("value",))
    table.add_row("engine", f"Docker {version.get('Version')} ({version.get('Os')}/{version.get('Arch')})")
    table.add_row("image", f"{IMAGE}: {'present' if image_exists(client, IMAGE) else 'MISSING (turngym sandbox build --offline)'}")
    live = client.api.containers(all=True, filters={"label": f"{LABEL}=1"})
    table.add_row("sandbox containers", str(len(live)))
    print_table(console, table)
