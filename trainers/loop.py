"""The training loop: ``train(config, resume=False) -> run folder``.

Per RL step (the pipeline in ``trainers/__init__.py``; the set-up in :class:`Trainer`):

1. draw ``tasks_per_step`` train tasks, G episodes each (every seed from :mod:`agents.seeds`),
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

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from agents import seeds
from agents.evaluation import env_metrics
from agents.policy import SamplingParams
from agents.rollout import Episode
from agents.trajectory import Trajectory
from envs import make
from envs.registry import task_set
from envs.tasks import TaskSet
from trainers.backends import RolloutBackend, rollout_backend
from trainers.batch import build_batch
from trainers.config import ConfigError, OptimConfig, TrainConfig
from trainers.credit import get_credit
from trainers.credit._stats import returns
from trainers.credit.base import CreditMethod, Signals, env_credit_kwargs
from trainers.evaluate import evaluate
from trainers.distributed import make_learner
from trainers.metrics import MetricsLog, mean_std, plot_curves
from trainers.progress import ProgressEstimator
from trainers.rollout_log import truncate_rollouts, write_step_rollouts
from trainers.run_state import RunState, load_reference, model_context, save_reference
from trainers.sft import cannot_copy_warning, run_sft
from trainers.signals import compute_signals_many, drop_failed
from trainers.sync import check_ids, check_policy_versions, model_logprobs, sync_tolerance

MAX_REFILLS = 3
ZERO_ADVANTAGE = 1e-8  # |A| at or below this is no signal (dynamic sampling drops a group of only such turns)


def env_setup(config: TrainConfig) -> tuple[dict[str, Any], TaskSet]:
    """The arguments every env of the run is made with (``env_kwargs`` and ``max_turns``) and the tasks they
    give; arguments the env rejects fail here, naming the field, before any model loads."""
    kwargs = {**config.env_kwargs, **({"max_turns": config.max_turns} if config.max_turns else {})}
    try:
        return kwargs, task_set(config.env, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"env_kwargs: {config.env} cannot be made with {kwargs}: {e}") from e


@dataclass
class Collected:
    """One step's kept groups, aligned with their per-turn advantages and the signals behind them."""

    groups: list[list[Trajectory]] = field(default_factory=list)
    advantages: list[list[list[float]]] = field(default_factory=list)
    signals: list[Signals | None] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=lambda: {"failed": 0, "groups_dropped": 0, "episodes": 0, "sampled_tokens": 0})
    fit_metrics: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=lambda: {"rollout": 0.0, "credit": 0.0})


class RolloutFailure(RuntimeError):
    """More than half of a step's episodes failed on infrastructure: the run stops instead of training on the rest."""


def episode_seed(config: TrainConfig, step: int, index: int) -> int:
    return seeds.episode_seed(config.seed, step, index)


def draw_tasks(task_ids: list[str], config: TrainConfig, step: int, round_: int, n: int) -> list[str]:
    return seeds.task_rng(config.seed, step, round_).sample(task_ids, min(n, len(task_ids)))


def group_by_task(trajs: list[Trajectory], group_size: int) -> list[list[Trajectory]]:
    return [trajs[i:i + group_size] for i in range(0, len(trajs), group_size)]


