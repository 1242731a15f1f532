"""SPA's progress estimator: the policy backbone plus a linear head, c_t per assistant turn.

c_t = w · h_t + b, with h_t the backbone's last hidden state at the *last token the policy
sampled in turn t* (after it has read everything before and its own action).  Fitted on
collected rollouts (successes and failures alike) with

    loss = mean over trajectories of (Σ_t c_t − R_final)²

every step weighted 1 (SPA-RL's official reward code gave step k the weight n − k − 1, so the
last step none: not copied).  The backbone is a snapshot of the policy model taken when the
estimator first fits (so after the SFT warm start even when the estimator is made before it);
``train_backbone=False`` (default) keeps it frozen and fits the head alone on cached features,
cheap on a CPU; ``True`` fine-tunes the snapshot as well.

Memory: the snapshot is kept in ``dtype``, the learner's compute dtype (bf16 for a learner that
computes under bf16 autocast on CUDA; its weights' dtype otherwise; None: the policy's weights'
dtype), without the output layer (the estimator never needs logits over the vocabulary).  Features
come from the decoder's last hidden state alone: no logits, no per-layer hidden states.  The head
and the fit stay fp32.

The loop feeds finished rollouts with :meth:`observe` (a bounded buffer of the newest ones) and
calls :meth:`maybe_refit` every step: it fits as soon as it has data, then every ``refit_every``
steps.  :meth:`state_dict` (head and backbone) goes into the run's checkpoint so a resumed run
keeps the same estimator.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


class ProgressEstimator:
    def __init__(self, model: torch.nn.Module, *, pad_id: int = 0, train_backbone: bool = False, lr: float = 1e-2,
                 epochs: int = 50, batch_size: int = 16, buffer_size: int = 512, refit_every: int = 5, seed: int = 0,
                 dtype: torch.dtype | str | None = None):
        if refit_every < 1 or epochs < 1 or batch_size < 1 or buffer_size < 1:
            raise ValueError("refit_every, epochs, batch_size and buffer_size must be >= 1")
        self._source = model
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.dtype: torch.dtype = dtype or next(model.parameters()).dtype  # the snapshot's
        self._backbone: torch.nn.Module | None = None  # snapshot taken at the first fit (the loop makes us before SFT)
        self.device = next(model.parameters()).device
        hidden = int(model.config.hidden_size)
        gen = torch.Generator().manual_seed(seed)
        self.head = torch.nn.Linear(hidden, 1).to(self.device)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(1, hidden, generator=gen) * 0.01)
            self.head.bias.zero_()
        self.pad_id, self.train_backbone, self.lr, self.epochs = pad_id, train_backbone, lr, epochs
        self.batch_size, self.refit_every, self.seed = batch_size, refit_every, seed
        self.buffer: deque[Trajectory] = deque(maxlen=buffer_size)
        self.fits = 0

    @property
    def backbone(self) -> torch.nn.Module:
        """The snapshot of the policy model, taken the first time it is needed (normally the first fit)."""
        if self._backbone is None:
            base = getattr(self._source, "get_base_model", None)  # a peft model: its underlying module
            source = base() if callable(base) else self._source
            # Each parameter is copied straight into the snapshot's dtype (no transient fp32 copy of the
            # model; tied weights stay tied; buffers such as RoPE's inv_freq keep theirs); the output
            # layer (V x hidden, never used here) is left out.
            head = source.get_output_embeddings() if hasattr(source, "get_output_embeddings") else None
            memo: dict[int, Any] = {id(head): torch.nn.Identity()} if head is not None else {}
            for module in source.modules():
                if module is not head:
                    for p in module._parameters.values():
                        if p is not None and id(p) not in memo:
                            memo[id(p)] = torch.nn.Parameter(p.detach().to(self.dtype, copy=True), requires_grad=False)
            self._backbone = copy.deepcopy(source, memo).eval()
            self._backbone.requires_grad_(self.train_backbone)
            self._source = None
        return self._backbone

    def _decoder(self) -> torch.nn.Module:
        """The backbone's transformer body: its output is the last hidden state, no logits."""
        model = self.backbone
        get = getattr(model, "get_decoder", None)
        decoder = get() if callable(get) else None
        return decoder if decoder is not None else model.base_model

    # -- features --------------------------------------------------------------------------
    def _hidden_at_turn_ends(self, trajs: Sequence[Trajectory]) -> list[torch.Tensor]:
        """For each trajectory, ``[T, hidden]``: the last hidden state at each turn's last sampled token."""
        seqs = [t.token_ids() for t in trajs]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        out = self._decoder()(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=False)
        hidden = out.last_hidden_state
        return [hidden[i, [max(e - 1, s) for s, e in t.turn_spans()]].float() for i, t in enumerate(trajs)]

    def _features(self, trajs: Sequence[Trajectory]) -> list[torch.Tensor]:
        feats: list[torch.Tensor] = []
        for i in range(0, len(trajs), self.batch_size):
            feats += self._hidden_at_turn_ends(trajs[i:i + self.batch_size])
        return feats

    # -- use -------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, group: Sequence[Trajectory]) -> list[list[float]]:
        """c_t for every turn of every trajectory of ``group``."""
        if not group:
            return []
        return [self.head(f).squeeze(-1).float().cpu().tolist() for f in self._features(group)]

    def observe(self, trajectories: Sequence[Trajectory]) -> None:
        """Keep finished, token-level, non-failed rollouts for the next fit."""
        self.buffer.extend(t for t in trajectories if not t.failed and t.turns and t.has_tokens)

    def maybe_refit(self, step: int) -> dict[str, float] | None:
        """Fit on the buffer the first time there is data, then every ``refit_every`` steps."""
        if not self.buffer or (self.fits and step % self.refit_every):
            return None
        return self.fit(list(self.buffer))

    def loss(self, trajs: Sequence[Trajectory]) -> float:
        with torch.no_grad():
            feats = self._features(trajs)
            return float(self._mse(feats, torch.tensor([t.outcome for t in trajs])))

    def _mse(self, feats: Sequence[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        # one head call over all turns, then Σ_t c_t per trajectory
        owner = torch.repeat_interleave(torch.arange(len(feats)), torch.tensor([len(f) for f in feats])).to(self.device)
        c = self.head(torch.cat(list(feats))).squeeze(-1)
        sums = torch.zeros(len(feats), device=self.device, dtype=c.dtype).index_add(0, owner, c)
        return ((sums.cpu() - targets) ** 2).mean()

    def fit(self, trajs: Sequence[Trajectory]) -> dict[str, float]:
        """Fit on ``trajs`` with MSE(Σ_t c_t, R_final); returns the loss before and after."""
        trajs = [t for t in trajs if not t.failed and t.turns]
        if not trajs:
            raise ValueError("no trajectories to fit the progress estimator on")
        targets = torch.tensor([t.outcome for t in trajs], dtype=torch.float32)
        params = list(self.head.parameters()) + ([p for p in self.backbone.parameters()] if self.train_backbone else [])
        opt = torch.optim.Adam(params, lr=self.lr)
        gen = torch.Generator().manual_seed(self.seed + self.fits)
        cached = None if self.train_backbone else [f.detach() for f in self._no_grad_features(trajs)]
        before = self.loss(trajs) if cached is None else float(self._mse(cached, targets).detach())
        self.backbone.train(self.train_backbone)
        for _ in range(self.epochs):
            order = torch.randperm(len(trajs), generator=gen).tolist()
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                feats = [cached[j] for j in idx] if cached is not None else self._hidden_at_turn_ends([trajs[j] for j in idx])
                loss = self._mse(feats, targets[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.backbone.eval()
        self.fits += 1
        after = self.loss(trajs) if cached is None else float(self._mse(cached, targets).detach())
        return {"progress/loss_before": before, "progress/loss_after": after, "progress/fit_trajectories": float(len(trajs))}

    @torch.no_grad()
    def _no_grad_features(self, trajs: Sequence[Trajectory]) -> list[torch.Tensor]:
        return self._features(trajs)

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        # the backbone goes in too: a resumed run must not re-snapshot a policy that has moved on
        return {"head": self.head.state_dict(), "backbone": self.backbone.state_dict(), "fits": self.fits}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])
        self.fits = int(state.get("fits", 0))
        if "backbone" in state:
            self.backbone.load_state_dict(state["backbone"])
