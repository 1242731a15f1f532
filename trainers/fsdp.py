"""The rank side of :mod:`trainers.distributed`: one learner process of an FSDP2 group.

* :func:`rank_share`: rank ``r`` takes rows ``[r·R, (r+1)·R)`` of a batch (R = ⌈B / ranks⌉), padded
  with inert rows (two attended pad tokens, nothing sampled) to R, so every rank runs the same
  number of micro-batches and so joins the same collectives.
* :class:`RankLearner`: a normal :class:`~trainers.learner.Learner` whose model is sharded with
  ``fully_shard`` (every decoder layer, then a root, :class:`_Scorer`, that runs
  :func:`trainers.logprobs.token_logprobs` in one hooked call: the embeddings and the head are
  gathered once per micro-batch however many head chunks run).  Its loss is the Learner's own,
  divided by the whole batch's normalizer (``Learner.backward(norm=...)``); FSDP reduce-scatters
  the gradients as a plain sum (divide factor 1), so the update is the single-process one.
  State dicts are full (every shard gathered) and in the single-process format.
* :func:`serve_rank`: a rank process's command loop (messages pickled by value: :func:`send_msg`).
"""

from __future__ import annotations

import math
import os
import pickle
import time
import traceback
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import torch

from trainers.batch import TokenBatch
from trainers.learner import Learner
from trainers.logprobs import token_logprobs
from trainers.losses import normalizer

if TYPE_CHECKING:
    from trainers.config import LossConfig, OptimConfig

_SUMMED = ("loss",)  # reduced by sum; lr, grad_norm, update_seconds are global already; the rest: token means
_GLOBAL = ("lr", "grad_norm", "update_seconds", "tokens", "seq_tokens", "skipped")


# -- the batch split ----------------------------------------------------------------------------
def rank_rows(size: int, ranks: int, rank: int) -> range:
    per = math.ceil(size / ranks)
    return range(min(rank * per, size), min((rank + 1) * per, size))


def rank_share(batch: TokenBatch, ranks: int, rank: int, pad_id: int) -> tuple[TokenBatch, range]:
    """Rank ``rank``'s rows of ``batch`` (trimmed to their longest), padded with inert rows to ⌈B / ranks⌉."""
    rows = rank_rows(batch.size, ranks, rank)
    per = math.ceil(batch.size / ranks)
    part = batch.select(torch.tensor(list(rows), dtype=torch.long)) if len(rows) else None
    missing = per - len(rows)
    if not missing:
        return part, rows
    width = max(2, part.input_ids.shape[1] if part is not None else 2)
    pad = {"input_ids": torch.full((missing, width), pad_id, dtype=torch.long),
           "attention_mask": torch.zeros((missing, width), dtype=torch.long)}
    pad["attention_mask"][:, :2] = 1  # two attended tokens: a plain forward, nothing sampled
    out = {}
    for f in fields(TokenBatch):
        if f.name == "rows":
            continue
        value = getattr(part if part is not None else batch, f.name)
        if value is None:
            out[f.name] = None
            continue
        filler = pad.get(f.name, torch.zeros((missing, width - 1), dtype=value.dtype))
        if part is None:
            out[f.name] = filler
            continue
        if value.shape[1] < filler.shape[1]:
            value = torch.nn.functional.pad(value, (0, filler.shape[1] - value.shape[1]), value=pad_id if f.name == "input_ids" else 0)
        out[f.name] = torch.cat([value, filler])
    return TokenBatch(**out), rows


