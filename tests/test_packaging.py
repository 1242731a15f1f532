"""The wheel carries every non-Python file the packages read at run time (presets, studies, templates, the
sandbox Dockerfile): a non-editable install would otherwise miss them."""

import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_tracked_data_file_of_a_package_is_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in config["packages"]["find"]["include"]]
    globs = config["package-data"]
    tracked = subprocess.run(["git", "ls-files", *packages], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    data = [f for f in tracked if not f.endswith(".py") and f.split("/")[0] in packages]
    assert data, "expected presets and templates among the tracked files"
    # setuptools expands package-data as globs from the package folder (a * never crosses a /)
    shipped = {str(f.relative_to(REPO)) for pkg, patterns in globs.items() for g in patterns for f in (REPO / pkg).glob(g)}
    assert [f for f in data if f not in shipped] == []
