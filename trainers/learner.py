"""``Learner``: a transformers causal LM (full fine-tune or peft LoRA) with AdamW, a warm-up schedule
and the policy update on a :class:`~trainers.batch.TokenBatch`.

* CPU: fp32.  CUDA with ``dtype=None``: fp32 master weights and AdamW state, forward/backward
  under bf16 autocast (pure bf16 weights would round away updates of lr ~1e-6); an explicit
  ``dtype`` loads the weights in it, without autocast.  The output head, log-softmax and losses
  are always fp32.
* Every RL-side logprob (π_θ, π_old, the KL reference, entropies) is log π_T of the **sampling
  temperature** ``temperature`` (logits / T), the distribution the sampler drew from and reports
  (vLLM's processed logprobs, ``HFPolicy``): see :mod:`trainers.logprobs`, which also keeps memory
  flat in V (the head runs only on sampled targets, in checkpointed chunks).  SFT scores T = 1.
* ``step(batch, loss_cfg, micro_batch)``: one optimizer step.  The batch is cut into micro-batches;
  each micro loss divides by the *whole* batch's normalizer (tokens for token-mean, sequences for
  the seq-mean modes), so the accumulated gradient equals the full-batch loss's gradient for every
  aggregation mode.  π_old is the model before the first update on a batch, without dropout: taken
  from the same forward pass (detached) when the model has no active dropout, else from a separate
  eval-mode pass; then kept on the batch for further updates (``updates_per_batch > 1``).
* The KL reference (``ref_model=True``) is the model RL starts from: the weights at construction
  until :meth:`freeze_reference` (the loop calls it after the SFT warm start).  Full fine-tune: a
  frozen copy; LoRA: the base with the adapter off until frozen, then a second, frozen adapter
  holding the adapter's weights at that moment.  :meth:`reference_state` /
  :meth:`load_reference_state` carry it across a resume.
* The lr schedule counts RL steps: with ``updates_per_step`` optimizer updates per RL step, warm-up
  and horizon are stretched by that factor, so ``warmup_steps``/``total_steps`` mean RL steps.
* ``activation_checkpointing``: decoder layers recompute their activations in the backward pass
  (transformers' gradient checkpointing): ~1/3 more compute, activation memory of one layer.
* ``sft_step(batch, micro_batch)``: mean negative log-likelihood of the sampled (assistant) tokens.
* A vision-language model gets each micro-batch's pixels; ``vision`` is what ``build_batch`` needs for images.
* ``save_weights(dir)``: a loadable transformers folder (LoRA merged into a copy) with the source
  model's tokenizer files, or ``merged=False``: the adapter alone.
* ``state_dict()`` / ``load_state_dict()``: trainable weights, optimizer (copied to the host
  first: no second copy on the device), scheduler, step count.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from agents.models import autocast, pick_device, resolve_model
from trainers.batch import TokenBatch
from trainers.logprobs import effective_temperature, token_logprobs
from trainers.losses import aggregate, kl_penalty, normalizer, policy_loss

if TYPE_CHECKING:
    from trainers.config import LoraConfig, LossConfig, OptimConfig

REFERENCE_ADAPTER = "reference"  # LoRA: the frozen adapter of the KL reference (see freeze_reference)
_DROPOUT_KEYS = ("attention_dropout", "hidden_dropout", "dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop",
                 "hidden_dropout_prob", "attention_probs_dropout_prob")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "config.json")


def lr_lambda(warmup_steps: int, schedule: str, total_steps: int | None):
    """Multiplier of the base lr after ``s`` scheduler steps: linear warm-up from 1/warmup, then the schedule."""
    if schedule != "constant" and total_steps is None:
        raise ValueError(f"schedule {schedule!r} needs total_steps")

    def factor(s: int) -> float:  # s counts scheduler steps (optimizer updates)
        if s < warmup_steps:
            return (s + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (s - warmup_steps) / max(1, total_steps - warmup_steps))
        return 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def host_copy(obj):
    """A copy of ``obj`` (tensors, dicts, lists, tuples of them) with every tensor on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: host_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(host_copy(v) for v in obj)
    return copy.copy(obj)