# -- the rank side ------------------------------------------------------------------------------
class _Scorer(torch.nn.Module):
    """The FSDP root: ``token_logprobs`` of its model in one hooked call.  A pass with nothing selected
    still scores one position (times 0): every parameter gets a gradient, every rank the same collectives."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.inner = model

    def forward(self, input_ids, attention_mask, select, temperature: float, stats: bool):
        empty = select is not None and not bool(select.any())
        if empty:
            select = torch.zeros_like(select, dtype=torch.bool)
            select[0, 0] = True
        logp, st = token_logprobs(self.inner, input_ids, attention_mask, select, temperature, stats=stats)
        if empty:
            logp = logp * 0.0
            st = None if st is None else st * 0.0
        return logp, st


def _shard(model: torch.nn.Module, mesh) -> _Scorer:
    from torch.distributed.fsdp import FSDPModule, fully_shard

    blocks = set(getattr(model, "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in blocks]
    if not layers:
        raise ValueError(f"{type(model).__name__} names no decoder layer class (_no_split_modules) to shard")
    for layer in layers:
        fully_shard(layer, mesh=mesh)
    root = fully_shard(_Scorer(model), mesh=mesh)
    for m in root.modules():
        if isinstance(m, FSDPModule):
            m.set_gradient_divide_factor(1.0)  # each rank's loss already divides by the whole batch's normalizer
            m.set_force_sum_reduction_for_comms(True)  # a plain sum (gloo has no PREMUL_SUM)
            m.set_reduce_scatter_unused_params(True)
    return root


class RankLearner(Learner):
    """A ``Learner`` whose model (and full fine-tune reference) is sharded over the process group."""

    def __init__(self, model: str | os.PathLike, *, rank: int, ranks: int, **kwargs: Any):
        from torch.distributed.device_mesh import init_device_mesh

        super().__init__(model, **kwargs)
        self.rank, self.ranks = rank, ranks
        mesh = init_device_mesh(self.device.split(":")[0], (ranks,))
        self.scorer = _shard(self.model, mesh)
        self.ref_scorer = _shard(self._ref, mesh) if self._ref is not None else None
        self.reset_optimizer(self.optim_cfg)  # over the sharded parameters

    def _forward(self, mb: TokenBatch, *, select, temperature: float, stats: bool = False, model=None):
        scorer = self.ref_scorer if model is not None else self.scorer
        with self._autocast():
            return scorer(mb.input_ids.to(self.device), mb.attention_mask.to(self.device),
                          None if select is None else select.to(self.device), temperature, stats)

    def resharded(self) -> None:
        """Every parameter back to its shard.  The FSDP root keeps its own gathered after a forward, and what
        reads ``self.model`` (state dicts, a new optimizer) does not pass through the root's hooks."""
        for scorer in (self.scorer, self.ref_scorer):
            if scorer is not None:
                scorer.reshard()

    def _reduce(self, metrics: dict[str, float], tokens: float) -> dict[str, float]:
        import torch.distributed as dist

        keys = sorted(k for k in metrics if k not in _GLOBAL)
        local = float(metrics.get("tokens", 0.0))
        vals = torch.tensor([metrics[k] * (1.0 if k in _SUMMED else local) for k in keys], dtype=torch.float64,
                            device=self.device)
        dist.all_reduce(vals)
        out = dict(metrics)
        out.update({k: float(v) / (1.0 if k in _SUMMED else max(tokens, 1.0)) for k, v in zip(keys, vals.tolist())})
        return out

    # commands (every rank runs each, in the same order)
    def cmd_step(self, batch: TokenBatch, loss_cfg: LossConfig, micro_batch: int, entropy: bool, sft: bool = False):
        part, rows = rank_share(batch, self.ranks, self.rank, self.pad_id)
        fill = part.old_logprobs is None
        t0 = time.perf_counter()
        if sft:
            metrics = self.sft_step(part, micro_batch, norm=float(batch.num_sampled))
        else:
            metrics = self._finish_step(t0, self.backward(part, loss_cfg, micro_batch, entropy=entropy,
                                                          norm=normalizer(batch.loss_mask, loss_cfg.agg)))
        metrics = self._reduce(metrics, float(batch.num_sampled))
        old = part.old_logprobs[: len(rows)] if fill and not sft else None
        return {"metrics": metrics, "rows": rows, "old": old, "lr": self.lr, "steps_done": self.steps_done}

    def cmd_token_logprobs(self, batch: TokenBatch, kwargs: dict[str, Any]):
        part, rows = rank_share(batch, self.ranks, self.rank, self.pad_id)
        logp, ent = self.token_logprobs(part, **kwargs)
        return rows, logp[: len(rows)], None if ent is None else ent[: len(rows)]

    def cmd_reset_optimizer(self, optim: OptimConfig, total_steps, updates_per_step):
        self.reset_optimizer(optim, total_steps, updates_per_step)
        return {"lr": self.lr, "steps_done": self.steps_done}

    def cmd_weights(self) -> dict[str, torch.Tensor] | None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        sd = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return sd if self.rank == 0 else None

    def cmd_state_dict(self) -> dict | None:
        from torch.distributed.tensor import DTensor

        def full(v):
            return v.full_tensor().cpu() if isinstance(v, DTensor) else v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v

        opt = self.optimizer.state_dict()  # keyed by parameter index, as in one process; values are shards
        opt = {"state": {i: {k: full(v) for k, v in s.items()} for i, s in opt["state"].items()},
               "param_groups": opt["param_groups"]}
        state = {"model": self.cmd_weights(), "optimizer": opt, "scheduler": self.scheduler.state_dict(),
                 "steps_done": self.steps_done}
        return state if self.rank == 0 else None

    def cmd_load_state_dict(self, state: dict):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
        from torch.distributed.tensor import DTensor, distribute_tensor

        set_model_state_dict(self.model, state["model"], options=StateDictOptions(full_state_dict=True))
        params = [p for p in self.model.parameters() if p.requires_grad]
        opt = state["optimizer"]
        for i, s in opt["state"].items():
            p = params[int(i)]
            for k, v in s.items():
                if isinstance(p, DTensor) and isinstance(v, torch.Tensor) and v.shape == p.shape:  # this rank's shard, a copy
                    local = distribute_tensor(v.to(p.device), p.device_mesh, p.placements, src_data_rank=None).to_local()
                    s[k] = DTensor.from_local(local.clone(), p.device_mesh, p.placements, shape=p.shape, stride=p.stride())
        self.optimizer.load_state_dict(opt)
        self.scheduler.load_state_dict(state["scheduler"])
        self.steps_done = int(state["steps_done"])
        return {"lr": self.lr, "steps_done": self.steps_done}

    def cmd_freeze_reference(self):
        if self._ref is not None:
            with torch.no_grad():
                for p, q in zip(self._ref.parameters(), self.model.parameters()):
                    p.copy_(q)

    def cmd_reference_state(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        if self._ref is None:
            return None
        sd = get_model_state_dict(self._ref, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return {"model": sd} if self.rank == 0 else None

    def cmd_load_reference_state(self, state: dict):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(self._ref, state["model"], options=StateDictOptions(full_state_dict=True))


def send_msg(conn, obj: Any) -> None:
    """By value (plain pickle): torch's pickler would share tensor memory between the processes, so that, e.g.,
    one optimizer step counter sent to two ranks would be stepped by both."""
    conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def recv_msg(conn) -> Any:
    return pickle.loads(conn.recv_bytes())


def serve_rank(rank: int, ranks: int, init_method: str, learner_kwargs: dict[str, Any], conn) -> None:
    """A rank process: join the group, build a :class:`RankLearner`, run the driver's commands until ``close``."""
    import torch.distributed as dist

    try:
        device = learner_kwargs["device"]
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", init_method=init_method,
                                rank=rank, world_size=ranks)
        if device.startswith("cuda"):
            torch.cuda.set_device(device)
        worker = RankLearner(rank=rank, ranks=ranks, **learner_kwargs)
        send_msg(conn, ("ok", None))
        while True:
            name, kwargs = recv_msg(conn)
            if name == "close":
                break
            worker.resharded()
            result = getattr(worker, f"cmd_{name}")(**kwargs)
            kwargs = None  # a full state sent to load is not kept while waiting
            send_msg(conn, ("ok", result))
            result = None
    except BaseException:  # noqa: BLE001  (reported to the driver, which stops every rank)
        try:
            send_msg(conn, ("error", traceback.format_exc()))
        except (OSError, EOFError):
            pass
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        conn.close()
