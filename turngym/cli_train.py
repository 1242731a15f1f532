"""``turngym train`` and ``turngym sft``: a config (YAML file and/or preset, ``--set`` overrides) to a run.

The config is validated first (exit code 2 naming the bad field, before torch is imported);
the trainer modules are imported only after that.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from turngym.cli_tables import print_table, table as cli_table

console = Console()

CONFIG_ARG = typer.Argument(None, help="YAML config file (applied on top of --preset)", show_default=False)
PRESET_OPT = typer.Option(None, "--preset", help="a built-in preset (see --list-presets)")
SET_OPT = typer.Option([], "--set", help="override a setting: key.sub=value (repeatable), e.g. optim.lr=1e-4")
OUT_OPT = typer.Option(None, "--out", help="run folder (overrides out_dir)")
LIST_OPT = typer.Option(False, "--list-presets", help="list the built-in presets and exit")


def _load(config: Optional[Path], preset: Optional[str], overrides: list[str], out: Optional[Path], *, sft_defaults: bool = False):
    from trainers.config import load_config

    overrides = list(overrides)
    if out is not None:
        overrides.append(f"out_dir={out}")
    if config is None and preset is None:
        console.print("[red]error:[/] give a CONFIG file or --preset NAME (see --list-presets)")
        raise typer.Exit(2)
    with _config_errors():
        cfg = load_config(config, preset, overrides)
        if sft_defaults and cfg.sft is None:
            from trainers.config import SFTConfig

            cfg = cfg.model_copy(update={"sft": SFTConfig()})
    return cfg


@contextmanager
def _config_errors() -> Iterator[None]:
    """A bad setting, found on loading or once the run starts (an env that rejects ``env_kwargs``): the message, exit 2."""
    from trainers.config import ConfigError

    try:
        yield
    except ConfigError as e:
        console.print(f"[red]config error:[/] {e}")
        raise typer.Exit(2) from None


def _print_presets() -> None:
    import yaml

    from trainers.config import list_presets, preset_path

    table = cli_table("preset", "env", "model", "rollout", "credit", "steps", "sft")
    for name in list_presets():
        data = yaml.safe_load(preset_path(name).read_text(encoding="utf-8")) or {}
        table.add_row(name, str(data.get("env")), str(data.get("model", "tiny")), str(data.get("rollout", "hf")),
                      str(data.get("credit", "grpo")), str(data.get("steps", 100)), "yes" if data.get("sft") else "no")
    print_table(console, table)


def _import_or_exit(module: str, name: str):
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        console.print(f"[red]error:[/] {module}.{name} is not available ({e}); install the [train] extra")
        raise typer.Exit(1) from None


def train_cmd(
    config: Optional[Path] = CONFIG_ARG,
    preset: Optional[str] = PRESET_OPT,
    set_: list[str] = SET_OPT,
    resume: bool = typer.Option(False, "--resume", help="continue from the run folder's newest complete checkpoint"),
    out: Optional[Path] = OUT_OPT,
    list_presets: bool = LIST_OPT,
) -> None:
    """Train a policy with RL (optionally after an SFT warm start); see trainers/presets for examples."""
    if list_presets:
        _print_presets()
        return
    cfg = _load(config, preset, set_, out)
    train = _import_or_exit("trainers.loop", "train")
    with _config_errors():
        run_dir = train(cfg, resume=resume)
    console.print(f"run folder: {run_dir}")


def sft_cmd(
    config: Optional[Path] = CONFIG_ARG,
    preset: Optional[str] = PRESET_OPT,
    set_: list[str] = SET_OPT,
    out: Optional[Path] = OUT_OPT,
    data: Optional[str] = typer.Option(None, "--data", help="'oracle' or a trajectories JSONL (overrides sft.data)"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="SFT steps (overrides sft.steps)"),
    list_presets: bool = LIST_OPT,
) -> None:
    """Supervised fine-tuning on trajectories (oracle or JSONL); writes OUT/model, a loadable model folder."""
    if list_presets:
        _print_presets()
        return
    overrides = list(set_) + ([f"sft.data={data}"] if data else []) + ([f"sft.steps={steps}"] if steps else [])
    cfg = _load(config, preset, overrides, out, sft_defaults=True)
    sft = _import_or_exit("trainers.sft", "sft")
    sft_data = _import_or_exit("trainers.sft", "sft_data")

    from agents.tokens import load_renderer
    from trainers.config import OptimConfig
    from trainers.learner import Learner
    from trainers.loop import env_setup
    from trainers.metrics import MetricsLog
    from trainers.step_progress import StepProgress

    scfg, run_dir = cfg.sft, Path(cfg.out_dir)
    with _config_errors():
        env_kwargs, _ = env_setup(cfg)  # a bad env_kwargs fails before the model loads
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.dump(run_dir / "config.yaml")
    learner = Learner(cfg.model, device=cfg.device, dtype=cfg.dtype, lora=cfg.lora, seed=cfg.seed, total_steps=scfg.steps,
                      optim=OptimConfig(lr=scfg.lr, warmup_steps=scfg.warmup_steps, grad_clip=cfg.optim.grad_clip))
    trajs = sft_data(scfg.data, cfg.env, load_renderer(learner.model_dir), max_tasks=scfg.max_tasks,
                     successful_only=scfg.successful_only, seed=cfg.seed, env_kwargs=env_kwargs,
                     teacher_kwargs=scfg.teacher_kwargs)
    console.print(f"SFT: {len(trajs)} trajectories, {scfg.steps} steps, {learner.num_parameters(trainable=True):,} trainable parameters")
    log = MetricsLog(run_dir, tensorboard=False, name="sft.jsonl")
    try:
        with StepProgress("SFT steps", scfg.steps, console) as bar:  # plain lines off a terminal

            def on_step(step: int, metrics: dict) -> None:
                log.log(step + 1, {k: v for k, v in metrics.items() if isinstance(v, (int, float))})
                bar.advance(info=f"loss {metrics['loss']:.3f} acc {metrics.get('token_accuracy', 0):.2f}")

            sft(learner, trajs, steps=scfg.steps, batch_size=scfg.batch_size, micro_batch=scfg.micro_batch, seed=cfg.seed,
                on_step=on_step)
    finally:
        log.close()
    model_dir = learner.save_weights(run_dir / "model")
    console.print(f"wrote {model_dir} (use it as model: {model_dir}) and {run_dir / 'sft.jsonl'}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("sft")(sft_cmd)