class Learner:
    def __init__(self, model: str | os.PathLike, *, device: str = "auto", dtype: str | None = None,
                 lora: LoraConfig | None = None, optim: OptimConfig | None = None, ref_model: bool = False,
                 seed: int = 0, total_steps: int | None = None, temperature: float | None = 1.0,
                 updates_per_step: int = 1, activation_checkpointing: bool = False):
        from agents.vision import VisionProcessor, is_vision_model, model_class
        from trainers.config import OptimConfig

        torch.manual_seed(seed)
        self.model_dir = resolve_model(model)
        self.device = pick_device(device)
        self.dtype = getattr(torch, dtype) if dtype else torch.float32
        self.autocast = dtype is None and self.device.startswith("cuda")  # bf16 compute, fp32 master weights
        self.temperature = effective_temperature(temperature)
        base = model_class(self.model_dir).from_pretrained(self.model_dir, dtype=self.dtype).to(self.device)
        self.vision = VisionProcessor(self.model_dir) if is_vision_model(self.model_dir) else None  # build_batch's
        self.lora = lora
        if lora is not None:
            from peft import LoraConfig as PeftLora
            from peft import get_peft_model

            base = get_peft_model(base, PeftLora(
                r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, task_type="CAUSAL_LM",
                target_modules=lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules),
            ))
        if activation_checkpointing:  # each decoder layer's activations recomputed in backward, not kept
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model = base
        self.model.eval()  # no dropout in rollouts that share this module; step() switches to train mode
        self._ref = None
        self.has_ref = ref_model
        if ref_model and lora is None:
            self._ref = copy.deepcopy(self.model).eval().requires_grad_(False)
        cfg = self.model.config
        pad = getattr(cfg, "pad_token_id", None)
        eos = getattr(cfg, "eos_token_id", None)
        self.pad_id = int(pad if pad is not None else (eos[0] if isinstance(eos, list) else eos or 0))
        self.total_steps = total_steps
        self.updates_per_step = updates_per_step
        self.reset_optimizer(optim or OptimConfig())

    # -- optimizer -----------------------------------------------------------------------------
    def reset_optimizer(self, optim: OptimConfig, total_steps: int | None = None, updates_per_step: int | None = None) -> None:
        """A fresh AdamW + schedule (e.g. between the SFT warm start and RL); steps count RL steps of
        ``updates_per_step`` updates each (SFT: 1)."""
        self.optim_cfg = optim
        if total_steps is not None:
            self.total_steps = total_steps
        if updates_per_step is not None:
            self.updates_per_step = updates_per_step
        u = self.updates_per_step
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps,
                                           weight_decay=optim.weight_decay, foreach=True)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(
            optim.warmup_steps * u, optim.schedule, None if self.total_steps is None else self.total_steps * u))
        self.steps_done = 0

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def num_parameters(self, trainable: bool = False) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad or not trainable)

    # -- forward passes ------------------------------------------------------------------------
    def _autocast(self):
        return autocast(self.device, torch.bfloat16 if self.autocast else None)

    def _dropout_free(self) -> bool:
        """True when train mode computes exactly what eval mode does (no dropout module or config rate > 0)."""
        cfg = self.model.config
        if any(float(getattr(cfg, k, 0.0) or 0.0) > 0 for k in _DROPOUT_KEYS):
            return False
        return not any((isinstance(m, torch.nn.Dropout) and m.p > 0) or float(getattr(m, "attention_dropout", 0.0) or 0.0) > 0
                       for m in self.model.modules())

    def _forward(self, mb: TokenBatch, *, select: torch.Tensor | None, temperature: float, stats: bool = False,
                 model=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        with self._autocast():
            return token_logprobs(model or self.model, mb.input_ids.to(self.device), mb.attention_mask.to(self.device),
                                  None if select is None else select.to(self.device), temperature, stats=stats,
                                  suppress=self.vision.suppress_ids if self.vision else None, **mb.model_inputs(self.device))

    def token_logprobs(self, batch: TokenBatch, grad: bool = False, *, micro_batch: int | None = None,
                       entropy: bool = False, sampled_only: bool = False,
                       temperature: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-target log π_T ``[B, L-1]`` (every target, or only sampled ones with ``sampled_only``; 0
        elsewhere) and, when asked, entropies on sampled targets; on CPU.  ``temperature`` defaults to
        the learner's sampling temperature."""
        temp = self.temperature if temperature is None else effective_temperature(temperature)
        logp = torch.zeros(batch.loss_mask.shape, dtype=torch.float32)
        ent = torch.zeros_like(logp) if entropy else None
        with torch.set_grad_enabled(grad):
            for mb in batch.micro_batches(micro_batch or batch.size):
                sampled = mb.loss_mask > 0
                lp, st = self._forward(mb, select=sampled if sampled_only else None, temperature=temp, stats=entropy)
                logp[mb.rows, : lp.shape[1]] = lp.float().cpu() if grad else lp.detach().float().cpu()
                if entropy:  # reported on sampled targets only
                    ent[mb.rows, : st.shape[1]] = (st[..., 0] * sampled.to(st.device)).float().cpu()
        return logp, ent

    def _ref_logprobs(self, mb: TokenBatch, select: torch.Tensor) -> torch.Tensor:
        """The reference's log π_T, without dropout (LoRA shares the policy's module, in train mode here)."""
        with torch.no_grad():
            if self._ref is not None:
                return self._forward(mb, select=select, temperature=self.temperature, model=self._ref)[0]
            training = self.model.training
            self.model.eval()
            try:
                if REFERENCE_ADAPTER in getattr(self.model, "peft_config", {}):
                    self.model.set_adapter(REFERENCE_ADAPTER)
                    try:
                        return self._forward(mb, select=select, temperature=self.temperature)[0]
                    finally:
                        self._activate_policy_adapter()
                with self.model.disable_adapter():  # LoRA before freeze_reference: the base model is the reference
                    return self._forward(mb, select=select, temperature=self.temperature)[0]
            finally:
                self.model.train(training)

    # -- the KL reference ----------------------------------------------------------------------
    def _activate_policy_adapter(self) -> None:
        self.model.set_adapter("default")  # peft marks the active adapter trainable and the others frozen
        for name, p in self.model.named_parameters():
            if f".{REFERENCE_ADAPTER}." in name:
                p.requires_grad_(False)

    def freeze_reference(self) -> None:
        """Make the current weights the KL reference (no-op without ``ref_model``): the model RL starts from."""
        if not self.has_ref:
            return
        if self.lora is None:
            self._ref.load_state_dict(self.model.state_dict())
            return
        from peft import get_peft_model_state_dict

        self.load_reference_state({"adapter": get_peft_model_state_dict(self.model, adapter_name="default")})

    def reference_state(self) -> dict | None:
        """What :meth:`load_reference_state` needs to rebuild the reference (None: no reference, or LoRA's base)."""
        if self._ref is not None:
            return {"model": host_copy(self._ref.state_dict())}
        if self.lora is not None and REFERENCE_ADAPTER in getattr(self.model, "peft_config", {}):
            from peft import get_peft_model_state_dict

            return {"adapter": host_copy(get_peft_model_state_dict(self.model, adapter_name=REFERENCE_ADAPTER))}
        return None

    def load_reference_state(self, state: dict) -> None:
        if "model" in state:
            self._ref.load_state_dict(state["model"])
            return
        from peft import set_peft_model_state_dict

        if REFERENCE_ADAPTER not in self.model.peft_config:
            self.model.add_adapter(REFERENCE_ADAPTER, copy.deepcopy(self.model.peft_config["default"]))
        set_peft_model_state_dict(self.model, state["adapter"], adapter_name=REFERENCE_ADAPTER)
        self._activate_policy_adapter()

    # -- updates -------------------------------------------------------------------------------
    def _finish_step(self, t0: float, metrics: dict[str, float]) -> dict[str, float]:
        params = [p for p in self.model.parameters() if p.requires_grad]
        clip = self.optim_cfg.grad_clip
        grad_norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
        metrics["lr"] = self.lr
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_done += 1
        metrics["grad_norm"] = float(grad_norm)
        metrics["update_seconds"] = time.perf_counter() - t0
        return metrics

    def step(self, batch: TokenBatch, loss_cfg: LossConfig, micro_batch: int, *, entropy: bool = True) -> dict[str, float]:
        """One policy-gradient optimizer step on ``batch``; returns metrics (token-weighted means)."""
        t0 = time.perf_counter()
        metrics = self.backward(batch, loss_cfg, micro_batch, entropy=entropy)
        if metrics.get("skipped"):
            return metrics
        return self._finish_step(t0, metrics)

    def backward(self, batch: TokenBatch, loss_cfg: LossConfig, micro_batch: int, *, entropy: bool = True,
                 norm: float | None = None) -> dict[str, float]:
        """Accumulate the policy loss's gradient over micro-batches (no optimizer step); the metrics.  ``norm``:
        the normalizer of the whole batch this one is a rank's share of (:mod:`trainers.distributed`); the
        passes then run even with nothing sampled here, so every rank joins every collective."""
        sampled = batch.num_sampled
        if sampled == 0 and norm is None:
            return {"skipped": 1.0, "tokens": 0.0}
        if loss_cfg.kl_coef > 0 and not self.has_ref:
            raise ValueError("loss.kl_coef > 0 needs a reference model: build the Learner with ref_model=True")
        if batch.old_logprobs is None and not self._dropout_free():  # π_old without dropout noise
            batch.old_logprobs = self.token_logprobs(batch, micro_batch=micro_batch, sampled_only=True)[0]
        first_update = batch.old_logprobs is None
        if first_update:
            batch.old_logprobs = torch.zeros(batch.loss_mask.shape, dtype=torch.float32)
        norm = normalizer(batch.loss_mask, loss_cfg.agg) if norm is None else norm
        sums: dict[str, float] = {}
        total_loss = kl_sum = ent_sum = 0.0
        self.model.train()
        try:
            for mb in batch.micro_batches(micro_batch, by_length=True):
                mask = mb.loss_mask.to(self.device)
                logp, st = self._forward(mb, select=mask > 0, temperature=self.temperature, stats=entropy)
                if first_update:  # π_old = the weights before this batch's first update: this very pass
                    old = logp.detach()
                    batch.old_logprobs[mb.rows, : old.shape[1]] = old.float().cpu()
                else:
                    old = mb.old_logprobs.to(self.device)
                rollout = mb.rollout_logprobs.to(self.device) if mb.rollout_logprobs is not None else None
                loss, m = policy_loss(
                    logp, old, mb.advantages.to(self.device), mask, clip_low=loss_cfg.clip_low,
                    clip_high=loss_cfg.clip_high, dual_clip=loss_cfg.dual_clip, agg=loss_cfg.agg,
                    agg_constant=loss_cfg.agg_constant, rollout_logp=rollout, tis_cap=loss_cfg.tis_cap, norm=norm,
                )
                if loss_cfg.kl_coef > 0:
                    kl = kl_penalty(logp, self._ref_logprobs(mb, mask > 0), loss_cfg.kl_estimator)
                    loss = loss + loss_cfg.kl_coef * aggregate(kl, mask, loss_cfg.agg, loss_cfg.agg_constant, norm)
                    kl_sum += float((kl.detach() * mask).sum())
                loss.backward()
                total_loss += float(loss.detach())
                n = float(mask.sum())
                for k, v in m.items():
                    sums[k] = sums.get(k, 0.0) + v * n
                if st is not None:
                    ent_sum += float((st[..., 0] * mask).sum())
        finally:
            self.model.eval()
        per = max(sampled, 1)
        metrics = {k: v / per for k, v in sums.items()}
        metrics.update(loss=total_loss, tokens=float(sampled), seq_tokens=float(batch.num_tokens))
        if entropy:
            metrics["entropy"] = ent_sum / per
        if loss_cfg.kl_coef > 0:
            metrics["kl_ref"] = kl_sum / per
        return metrics

    def sft_step(self, batch: TokenBatch, micro_batch: int, *, norm: float | None = None) -> dict[str, float]:
        """One supervised step: token-mean NLL (T = 1) of the sampled tokens, weighted by ``batch.advantages``
        (``norm``: as in :meth:`backward`)."""
        t0 = time.perf_counter()
        sampled = batch.num_sampled
        if sampled == 0 and norm is None:
            return {"skipped": 1.0, "tokens": 0.0}
        total = correct = 0.0
        self.model.train()
        try:
            for mb in batch.micro_batches(micro_batch, by_length=True):
                mask = mb.loss_mask.to(self.device)
                logp, st = self._forward(mb, select=mask > 0, temperature=1.0, stats=True)
                loss = aggregate(-logp * mb.advantages.to(self.device), mask, "token-mean", norm=norm or sampled)
                loss.backward()
                total += float(loss.detach())
                correct += float((st[..., 1] * mask).sum())
        finally:
            self.model.eval()
        metrics = {"loss": total, "token_accuracy": correct / max(sampled, 1), "tokens": float(sampled),
                   "seq_tokens": float(batch.num_tokens)}
        return self._finish_step(t0, metrics)

    # -- weights and state ---------------------------------------------------------------------
    def save_weights(self, out_dir: str | os.PathLike, *, merged: bool = True, tokenizer: bool = True) -> Path:
        """Write the current weights as a transformers folder (LoRA: merged into a copy, or the adapter alone)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        if self.lora is not None and merged:
            full = copy.deepcopy(self.model)
            if REFERENCE_ADAPTER in full.peft_config:
                full.delete_adapter(REFERENCE_ADAPTER)
            full = full.merge_and_unload()
            full.save_pretrained(out, safe_serialization=True)
            del full
        elif self.lora is not None:  # the policy's adapter only, not the frozen reference
            self.model.save_pretrained(out, safe_serialization=True, selected_adapters=["default"])
        else:
            self.model.save_pretrained(out, safe_serialization=True)
        if tokenizer:
            for src in self.model_dir.iterdir():
                if src.is_file() and src.name not in _WEIGHT_FILES and not src.name.endswith(".safetensors") \
                        and not (out / src.name).exists():
                    shutil.copy2(src, out / src.name)
        return out

    def close(self) -> None:
        """Nothing to release in one process (the interface :class:`trainers.distributed.DistributedLearner` shares)."""

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        if self.lora is not None:
            from peft import get_peft_model_state_dict

            return get_peft_model_state_dict(self.model)
        return self.model.state_dict()

    def state_dict(self) -> dict:
        """A snapshot (copies, not views: later steps do not change it)."""
        return {
            "model": {k: v.detach().to("cpu", copy=True) for k, v in self._trainable_state().items()},
            "optimizer": host_copy(self.optimizer.state_dict()),  # to the host first: no device-side deep copy
            "scheduler": self.scheduler.state_dict(),
            "steps_done": self.steps_done,
        }

    def load_state_dict(self, state: dict) -> None:
        if self.lora is not None:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(self.model, state["model"])
        else:
            self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.steps_done = int(state["steps_done"])