class Trainer:
    """One run's parts, joined by declared interfaces; :func:`train` drives it.

    Set-up, in order (each step fails fast with the reason):

    1. the train split's tasks (``envs.registry.task_set``) and the credit method (``config.credit``
       with ``credit_kwargs``; a :class:`trainers.credit.base.CreditMethod`);
    2. the :class:`trainers.learner.Learner` (model, LoRA, optimizer; every RL-side logprob at the
       sampling temperature; a KL reference when ``loss.kl_coef > 0``);
    3. the :class:`trainers.backends.RolloutBackend` (``policy`` + ``sync``: in-process HF or vLLM,
       both with ``max_model_len`` of context; starting a vLLM server raises if it does not come up);
    4. SPA's progress estimator when the method ``needs`` progress.

    Per step (:meth:`step`): :meth:`collect` (raises :class:`RolloutFailure` when more than half of
    the episodes failed on infrastructure), a policy-version check, signals and credit, the update,
    :meth:`push_weights` (raises :class:`trainers.sync.SyncError` when a push fails or times out,
    :class:`trainers.sync.SyncMismatch` when the sampler's logprobs differ from the learner's).
    """

    def __init__(self, config: TrainConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console()
        self.run_dir = Path(config.out_dir)
        self.env_kwargs, self.tasks = env_setup(config)
        self.train_ids = list(self.tasks.ids(config.train_split))
        # kwargs completed from the env where a method reads it (IGPO: the env's answer-call probe template)
        self.credit: CreditMethod = get_credit(config.credit, **env_credit_kwargs(config.credit, config.env, config.credit_kwargs))
        # every RL-side logprob is log π_T of the sampling temperature; the lr schedule counts RL steps
        # (learner.ranks > 1: the same interface over FSDP2 rank processes, trainers.distributed)
        self.learner = make_learner(config.model, ranks=config.learner.ranks, device=config.device, dtype=config.dtype,
                                    lora=config.lora, optim=config.optim, ref_model=config.loss.kl_coef > 0, seed=config.seed,
                                    total_steps=config.steps, temperature=config.sampling.temperature,
                                    updates_per_step=config.updates_per_batch,
                                    activation_checkpointing=config.activation_checkpointing)
        self.max_model_len = config.max_model_len or model_context(self.learner.model)
        self.backend: RolloutBackend = rollout_backend(config, self.learner, max_model_len=self.max_model_len,
                                                       run_dir=self.run_dir, console=self.console)
        self.policy, self.sync = self.backend.policy, self.backend.sync
        # answer probes score on the learner's module: the policy's own (HF) or, after a checked push, the
        # server's weights (vLLM), at any temperature; None scores through policy.score_answers (T = 1)
        self.probe_model = self.learner.model
        self._check_ids: list[int] | None = None
        self.last_sync_diff: float | None = None
        # SPA: a snapshot in the learner's compute dtype (bf16 under CUDA autocast, else its weights')
        compute = "bfloat16" if self.learner.autocast else (config.dtype or "float32")
        self.estimator = ProgressEstimator(self.learner.model, pad_id=self.learner.pad_id, seed=config.seed, dtype=compute) \
            if "progress" in self.credit.needs else None

    def rollout(self, episodes: list[Episode], sampling=None, on_done=None) -> list[Trajectory]:
        cfg = self.config
        return self.backend.play(lambda: make(cfg.env, split=cfg.train_split, tasks=self.tasks, **self.env_kwargs),
                                 episodes, sampling or cfg.sampling, on_done=on_done, env_id=cfg.env)

    def evaluate(self, split: str, n: int | None, out: Path | None = None) -> dict[str, Any]:
        cfg = self.config
        sampling = SamplingParams(temperature=cfg.eval_temperature, max_tokens=cfg.sampling.max_tokens)
        return evaluate(self.policy, cfg.env, split, n, sampling=sampling, seed=cfg.seed, env_kwargs=self.env_kwargs, out=out)

    # -- one RL step ------------------------------------------------------------------------
    def collect(self, step: int, progress=None) -> Collected:
        """The step's groups with their credit.  Rounds of ``tasks_per_step`` tasks × G episodes; with
        ``dynamic_sampling``, a group is dropped when the credit method gives every turn of it a zero
        advantage (it would add no gradient; a turn-level method can find signal where outcomes tie)
        and tasks not drawn yet are drawn, up to ``MAX_REFILLS`` more rounds.  ``stats`` counts failed
        episodes and dropped groups, and gives reward and success over every episode drawn (``drawn_*``)
        beside those kept for the update (the row's ``reward``/``success``: biased toward 0.5)."""
        cfg = self.config
        out = Collected()
        stats = out.stats
        drawn: set[str] = set()
        played: list[Trajectory] = []
        for round_ in range(1 + (MAX_REFILLS if cfg.dynamic_sampling else 0)):
            need = cfg.tasks_per_step - len(out.groups)
            if need <= 0:
                break
            # a refill draws tasks not drawn yet this step (one group per task: the viewer groups a step's file by task)
            chosen = draw_tasks([t for t in self.train_ids if t not in drawn] or self.train_ids, cfg, step, round_, need)
            drawn.update(chosen)
            episodes = [Episode(task_id=t, seed=episode_seed(cfg, step, 100 * round_ + k), sample=j)
                        for k, t in enumerate(chosen) for j in range(cfg.group_size)]
            t0 = time.perf_counter()
            trajs = self.rollout(episodes, on_done=progress)
            stats["episodes"] += len(trajs)
            failed = sum(t.failed for t in trajs)
            if failed * 2 > len(trajs):  # training on the rest would be biased toward what did not break
                errors = sorted({t.error or "" for t in trajs if t.failed})[:3]
                raise RolloutFailure(f"step {step}: {failed} of {len(trajs)} episodes failed on infrastructure "
                                     f"(more than half); first errors: {errors}")
            groups = []
            for group in group_by_task(trajs, cfg.group_size):
                ok, bad = drop_failed(group)
                good = [t for t in ok if t.turns]  # an episode whose first prompt filled the context has nothing to train
                stats["failed"] += len(bad)
                played += good
                stats["sampled_tokens"] += sum(len(tk.token_ids or []) for t in good for tk in t.turns)
                if good:
                    groups.append(good)
            self.check_policy_version(groups)
            t1 = time.perf_counter()
            if self.estimator is not None:  # SPA: the estimator sees every rollout, refits once per step
                self.estimator.observe([t for g in groups for t in g])
                if round_ == 0:
                    out.fit_metrics = self.estimator.maybe_refit(step) or {}
            advantages, signals = self.credit_step(groups) if groups else ([], [])
            out.seconds["rollout"] += t1 - t0
            out.seconds["credit"] += time.perf_counter() - t1
            for group, adv, sig in zip(groups, advantages, signals):
                if cfg.dynamic_sampling and all(abs(a) <= ZERO_ADVANTAGE for row in adv for a in row):
                    stats["groups_dropped"] += 1
                    continue
                out.groups.append(group)
                out.advantages.append(adv)
                out.signals.append(sig)
        stats["drawn_reward"] = mean_std(returns(played))[0]
        stats["drawn_success"] = mean_std([float(t.success) for t in played])[0]
        stats.update({f"env/{k}": v for k, v in env_metrics(cfg.env, played).items()})  # the family's own, over drawn episodes
        return out

    def credit_step(self, groups: list[list[Trajectory]]) -> tuple[list[list[list[float]]], list[Signals | None]]:
        """Per group: the per-turn advantages, and the signals they were computed from (None: the method needs none)."""
        signals: list[Signals | None] = [None] * len(groups)
        if self.credit.needs:
            signals = compute_signals_many(self.credit.needs, groups, policy=self.policy, learner=self.learner, estimator=self.estimator,
                                           probe_template=self.credit.probe_template,
                                           temperature=self.learner.temperature, probe_model=self.probe_model)
        return [self.credit.assign(g, s) for g, s in zip(groups, signals)], signals

    def step(self, step: int, progress=None) -> dict[str, Any]:
        cfg = self.config
        got = self.collect(step, progress)
        groups, advantages, signals, stats = got.groups, got.advantages, got.signals, got.stats
        t2 = time.perf_counter()
        trajs = [t for g in groups for t in g]
        flat_adv = [a for g in advantages for a in g]
        learner_metrics: dict[str, float] = {}
        if trajs:
            batch = build_batch(trajs, flat_adv, self.learner.pad_id, getattr(self.learner, "vision", None))
            for _ in range(cfg.updates_per_batch):
                learner_metrics = self.learner.step(batch, cfg.loss, cfg.micro_batch, entropy=cfg.log_entropy)
        t3 = time.perf_counter()
        self.push_weights()
        t4 = time.perf_counter()
        write_step_rollouts(self.run_dir, step, groups, {self.credit.name: advantages}, signals)
        t5 = time.perf_counter()
        outcomes = returns(trajs)
        token_adv = [a for adv in flat_adv for a in adv]
        adv_mean, adv_std = mean_std(token_adv)
        row = {
            "reward": mean_std(outcomes)[0], "success": mean_std([float(t.success) for t in trajs])[0],
            "turns": mean_std([len(t.turns) for t in trajs])[0], "groups": len(groups), **stats,
            "adv_mean": adv_mean, "adv_std": adv_std, "adv_nonzero": sum(abs(a) > ZERO_ADVANTAGE for a in token_adv) / max(1, len(token_adv)),
            "policy_version": int(self.policy.policy_version),
            "time/rollout": got.seconds["rollout"], "time/credit": got.seconds["credit"], "time/train": t3 - t2,
            "time/sync": t4 - t3, "time/save_rollouts": t5 - t4,
            "rollout_tokens_per_s": stats["sampled_tokens"] / max(got.seconds["rollout"], 1e-9),
            **{k: v for k, v in learner_metrics.items() if isinstance(v, (int, float))}, **got.fit_metrics,
        }
        row.update(self.backend.take_stats())
        if "tokens" in learner_metrics:
            row["train_tokens_per_s"] = learner_metrics.get("seq_tokens", 0.0) * cfg.updates_per_batch / max(t3 - t2, 1e-9)
        return row

    # -- weight sync, checked -----------------------------------------------------------------
    def push_weights(self) -> None:
        """Push the learner's weights to the sampler; with ``sync_check``, prove it: a fixed sequence
        scored on the serving side equals the learner's logprobs (T = 1) within the dtype's tolerance."""
        self.sync.push(self.learner.model)
        if not self.config.sync_check:
            return
        if self._check_ids is None:
            self._check_ids = check_ids(self.policy.renderer)
        ids = self._check_ids
        expected = model_logprobs(self.learner.model, ids, torch.bfloat16 if self.learner.autocast else None)
        self.last_sync_diff = self.sync.check(expected, ids, sync_tolerance(self.config.dtype, self.learner.device))

    def check_policy_version(self, groups: list[list[Trajectory]]) -> None:
        """Every turn of a batch was sampled by the weights of the last push (``sync_check``)."""
        if self.config.sync_check:
            check_policy_versions((t for g in groups for t in g), int(self.policy.policy_version))

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            self.learner.close()


def train(config: TrainConfig, resume: bool = False, console: Console | None = None) -> Path:
    """Run SFT (if configured) and RL per ``config``; returns the run folder."""
    from trainers.checkpoint import complete_steps, load_latest, save_checkpoint
    from trainers.step_progress import StepProgress

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
                fit = run_sft(trainer, console)
                trainer.learner.reset_optimizer(config.optim, total_steps=config.steps, updates_per_step=config.updates_per_batch)
                trainer.push_weights()
                res = trainer.evaluate(config.test_split, config.test_tasks, run_dir / "eval_sft")
                console.print(f"after SFT: {config.test_split} success {res['success_rate']:.3f}")
                warning = cannot_copy_warning(fit["token_accuracy"], res["success_rate"], res["episodes"])
                if warning:
                    console.print(f"[yellow]warning:[/] {warning}")
            # the KL reference is the model RL starts from (after SFT), kept beside the checkpoints for a resume
            trainer.learner.freeze_reference()
            save_reference(run_dir, trainer.learner)
            start = 0
            if config.eval_every:  # the curve's first point: held-out success before any RL step
                res = trainer.evaluate(config.eval_split, config.eval_tasks)
                metrics.log(0, {"episodes": 0, **_val_row(res)})
            save_checkpoint(run_dir, 0, RunState(trainer), _extra(trainer))
        else:
            start = int(state["step"])
            load_reference(run_dir, trainer.learner)
            trainer.push_weights()  # a fresh vLLM server holds the base weights, not the checkpoint's
            trainer.policy.policy_version = int(state.get("policy_version", start))
            metrics.truncate(start)
            truncate_rollouts(run_dir, start)
            console.print(f"resumed from step {start} ({state['checkpoint']})")
        with StepProgress("RL steps", config.steps, console, completed=start) as bar:  # plain lines off a terminal
            for step in range(start + 1, config.steps + 1):
                row = trainer.step(step)
                if config.eval_every and step % config.eval_every == 0:
                    res = trainer.evaluate(config.eval_split, config.eval_tasks)
                    row.update(_val_row(res))
                metrics.log(step, row)
                bar.advance(info=f"reward {row['reward']:.2f} success {row['success']:.2f}"
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
    row = {f"val/{k}": v for k, v in results.items() if isinstance(v, (int, float))}
    return row | {f"val/{k}": v for k, v in results.get("env_metrics", {}).items()}


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
