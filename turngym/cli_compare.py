"""``turngym compare CONFIG --methods grpo,igpo,spa,gigpo --seeds 3``: credit methods side by side.

CONFIG is a training config YAML or a preset name (``--preset NAME``: the YAML is read over that
preset, as ``turngym train FILE --preset NAME`` does, its ``compare:`` section merged over the
preset's); the YAML may hold a ``compare:`` section with the per-method settings
(``trainers/compare_config.py``), and ``--method-set NAME.FIELD=VALUE`` sets them from the command
line.  Every method's config is validated before anything trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def compare_cmd(
    config: Annotated[str, typer.Argument(help="a training config YAML (with an optional compare: section), or a preset name")],
    methods: Annotated[str | None, typer.Option(help="comma-separated credit methods (default: the compare: section's, "
                                                     "else grpo,igpo,spa,gigpo); grpo is the baseline")] = None,
    seeds: Annotated[int | None, typer.Option(min=1, help="seeds per method: config.seed, +1, ... (default: compare.seeds, 3)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="report folder (default: <out_dir>-compare)")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="override a config field, e.g. --set steps=20")] = None,
    method_sets: Annotated[list[str] | None, typer.Option("--method-set", help="a per-method setting NAME.FIELD=VALUE, e.g. "
                                                          "igpo.credit_kwargs.gamma=0.9, drgrpo.loss.agg_constant=64, "
                                                          "gigpo.dynamic_sampling=true (repeatable)")] = None,
    target: Annotated[float | None, typer.Option(help="success that 'episodes to target' counts to (default: the baseline's "
                                                      "final mean val success)")] = None,
    preset: Annotated[str | None, typer.Option(help="a preset CONFIG (then a YAML file) is read over, e.g. a study's compare: "
                                                    "section and plan over compare-lookup")] = None,
) -> None:
    """Train each method with the same env, budget, SFT start, tasks, seeds and evaluation; write curves and the paired report.

    Run folders under --out are reused when finished and resumed when not, if their config matches;
    one of another config is refused, naming the differing fields."""
    from trainers.compare import compare
    from trainers.compare_config import load_compare, validate_compare
    from trainers.config import ConfigError, list_presets

    try:
        path: str | None = config
        if not Path(config).is_file():
            if preset is not None:
                raise ConfigError(f"config: with --preset, {config!r} must be a YAML file to read over the preset")
            if config not in list_presets():
                raise ConfigError(f"config: {config!r} is neither a file nor a preset ({list_presets()})")
            path, preset = None, config
        names = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None
        cfg, cmp = load_compare(path, preset, overrides or [], methods=names, method_sets=method_sets or [], seeds=seeds)
        if target is not None:
            cmp = validate_compare({**cmp.model_dump(), "target": target})
        folder = compare(cfg, cmp, out=out or Path(f"{cfg.out_dir}-compare"), console=console)
    except (ConfigError, ValueError) as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    console.print((folder / "report.md").read_text(), markup=False, highlight=False, soft_wrap=True)  # its lines whole
    console.print(f"report: {folder / 'curves.html'}, {folder / 'curves.png'}")
