"""A script under bench/ runs with bench/ first on sys.path, so a script named like an installed package
(bench/textworld.py did) shadows it for every bench script: `import textworld` found the script, and
TextWorld-v0's episodes all failed with "textworld is not installed" under bench/copybase.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_no_bench_script_shadows_a_module_the_project_can_import():
    shadowing = []
    for script in sorted(BENCH.glob("*.py")):
        name = script.stem
        if name in sys.stdlib_module_names:
            shadowing.append(f"{script.name} (standard library)")
            continue
        spec = importlib.util.find_spec(name) if name.isidentifier() else None
        if spec is not None and Path(spec.origin or "").parent != BENCH:
            shadowing.append(f"{script.name} ({spec.origin})")
    assert shadowing == [], f"bench scripts named like importable modules: {shadowing}"
