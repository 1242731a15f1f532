"""The training loop: ``train(config, resume=False) -> run folder``.

Per RL step (see ../shared/TRAINING.md for the pipeline):

1. draw ``tasks_per_step`` train tasks with a generator seeded by (seed, step), G episodes each,
   and roll them out through ``agents.rollout.rollout`` (in-process ``HFPolicy`` on the learner's
   own module in lockstep rounds, or a vLLM server the loop starts itself or is given by URL);
   infrastructure failures are left out of their group and counted; with ``dynamic_sampling``,
   groups whose rewards are all equal are dropped and tasks not drawn yet are drawn (at most 4 rounds);
2. extra signals when the credit method ``needs`` them (``trainers.signals``; IGPO's
   ``probe_template`` is passed on), then ``CreditMethod.assign`` per group; the groups with their
   credit and signals go to ``RUN/rollouts/step_NNNN.jsonl`` (:mod:`trainers.rollout_log`, what
   ``turngym view RUN`` shows); ``build_batch``; ``updates_per_batch`` learner steps;
3. weight sync (``trainers.sync``), which bumps ``policy_version``;
4. a ``metrics.jsonl`` row (+ tensorboard), val evaluation every ``eval_every`` steps, an atomic
   checkpoint every ``checkpoint_every`` steps (learner, RNG and, for SPA, the progress
   estimator with its buffer: :class:`RunState`).

Before step 1, when ``config.sft`` is set: the SFT warm start (:mod:`trainers.sft`), then the
held-out test evaluation of the SFT-only model (``RUN/eval_sft/``); with ``eval_every``, a step-0
row with the val evaluation of the starting model (the learning curve's first point).  Evaluations
sample at ``eval_temperature`` (0: greedy).  At the end: the held-out
test evaluation (``RUN/test/results.json``, as ``turngym eval`` writes it), ``curves.png`` and
``summary.json``.  Every random choice is seeded per step and every rollout round is batched in
a fixed order, so a run resumed from a checkpoint (``resume=True``) continues with the same
metrics, step for step, as one that never stopped.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from trainers.config import OptimConfig, TrainConfig
from trainers.credit.base import Signals
from trainers.metrics import MetricsLog, mean_std, plot_curves
from trainers.rollout_log import truncate_rollouts, write_step_rollouts
from trainers.sft import run_sft

MAX_REFILLS = 3


def episode_seed(config: TrainConfig, step: int, index: int) -> int:
    return (config.seed * 100_003 + step) * 1000 + index


def draw_tasks(task_ids: list[str], config: TrainConfig, step: int, round_: int, n: int) -> list[str]:
    rng = random.Random(f"{config.seed}-{step}-{round_}")
    return rng.sample(task_ids, min(n, len(task_ids)))


def group_by_task(trajs: list[Trajectory], group_size: int) -> list[list[Trajectory]]:
    return [trajs[i:i + group_size] for i in range(0, len(trajs), group_size)]


class Trainer:
    """The state of one run; :func:`train` drives it."""

    def __init__(self, config: TrainConfig, console: Console | None = None):
        from envs import make
        from trainers.credit import get_credit
        from trainers.learner import Learner

        self.config = config
        self.console = console or Console()
        self.run_dir = Path(config.out_dir)
        self.env_kwargs = {"max_turns": config.max_turns} if config.max_turns else {}
        probe = make(config.env, split=config.train_split, **self.env_kwargs)
        self.tasks = probe.tasks
        probe.close()
        self.train_ids = list(self.tasks.ids(config.train_split))
        self.credit = get_credit(config.credit, **config.credit_kwargs)
        self.learner = Learner(config.model, device=config.device, dtype=config.dtype, lora=config.lora, optim=config.optim,
                               ref_model=config.loss.kl_coef > 0, seed=config.seed, total_steps=config.steps)
        self.server = None
        self.policy, self.sync = self._rollout_policy()
        self.estimator = None
        if "progress" in self.credit.needs:
            from trainers.progress import ProgressEstimator

            self.estimator = ProgressEstimator(self.learner.model, pad_id=self.learner.pad_id, seed=config.seed)

    # -- rollout backends --------------------------------------------------------------------
    def _rollout_policy(self) -> tuple[Any, Any]:
        from trainers import sync

        cfg = self.config
        if cfg.rollout == "hf":
            from agents.hf_policy import HFPolicy
            from trainers.lockstep import LockstepPolicy

            inner = HFPolicy(self.learner.model_dir, model_obj=self.learner.model, device=self.learner.device,
                             max_batch=max(16, cfg.group_size * cfg.tasks_per_step),
                             autocast="bfloat16" if self.learner.autocast else None)  # sample as the learner computes
            return LockstepPolicy(inner), sync.SharedModuleSync(inner)
        from agents.vllm_policy import VLLMPolicy

        url = cfg.vllm_url
        if url is None:
            self.console.print("starting a vLLM server for rollouts ...")
            self.server = sync.training_server(self.learner.model_dir, lora_rank=cfg.lora.r if cfg.lora else None,
                                               processed_logprobs=cfg.sampling.temperature != 1.0, seed=cfg.seed,
                                               log_path=self.run_dir / "vllm.log").start()
            url = self.server.url
        policy = VLLMPolicy(self.learner.model_dir, url)
        pusher = sync.VLLMLoraSync(url, policy) if cfg.lora else sync.VLLMReloadSync(url, policy)
        return policy, pusher

    def rollout(self, episodes: list[Episode], sampling=None, on_done=None) -> list[Trajectory]:
        from envs import make
        from trainers.lockstep import lockstep_rollout

        cfg = self.config
        return lockstep_rollout(lambda: make(cfg.env, split=cfg.train_split, tasks=self.tasks, **self.env_kwargs),
                                self.policy, episodes, sampling or cfg.sampling, env_id=cfg.env, on_done=on_done)

    def evaluate(self, split: str, n: int | None, out: Path | None = None) -> dict[str, Any]:
        from trainers.evaluate import evaluate

        cfg = self.config
        sampling = SamplingParams(temperature=cfg.eval_temperature, max_tokens=cfg.sampling.max_tokens)
        return evaluate(self.policy, cfg.env, split, n, sampling=sampling, seed=cfg.seed, env_kwargs=self.env_kwargs, out=out)

    # -- one RL step ------------------------------------------------------------------------
    def collect(self, step: int, progress=None) -> tuple[list[list[Trajectory]], dict[str, float]]:
        cfg = self.config
        kept: list[list[Trajectory]] = []
        stats = {"failed": 0, "groups_dropped": 0, "episodes": 0, "sampled_tokens": 0}
        drawn: set[str] = set()
        for round_ in range(1 + (MAX_REFILLS if cfg.dynamic_sampling else 0)):
            need = cfg.tasks_per_step - len(kept)
            if need <= 0:
                break
            # a refill draws tasks not drawn yet this step (one group per task: the viewer groups a step's file by task)
            chosen = draw_tasks([t for t in self.train_ids if t not in drawn] or self.train_ids, cfg, step, round_, need)
            drawn.update(chosen)
            episodes = [Episode(task_id=t, seed=episode_seed(cfg, step, 100 * round_ + k), sample=j)
                        for k, t in enumerate(chosen) for j in range(cfg.group_size)]
            trajs = self.rollout(episodes, on_done=progress)
            stats["episodes"] += len(trajs)
            for group in group_by_task(trajs, cfg.group_size):
                good = [t for t in group if not t.failed and t.turns]
                stats["failed"] += len(group) - len(good)
                stats["sampled_tokens"] += sum(len(tk.token_ids or []) for t in good for tk in t.turns)
                if not good:
                    continue
                if cfg.dynamic_sampling and len({t.outcome for t in good}) == 1:
                    stats["groups_dropped"] += 1
                    continue
                kept.append(good)
        return kept, stats

    def credit_step(self, groups: list[list[Trajectory]]) -> tuple[list[list[list[float]]], list[Signals | None]]:
        """Per group: the per-turn advantages, and the signals they were computed from (None: the method needs none)."""
        signals: list[Signals | None] = [None] * len(groups)
        if self.credit.needs:
            try:
                from trainers.signals import compute_signals_many
            except ImportError as e:
                raise RuntimeError(f"credit {self.credit.name!r} needs {sorted(self.credit.needs)}: trainers.signals is missing ({e})") from e
            inner = getattr(self.policy, "inner", self.policy)
            signals = compute_signals_many(self.credit.needs, groups, policy=inner, learner=self.learner, estimator=self.estimator,
                                           probe_template=getattr(self.credit, "probe_template", "{answer}"))
        return [self.credit.assign(g, s) for g, s in zip(groups, signals)], signals

    def step(self, step: int, progress=None) -> dict[str, Any]:
        from trainers.batch import build_batch

        cfg = self.config
        t0 = time.perf_counter()
        groups, stats = self.collect(step, progress)
        t1 = time.perf_counter()
        fit_metrics: dict[str, float] = {}
        if self.estimator is not None:
            self.estimator.observe([t for g in groups for t in g])
            fit_metrics = self.estimator.maybe_refit(step) or {}
        advantages, signals = self.credit_step(groups) if groups else ([], [])
        t2 = time.perf_counter()
        trajs = [t for g in groups for t in g]
        flat_adv = [a for g in advantages for a in g]
        learner_metrics: dict[str, float] = {}
        if trajs:
            batch = build_batch(trajs, flat_adv, self.learner.pad_id)
            for _ in range(cfg.updates_per_batch):
                learner_metrics = self.learner.step(batch, cfg.loss, cfg.micro_batch)
        t3 = time.perf_counter()
        self.sync.push(self.learner.model)
        t4 = time.perf_counter()
        write_step_rollouts(self.run_dir, step, groups, {self.credit.name: advantages}, signals)
        t5 = time.perf_counter()
        outcomes = [t.outcome for t in trajs]
        token_adv = [a for adv in flat_adv for a in adv]
        adv_mean, adv_std = mean_std(token_adv)
        row = {
            "reward": mean_std(outcomes)[0], "success": mean_std([float(t.success) for t in trajs])[0],
            "turns": mean_std([len(t.turns) for t in trajs])[0], "groups": len(groups), **stats,
            "adv_mean": adv_mean, "adv_std": adv_std, "adv_nonzero": sum(abs(a) > 1e-8 for a in token_adv) / max(1, len(token_adv)),
            "policy_version": int(self.policy.policy_version),
            "time/rollout": t1 - t0, "time/credit": t2 - t1, "time/train": t3 - t2, "time/sync": t4 - t3, "time/save_rollouts": t5 - t4,
            "rollout_tokens_per_s": stats["sampled_tokens"] / max(t1 - t0, 1e-9),
            **{k: v for k, v in learner_metrics.items() if isinstance(v, (int, float))}, **fit_metrics,
        }
        if "tokens" in learner_metrics:
            row["train_tokens_per_s"] = learner_metrics.get("seq_tokens", 0.0) * cfg.updates_per_batch / max(t3 - t2, 1e-9)
        return row

    def close(self) -> None:
        if hasattr(self.sync, "close"):
            self.sync.close()
        if self.server is not None:
            self.server.stop()


def train(config: TrainConfig, resume: bool = False, console: Console | None = None) -> Path:
    """Run SFT (if configured) and RL per ``config``; returns the run folder."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from trainers.checkpoint import complete_steps, load_latest, save_checkpoint

    console = console or Console()
    run_dir = Path(config.out_dir)
    if not resume and complete_steps(run_dir):
        raise FileExistsError(f"{run_dir} already holds checkpoints: resume it (--resume) or choose another out_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    config.dump(run_dir / "config.yaml")
    trainer = Trainer(config, console)
    metrics = MetricsLog(run_dir)
    try:
        state = load_latest(run_dir, RunState(trainer)) if resume else None
        if state is not None and state.get("config_hash") != config.config_hash():
            raise ValueError(f"{run_dir} was trained with another config (hash {state.get('config_hash')}); not resuming")
        if state is None:
            metrics.truncate(-1)
            truncate_rollouts(run_dir, 0)
            shutil.rmtree(run_dir / "eval_sft", ignore_errors=True)
            if config.sft:
                run_sft(trainer, console)
                trainer.learner.reset_optimizer(config.optim, total_steps=config.steps)
                trainer.sync.push(trainer.learner.model)
                res = trainer.evaluate(config.test_split, config.test_tasks, run_dir / "eval_sft")
                console.print(f"after SFT: {config.test_split} success {res['success_rate']:.3f}")
            start = 0
            if config.eval_every:  # the curve's first point: held-out success before any RL step
                res = trainer.evaluate(config.eval_split, config.eval_tasks)
                metrics.log(0, {"episodes": 0, **_val_row(res)})
            save_checkpoint(run_dir, 0, RunState(trainer), _extra(trainer))
        else:
            start = int(state["step"])
            trainer.sync.push(trainer.learner.model)  # a fresh vLLM server holds the base weights, not the checkpoint's
            trainer.policy.policy_version = int(state.get("policy_version", start))
            metrics.truncate(start)
            truncate_rollouts(run_dir, start)
            console.print(f"resumed from step {start} ({state['checkpoint']})")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[info]}"), console=console, transient=False) as bar:
            job = bar.add_task("RL steps", total=config.steps, completed=start, info="")
            for step in range(start + 1, config.steps + 1):
                row = trainer.step(step)
                if config.eval_every and step % config.eval_every == 0:
                    res = trainer.evaluate(config.eval_split, config.eval_tasks)
                    row.update(_val_row(res))
                metrics.log(step, row)
                bar.update(job, advance=1, info=f"reward {row['reward']:.2f} success {row['success']:.2f}"
                                                 f"{' val ' + format(row['val/success_rate'], '.2f') if 'val/success_rate' in row else ''}")
                if (config.checkpoint_every and step % config.checkpoint_every == 0) or step == config.steps:
                    save_checkpoint(run_dir, step, RunState(trainer), _extra(trainer))
        trainer.learner.save_weights(run_dir / "model")  # a loadable model folder: turngym eval hf:RUN/model
        final = trainer.evaluate(config.test_split, config.test_tasks, run_dir / "test")
        _write_summary(run_dir, final)
        curves = plot_curves(run_dir)
        console.print(f"held-out {config.test_split} success {final['success_rate']:.3f}; "
                      f"results {run_dir / 'test' / 'results.json'}; curves {curves}")
    finally:
        metrics.close()
        trainer.close()
    return run_dir


