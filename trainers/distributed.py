"""Learner ranks: the model sharded with FSDP2 (``torch.distributed.fsdp.fully_shard``) over
``torch.distributed`` (gloo on CPU, NCCL on GPU: one GPU per rank), driven from the loop's process.

:class:`DistributedLearner` has the :class:`~trainers.learner.Learner` interface the loop uses
(``step``, ``sft_step``, ``token_logprobs``, ``state_dict`` / ``load_state_dict``, ``save_weights``,
``model``, ``reset_optimizer``, the KL reference...).  It spawns ``ranks`` processes
(``torch.multiprocessing``, spawn; a ``file://`` rendezvous in a temp folder), each a
:class:`trainers.fsdp.RankLearner` serving the driver's commands; every command goes to every rank.

* ``step`` / ``sft_step``: each rank updates on its share of the batch's rows (:func:`trainers.fsdp.rank_share`)
  with the whole batch's normalizer; the update equals the single-process one.  Metrics are reduced
  over ranks (the loss summed, token means weighted by each rank's sampled tokens); π_old filled on
  a batch's first update comes back to the caller's batch, as with ``Learner``.
* ``state_dict()`` is the full, unsharded state in ``Learner.state_dict``'s format (weights by name,
  optimizer by parameter index), so the existing atomic checkpoint code writes it from the driver
  and a run resumes with any number of ranks, one process (``Learner``) included;
  ``load_state_dict`` shards a full state onto the ranks.
* ``model`` is a full-weight copy in the driver (a plain ``Learner``'s module, no optimizer state),
  refreshed from the ranks when read after an update: the weight sync, the in-process HF policy
  and the answer probes use it.
* A rank that fails or dies stops every rank, and the call raises with its traceback.

Not supported yet: LoRA (refused), ``token_logprobs(grad=True)``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from agents.models import pick_device
from trainers.batch import TokenBatch
from trainers.fsdp import recv_msg, send_msg, serve_rank
from trainers.learner import Learner

if TYPE_CHECKING:
    from trainers.config import LossConfig, OptimConfig


def distributed_available() -> str | None:
    """None when torch.distributed with gloo is usable here, else why not."""
    import torch.distributed as dist

    if not dist.is_available():
        return "torch.distributed is not available in this torch build"
    if not dist.is_gloo_available():
        return "torch.distributed has no gloo backend in this torch build"
    return None


# -- the driver ---------------------------------------------------------------------------------
class DistributedLearner:
    """``ranks`` FSDP2 learner processes behind the ``Learner`` interface (see the module docstring)."""

    def __init__(self, model: str | os.PathLike, *, ranks: int, device: str = "auto", dtype: str | None = None,
                 lora=None, optim: OptimConfig | None = None, ref_model: bool = False, seed: int = 0,
                 total_steps: int | None = None, temperature: float | None = 1.0, updates_per_step: int = 1,
                 activation_checkpointing: bool = False, timeout: float = 3600.0):
        import torch.multiprocessing as mp

        if lora is not None:
            raise NotImplementedError("learner.ranks > 1 with LoRA is not supported yet: use a full fine-tune or ranks: 1")
        if activation_checkpointing:
            raise NotImplementedError("learner.ranks > 1 with activation_checkpointing is not supported yet")
        why = distributed_available()
        if why:
            raise RuntimeError(why)
        kwargs = {"dtype": dtype, "optim": optim, "seed": seed, "total_steps": total_steps,
                  "temperature": temperature, "updates_per_step": updates_per_step}
        # the full-weight copy the loop reads as ``model``: no reference, no optimizer state until a step (never)
        self.local = Learner(model, device=device, **kwargs)
        self.ranks, self.timeout, self.has_ref, self.lora = ranks, timeout, ref_model, None
        self.model_dir, self.device, self.autocast = self.local.model_dir, self.local.device, self.local.autocast
        self.pad_id, self.temperature = self.local.pad_id, self.local.temperature
        self.optim_cfg, self.total_steps, self.updates_per_step = self.local.optim_cfg, total_steps, updates_per_step
        self._lr, self.steps_done, self._stale = self.local.lr, 0, False
        cuda = self.device.startswith("cuda")
        if cuda and torch.cuda.device_count() < ranks:
            raise RuntimeError(f"learner.ranks={ranks} but torch sees {torch.cuda.device_count()} GPUs")
        self._dir = tempfile.mkdtemp(prefix="turngym-ranks-")
        ctx = mp.get_context("spawn")
        self._conns, self._procs = [], []
        for r in range(ranks):
            ours, theirs = ctx.Pipe()
            rank_kwargs = {**kwargs, "model": str(self.model_dir), "ref_model": ref_model,
                           "device": f"cuda:{r}" if cuda else "cpu"}
            p = ctx.Process(target=serve_rank, args=(r, ranks, f"file://{self._dir}/store", rank_kwargs, theirs), daemon=True)
            p.start()
            theirs.close()
            self._conns.append(ours)
            self._procs.append(p)
        self._replies()

    # -- talking to the ranks ----------------------------------------------------------------
    def _replies(self) -> list[Any]:
        """Every rank's reply; the first failure (an error, a dead rank, the deadline) stops every rank and raises,
        so a rank left waiting in a collective for a failed one is not waited on."""
        from multiprocessing.connection import wait

        out: list[Any] = [None] * len(self._conns)
        pending, deadline = dict(enumerate(self._conns)), time.monotonic() + self.timeout
        while pending:
            ready = wait(list(pending.values()), timeout=1.0)
            for r in [r for r, c in pending.items() if c in ready]:
                try:
                    status, value = recv_msg(pending.pop(r))
                except (EOFError, OSError):
                    status, value = "error", "its pipe closed (the process died)"
                if status != "ok":
                    self.close(force=True)
                    raise RuntimeError(f"learner rank {r} failed:\n{value}")
                out[r] = value
            dead = [r for r in pending if not self._procs[r].is_alive()]
            if dead or time.monotonic() > deadline:
                self.close(force=True)
                raise RuntimeError(f"learner rank {dead[0]} died" if dead else f"learner ranks {sorted(pending)} timed out")
        return out

    def _call(self, name: str, **kwargs: Any) -> list[Any]:
        if not self._procs:
            raise RuntimeError("the learner ranks are closed")
        for r, conn in enumerate(self._conns):
            try:
                send_msg(conn, (name, kwargs))
            except OSError:
                self.close(force=True)
                raise RuntimeError(f"learner rank {r} died") from None
        return self._replies()

    def close(self, force: bool = False) -> None:
        """Stop the rank processes (safe to call twice)."""
        for conn, p in zip(self._conns, self._procs):
            if not force and p.is_alive():
                try:
                    send_msg(conn, ("close", {}))
                except OSError:
                    pass
        for p in self._procs:
            p.join(timeout=None if not force else 0.1)
            if p.is_alive():
                p.terminate()
                p.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DistributedLearner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the Learner interface -----------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self._lr

    @property
    def model(self) -> torch.nn.Module:
        """The full weights (refreshed from the ranks after an update)."""
        if self._stale:
            self.local.model.load_state_dict(self._call("weights")[0])
            self._stale = False
        return self.local.model

    def num_parameters(self, trainable: bool = False) -> int:
        return self.local.num_parameters(trainable)

    def _updated(self, reply: dict[str, Any]) -> None:
        self._lr, self.steps_done, self._stale = reply["lr"], reply["steps_done"], True

    def _update(self, batch: TokenBatch, loss_cfg, micro_batch: int, entropy: bool, sft: bool) -> dict[str, float]:
        if batch.num_sampled == 0:
            return {"skipped": 1.0, "tokens": 0.0}
        replies = self._call("step", batch=batch, loss_cfg=loss_cfg, micro_batch=micro_batch, entropy=entropy, sft=sft)
        if replies[0]["old"] is not None and batch.old_logprobs is None:  # π_old of the first update, for the next ones
            batch.old_logprobs = torch.zeros(batch.loss_mask.shape, dtype=torch.float32)
            for reply in replies:
                old, rows = reply["old"], list(reply["rows"])
                batch.old_logprobs[rows, : old.shape[1]] = old
        self._updated(replies[0])
        return {**replies[0]["metrics"], "tokens": float(batch.num_sampled), "seq_tokens": float(batch.num_tokens)}

    def step(self, batch: TokenBatch, loss_cfg: LossConfig, micro_batch: int, *, entropy: bool = True) -> dict[str, float]:
        return self._update(batch, loss_cfg, micro_batch, entropy, sft=False)

    def sft_step(self, batch: TokenBatch, micro_batch: int) -> dict[str, float]:
        return self._update(batch, None, micro_batch, False, sft=True)

    def token_logprobs(self, batch: TokenBatch, grad: bool = False, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if grad:
            raise NotImplementedError("token_logprobs(grad=True) runs on one process only (Learner)")
        logp = torch.zeros(batch.loss_mask.shape, dtype=torch.float32)
        ent = torch.zeros_like(logp) if kwargs.get("entropy") else None
        for rows, lp, en in self._call("token_logprobs", batch=batch, kwargs=kwargs):
            rows = list(rows)
            logp[rows, : lp.shape[1]] = lp
            if ent is not None:
                ent[rows, : en.shape[1]] = en
        return logp, ent

    def reset_optimizer(self, optim: OptimConfig, total_steps: int | None = None, updates_per_step: int | None = None) -> None:
        reply = self._call("reset_optimizer", optim=optim, total_steps=total_steps, updates_per_step=updates_per_step)[0]
        self.optim_cfg = optim
        self.total_steps = self.total_steps if total_steps is None else total_steps
        self.updates_per_step = self.updates_per_step if updates_per_step is None else updates_per_step
        self._lr, self.steps_done = reply["lr"], reply["steps_done"]

    def freeze_reference(self) -> None:
        if self.has_ref:
            self._call("freeze_reference")

    def reference_state(self) -> dict | None:
        return self._call("reference_state")[0]

    def load_reference_state(self, state: dict) -> None:
        self._call("load_reference_state", state=state)

    def state_dict(self) -> dict:
        """The full state in ``Learner.state_dict``'s format (loads into any number of ranks)."""
        return self._call("state_dict")[0]

    def load_state_dict(self, state: dict) -> None:
        self._updated(self._call("load_state_dict", state=state)[0])

    def save_weights(self, out_dir: str | os.PathLike, *, merged: bool = True, tokenizer: bool = True) -> Path:
        _ = self.model  # refresh the full copy
        return self.local.save_weights(out_dir, merged=merged, tokenizer=tokenizer)


def make_learner(model: str | os.PathLike, *, ranks: int = 1, **kwargs: Any) -> Learner | DistributedLearner:
    """``Learner`` for one rank (today's path, untouched), else a :class:`DistributedLearner`."""
    if ranks <= 1:
        return Learner(model, **kwargs)
    kwargs["device"] = pick_device(kwargs.get("device", "auto"))
    return DistributedLearner(model, ranks=ranks, **kwargs)
