"""``turngym view``: the static trajectory viewer, rendered in headless Chromium (Debian ``chromium``).

The page must show a known trajectory's action, tool call, observation and image, and the
per-turn credit values computed for its group (GiGPO's hand-computed numbers from
test_credit_gigpo), and honour the filters given in the URL fragment.  The screenshot is kept
under the test's tmp folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.trajectory import Trajectory, write_jsonl
from tests.credit_trajs import traj
from turngym.viewer import build_view_data, write_viewer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
PNG_1PX = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def gigpo_group() -> list[Trajectory]:
    a = traj(1.0, turns=2, states=["S1", "S2"])
    a.turns[0].action = '<tool_call>{"name": "lookup", "arguments": {"key": "roo"}}</tool_call>'
    a.turns[0].observation = [{"role": "tool", "content": [{"type": "text", "text": "code 417 for roo"},
                                                           {"type": "image_url", "image_url": {"url": PNG_1PX}}]}]
    b = traj(0.0, turns=3, valid=[False, True, True], states=["S0", "S1", "S3"], truncated=True, sample=1)
    c = traj(0.0, turns=1, states=["S4"], sample=2)
    other = traj(1.0, turns=1, task="t2", sample=0)
    return [a, b, c, other]


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "rollouts").mkdir(parents=True)
    write_jsonl(run / "rollouts" / "step_0001.jsonl", gigpo_group())
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n")
    return run


def test_view_data_has_every_signal_free_method_and_the_hand_computed_values(run_dir: Path):
    data = build_view_data(run_dir)
    assert [t["task"] for t in data["trajectories"]] == ["t1", "t1", "t1", "t2"]
    assert {"grpo", "gigpo", "otc"} <= set(data["methods"]) or {"gigpo", "otc"} <= set(data["methods"])
    assert "igpo" not in data["methods"]  # no recorded signals: not computed, never faked
    a, b = data["trajectories"][0], data["trajectories"][1]
    assert a["credit"]["gigpo"] == pytest.approx([2.6479, 1.8618], abs=1e-4)
    assert b["credit"]["gigpo"] == pytest.approx([-1.21, -1.0076, -1.2845], abs=1e-4)
    assert a["turns"][0]["calls"] == ['lookup({"key": "roo"})']
    assert a["turns"][0]["observation"][0]["parts"][1] == {"image": PNG_1PX}


def test_recorded_signals_and_credit_are_used(tmp_path: Path):
    group = [traj(1.0, turns=2), traj(0.0, turns=1, sample=1)]
    rows = [json.loads(t.model_dump_json()) for t in group]
    rows[0]["signals"] = {"answer_logprobs": [-2.302585, -0.916291]}  # p = .1, .4
    rows[1]["signals"] = {"answer_logprobs": [-2.302585]}
    rows[0]["credit"] = {"grpo": [0.7, 0.7]}
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    data = build_view_data(tmp_path / "r.jsonl")
    # IGPO: r = [.3, 1], [0]; pooled mean .433333, population std .418994
    # z = [-.318223, 1.352448], [-1.034225] -> A = [-.318223 + 1.352448, 1.352448], [-1.034225]
    assert data["trajectories"][0]["credit"]["igpo"] == pytest.approx([1.0342, 1.3524], abs=1e-3)
    assert data["trajectories"][1]["credit"]["igpo"] == pytest.approx([-1.0342], abs=1e-3)
    assert data["trajectories"][0]["credit"]["grpo (recorded)"] == [0.7, 0.7]


def test_cli_writes_the_page(run_dir: Path):
    from turngym.cli import app

    result = CliRunner().invoke(app, ["view", str(run_dir)])
    assert result.exit_code == 0, result.output
    page = (run_dir / "viewer.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # nothing fetched from a network
    assert CliRunner().invoke(app, ["view", str(run_dir / "missing")]).exit_code == 1


def _rendered(dom: str) -> str:
    """The page's rendered part, without the embedded JSON data and the script."""
    return dom.split('<script type="application/json"')[0]


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=3000"]
    return subprocess.run(base + args, check=False, capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (scripts/setup.d/40-browser.sh installs it)")
def test_page_renders_in_headless_chromium_with_text_credit_and_filters(run_dir: Path, tmp_path: Path):
    page, _ = write_viewer(run_dir)
    dom = _rendered(_chromium(["--dump-dom", page.as_uri()], tmp_path).stdout)
    assert "4 of 4 trajectories" in dom
    assert "code 417 for roo" in dom and 'lookup({"key": "roo"})' in dom
    assert "+2.648" in dom and "-1.284" in dom  # GiGPO credit of A's first turn and B's last
    assert PNG_1PX[:40] in dom
    filtered = _rendered(_chromium(["--dump-dom", page.as_uri() + "#task=t1&outcome=success&method=gigpo"], tmp_path).stdout)
    assert "1 of 4 trajectories" in filtered and "+2.648" in filtered and "-1.284" not in filtered
    main = '<main id="list">'
    assert "<div>otc</div>" not in filtered.split(main)[1] and "<div>otc</div>" in dom.split(main)[1]  # other methods' bars hidden
    shot = tmp_path / "viewer.png"
    _chromium([f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()], tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