def _val_row(results: dict[str, Any]) -> dict[str, float]:
    """An evaluation's numeric results as ``val/*`` metrics."""
    return {f"val/{k}": v for k, v in results.items() if isinstance(v, (int, float))}


class RunState:
    """What a checkpoint stores beside the learner's state (``save_checkpoint``/``load_latest`` take this in its place).

    SPA's progress estimator (head, backbone snapshot, fit count) and its buffer of recent rollouts
    (as JSON lines) go under ``progress`` in the checkpoint's ``optimizer.pt``, so a resumed run fits
    the same estimator on the same data as one that never stopped.
    """

    def __init__(self, trainer: Trainer):
        self.learner, self.estimator = trainer.learner, trainer.estimator

    def state_dict(self) -> dict[str, Any]:
        state = self.learner.state_dict()
        if self.estimator is not None:
            state["progress"] = {**self.estimator.state_dict(), "buffer": [t.model_dump_json() for t in self.estimator.buffer]}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        progress = state.pop("progress", None)
        self.learner.load_state_dict(state)
        if self.estimator is None:
            return
        if progress is None:
            raise ValueError("this checkpoint holds no progress estimator state, which the run's credit method needs")
        self.estimator.load_state_dict(progress)
        self.estimator.buffer.clear()
        self.estimator.buffer.extend(Trajectory.model_validate_json(line) for line in progress.get("buffer", []))


def _extra(trainer: Trainer) -> dict[str, Any]:
    return {"policy_version": int(trainer.policy.policy_version), "config_hash": trainer.config.config_hash()}


def _write_summary(run_dir: Path, final: dict[str, Any]) -> None:
    import json

    sft_path = run_dir / "eval_sft" / "results.json"
    summary = {"test": final, "sft_test": json.loads(sft_path.read_text()) if sft_path.exists() else None}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))


__all__ = ["OptimConfig", "RunState", "Trainer", "train"]


if __name__ == "__main__":  # python -m trainers.loop CONFIG.yaml [--resume]: what the resume test kills and restarts
    import sys

    from trainers.config import load_config

    args = [a for a in sys.argv[1:] if a != "--resume"]
    train(load_config(args[0], overrides=args[1:]), resume="--resume" in sys.argv)
