"""The ``turngym`` command line: list envs, check them, evaluate policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from envs import make, registered
from envs.checker import check_multiturn
from envs.tasks import SPLITS
from trainers.step_progress import StepProgress
from turngym.cli_sandbox import sandbox_app
from turngym.cli_cluster import cluster_app
from turngym.cli_train import register as register_train
from turngym.cli_models import models_app, serve_cmd
from turngym.cli_compare import compare_cmd
from turngym.cli_view import view_cmd
from turngym.cli_webshop import webshop_app
from turngym.cli_gui import gui_app
from turngym.cli_tables import print_table, table

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
def list_envs(as_json: bool = typer.Option(False, "--json", help="print a JSON list for scripts (id, family, description, "
                                                                  "built, splits, scripted, error)")) -> None:
    """List registered envs: split sizes (read from their task sets; no env, sandbox or server starts)
    and the scripted policies (oracle, baselines) each one registers."""
    from envs.registry import task_set

    rows, cells = [], []
    for env_id, entry in sorted(registered().items()):
        row = {"id": env_id, "family": entry.family(), "description": entry.description, "built": entry.tasks_built(),
               "splits": None, "scripted": ["oracle"] * (entry.oracle is not None) + sorted(entry.baselines), "error": None}
        sizes, note = ["-"] * len(SPLITS), "[yellow]tasks not built yet (built on first use)[/]"
        if row["built"]:  # not built (e.g. traces recorded in a browser): list must not start one
            try:
                counts = task_set(env_id).sizes()
                row["splits"] = {split: counts[split] for split in SPLITS}
                sizes, note = [str(counts[split]) for split in SPLITS], ""
            except Exception as e:  # one env whose data cannot load must not hide the others
                row["error"] = f"tasks failed to load: {type(e).__name__}: {e}"
                sizes, note = ["[red]?[/]"] * len(SPLITS), f"[red]{escape(row['error'])}[/]"
        rows.append(row)
        cells.append([env_id, *sizes, ", ".join(row["scripted"]) + (f"  {note}" if note else ""), entry.description])
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    out = table("env", *SPLITS, "scripted", "description", wrap=("scripted", "description"))
    for c in cells:
        out.add_row(*c)
    print_table(console, out)


ENV_ARG_OPT = typer.Option([], "--env-arg", help="an env argument KEY=VALUE (repeatable; VALUE read as YAML), "
                                                 "e.g. --env-arg observation=a11y")


def _env_args(pairs: list[str]) -> dict[str, Any]:
    import yaml

    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env-arg")
        args[key.strip()] = yaml.safe_load(value)
    return args


@app.command("check-env")
def check_env_cmd(
    env_id: str,
    split: str = typer.Option("train", help="split to draw tasks from"),
    fuzz: int = typer.Option(1000, min=1, help="number of fuzzed malformed actions"),
    env_arg: list[str] = ENV_ARG_OPT,
) -> None:
    """Run gymnasium's env checker plus turngym's multi-turn invariants."""
    import gymnasium as gym

    kwargs = _env_args(env_arg)
    try:
        make(env_id, **kwargs).close()  # fail fast, with the registry's message, on an unknown id or argument
    except (KeyError, TypeError, ValueError) as e:
        _fail(e)
    results = check_multiturn(lambda: gym.make(_full_id(env_id), split=split, **kwargs), n_fuzz=fuzz)
    out = table("check", "result", "detail", wrap=("detail",))
    for r in results:
        out.add_row(r.name, "[green]pass[/]" if r.ok else "[red]FAIL[/]", escape(r.detail))
    print_table(console, out)
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
    env_arg: list[str] = ENV_ARG_OPT,
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
    env_kwargs = {**_env_args(env_arg), **({"max_turns": max_turns} if max_turns else {})}
    try:
        make(env_id, split=split, **env_kwargs).close()  # a bad id or env argument fails before the policy loads
        total = len(choose_episodes(task_set(env_id, **env_kwargs), split, n, samples=samples))
        pol = make_policy(policy, seed=seed, env=env_id)
    except (KeyError, TypeError, ValueError) as e:
        _fail(e)
    sampling = SamplingParams(temperature=temperature, max_tokens=max_tokens)
    successes: list[bool] = []  # the running success rate the progress shows, scored as the summary will be

    def on_done(traj) -> None:
        if not (traj.failed and exclude_failed):
            successes.append(traj.success and not traj.failed)
        bar.advance(info=f"success {sum(successes) / len(successes):.2f}" if successes else "")

    with StepProgress(f"{env_id} [{split}] {pol.name}", total, console) as bar:  # plain lines off a terminal
        try:
            results = evaluate(pol, env_id, split, n, samples=samples, sampling=sampling, seed=seed, env_kwargs=env_kwargs,
                               concurrency=concurrency, exclude_failed=exclude_failed, out=out, on_done=on_done)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    summary = Summary.model_validate({k: v for k, v in results.items() if k in Summary.model_fields})
    report = table("metric", "value", title=f"{_full_id(env_id)} · {split} · {pol.name}")
    scored = " (failed excluded)" if exclude_failed else " (failed = 0)"  # which episodes the headline numbers cover
    for key, value in summary.model_dump().items():
        if key == "pass_at_k":
            for k, v in value.items():
                report.add_row(f"pass@{k}{scored}", f"{v:.3f}")
        elif key == "env_metrics":
            for name, v in value.items():
                report.add_row(name, f"{v:.3f}")
        elif key in ("success_rate", "mean_reward"):
            report.add_row(key + scored, f"{value:.3f}")
        else:
            report.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    print_table(console, report)
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
