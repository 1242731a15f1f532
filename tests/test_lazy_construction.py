"""Lazy construction: ``turngym list`` and ``gymnasium.make`` start no container, server or browser.

``list`` reads split sizes from each env's registered task set; constructing an env leaves its
sandboxes, HTTP apps and browsers to the first episode that needs them.  Watched here: Docker
containers created meanwhile that belong to this process (or carry no turngym owner label), and
child processes of this process (a server or browser is one).  Skips without a Docker engine.
"""

import os
from pathlib import Path

import gymnasium as gym
import pytest
from typer.testing import CliRunner

import turngym  # noqa: F401  (registers every env)
from envs import registered
from turngym.cli import app

docker = pytest.importorskip("docker", reason="docker SDK not installed (pip install 'turngym[sandbox]')")


@pytest.fixture(scope="module")
def client():
    try:
        c = docker.from_env(timeout=60)
        c.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"no Docker engine reachable ({e}); run scripts/setup.d/20-docker.sh")
    return c


@pytest.fixture(scope="module")
def built():
    """Every env's task set, built before watching: a first build may run tools (the GUI traces are
    recorded in Chromium), which is data preparation, not what listing or constructing may do."""
    from envs.registry import task_set

    for env_id in registered():
        task_set(env_id)


def _children() -> set[int]:
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == me:
            found.add(int(stat.parent.name))
    return found


class Watch:
    """Containers created, and child processes started, between ``with`` entry and the check."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        self.known = {c["Id"] for c in self.client.api.containers(all=True)}
        self.children = _children()
        return self

    def __exit__(self, *exc):
        return False

    def started(self) -> list[str]:
        mine = {"", str(os.getpid())}  # another session's sandboxes carry its own pid
        new = [c for c in self.client.api.containers(all=True) if c["Id"] not in self.known]  # one call: no per-container race
        containers = [f"container {c['Names']} ({c['Image']})" for c in new if (c.get("Labels") or {}).get("turngym.pid", "") in mine]
        return containers + [f"child process {pid}" for pid in sorted(_children() - self.children)]


def test_list_starts_nothing_and_shows_every_env(client, built):
    runner = CliRunner()
    with Watch(client) as watch:
        result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        assert watch.started() == []
    for env_id in registered():
        assert env_id in result.output


def test_gymnasium_make_starts_nothing(client, built):
    with Watch(client) as watch:
        for env_id in registered():
            gym.make(env_id).close()
        assert watch.started() == []


def test_list_does_not_record_missing_gui_traces(client, built, tmp_path, monkeypatch):
    """Unbuilt GUI traces (recorded in Chromium) are listed as not built; listing records nothing."""
    import envs.gui.traces as traces

    monkeypatch.setattr(traces, "traces_root", lambda: tmp_path / "traces")
    with Watch(client) as watch:
        result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        assert watch.started() == []
    row = next(line for line in result.output.splitlines() if "GUITrace-v0" in line)
    assert "not built" in row and not (tmp_path / "traces").exists()
