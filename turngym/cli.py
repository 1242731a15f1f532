"""The ``turngym`` command line: list envs, check them, evaluate policies."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from envs import make, registered
from envs.checker import check_multiturn
from envs.tasks import SPLITS
from turngym.cli_sandbox import sandbox_app
from turngym.cli_cluster import cluster_app
from turngym.cli_train import register as register_train
from turngym.cli_models import models_app, serve_cmd
from turngym.cli_compare import compare_cmd
from turngym.cli_view import view_cmd
from turngym.cli_webshop import webshop_app
from turngym.cli_gui import gui_app

app = typer.Typer(help="turngym: train and evaluate LLM agents that use tools over many turns.", no_args_is_help=True)
console = Console()
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(cluster_app, name="cluster")
app.add_typer(models_app, name="models")
app.command("serve")(serve_cmd)
app.command("view")(view_cmd)
app.command("compare")(compare_cmd)
app.add_typer(webshop_app, name="webshop")
app.add_typer(gui_app, name="gui")
register_train(app)  # turngym train / turngym sft


@app.command("list")
def list_envs() -> None:
    """List registered envs: split sizes (read from their task sets; no env, sandbox or server starts)
    and the scripted policies (oracle, baselines) each one registers."""
    from envs.registry import task_set

    table = Table("env", "train", "val", "test", "scripted", "description")
    for env_id, entry in sorted(registered().items()):
        scripted = ", ".join(["oracle"] * (entry.oracle is not None) + sorted(entry.baselines))
        if not entry.tasks_built():  # e.g. traces recorded in a browser: list must not start one
            table.add_row(env_id, *["-"] * len(SPLITS), f"{scripted}  [yellow]tasks not built yet (built on first use)[/]",
                          entry.description)
            continue
        try:
            counts = task_set(env_id).sizes()
            sizes = [str(counts[split]) for split in SPLITS]
        except Exception as e:  # one env whose data cannot load must not hide the others
            sizes = ["[red]?[/]"] * len(SPLITS)
            scripted = f"{scripted}  [red]tasks failed to load: {type(e).__name__}: {e}[/]"
        table.add_row(env_id, *sizes, scripted, entry.description)
    console.print(table)


@app.command("check-env")
def check_env_cmd(
    env_id: str,
    split: str = typer.Option("train", help="split to draw tasks from"),
    fuzz: int = typer.Option(1000, min=1, help="number of fuzzed malformed actions"),
) -> None:
    """Run gymnasium's env checker plus turngym's multi-turn invariants."""
    import gymnasium as gym

    try:
        make(env_id)  # fail fast, with the registry's message, on an unknown id
    except (KeyError, ValueError) as e:
        _fail(e)
    results = check_multiturn(lambda: gym.make(_full_id(env_id), split=split), n_fuzz=fuzz)
    table = Table("check", "result", "detail")
    for r in results:
        table.add_row(r.name, "[green]pass[/]" if r.ok else "[red]FAIL[/]", r.detail)
    console.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("eval")
def eval_cmd(
    env_id: str,
    policy: str = typer.Option(
        "oracle", help="oracle | random | openai:MODEL@URL | vllm:MODEL@URL | hf:MODEL_DIR | a baseline the env registers (see `turngym list`)"
    ),
    split: str = typer.Option("test", help="train | val | test"),
    n: Optional[int] = typer.Option(None, "-n", min=1, help="number of tasks (default: the whole split)"),
    samples: int = typer.Option(1, min=1, help="samples per task (pass@k when > 1)"),
    concurrency: int = typer.Option(32, min=1, help="episodes in flight"),
    temperature: float = typer.Option(0.0, help="sampling temperature"),
    max_tokens: int = typer.Option(512, min=1, help="max tokens per reply"),
    max_turns: Optional[int] = typer.Option(None, min=1, help="override the env's max turns"),
    seed: int = typer.Option(0, help="base seed"),
    out: Path = typer.Option(Path("runs/eval"), help="folder for results.json and trajectories.jsonl"),
    exclude_failed: bool = typer.Option(
        False, "--exclude-failed", help="leave failed (infrastructure-fault) episodes out of success rate, mean reward and pass@k (default: they count as 0)"
    ),
) -> None:
    """Evaluate a policy on a split; writes results.json and trajectories.jsonl."""
    from agents import SamplingParams, make_policy
    from agents.evaluation import Summary, choose_episodes, evaluate
    from envs.registry import task_set

    if split not in SPLITS:
        raise typer.BadParameter(f"split must be one of {list(SPLITS)}", param_hint="--split")
    env_kwargs = {"max_turns": max_turns} if max_turns else {}
    try:
        make(env_id, split=split, **env_kwargs).close()  # a bad id or env argument fails before the policy loads
        total = len(choose_episodes(task_set(env_id), split, n, samples=samples))
        pol = make_policy(policy, seed=seed, env=env_id)
    except (KeyError, ValueError) as e:
        _fail(e)
    sampling = SamplingParams(temperature=temperature, max_tokens=max_tokens)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        job = bar.add_task(f"{env_id} [{split}] {pol.name}", total=total)
        try:
            results = evaluate(pol, env_id, split, n, samples=samples, sampling=sampling, seed=seed, env_kwargs=env_kwargs,
                               concurrency=concurrency, exclude_failed=exclude_failed, out=out,
                               on_done=lambda _: bar.advance(job))
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    summary = Summary.model_validate({k: v for k, v in results.items() if k in Summary.model_fields})
    table = Table("metric", "value", title=f"{_full_id(env_id)} · {split} · {pol.name}")
    scored = " (failed excluded)" if exclude_failed else " (failed = 0)"  # which episodes the headline numbers cover
    for key, value in summary.model_dump().items():
        if key == "pass_at_k":
            for k, v in value.items():
                table.add_row(f"pass@{k}{scored}", f"{v:.3f}")
        elif key in ("success_rate", "mean_reward"):
            table.add_row(key + scored, f"{value:.3f}")
        else:
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"wrote {out / 'results.json'} and {out / 'trajectories.jsonl'}")


def _fail(error: Exception) -> None:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)


def _full_id(env_id: str) -> str:
    from envs.registry import env_id as normalize

    return normalize(env_id)


if __name__ == "__main__":
    app()
