"""``TokenBatch``: trajectories as right-padded tensors aligned to the tokens a model predicts.

A trajectory's sequence is ``Trajectory.token_ids()`` (prompt, then per turn the sampled ids
and the observation ids).  A causal LM's logits at position ``j`` predict token ``j + 1``, so
every per-token tensor has ``L - 1`` columns, column ``j`` describing *target* token ``j + 1``:

* ``input_ids [B, L]`` (padded with ``pad_id``), ``attention_mask [B, L]`` (1 on real tokens);
* ``loss_mask [B, L-1]``: 1.0 where the target was sampled by the policy, else 0.0;
* ``advantages [B, L-1]``: turn ``t``'s advantage on exactly the targets of
  ``turn_spans()[t]`` (columns ``start - 1 .. end - 2``), 0.0 elsewhere;
* ``rollout_logprobs [B, L-1] | None``: the sampler's logprob of each sampled target (None when
  some turn came without logprobs, e.g. scripted trajectories);
* ``old_logprobs [B, L-1] | None``: the trainer's own logprobs before the update (π_old of the
  PPO ratio); the learner fills it on the first update of a batch.

:meth:`TokenBatch.micro_batches` cuts a batch into row slices, each trimmed to its own longest
row (right padding makes the trim exact); ``rows`` remembers where a slice came from.

Trajectories with images (a vision-language policy; ``vision``: its
:class:`agents.vision.VisionProcessor`) are re-loaded from their image parts (data URLs, or the
``file://`` references of :func:`agents.trajectory.read_jsonl` with ``images="file"``: stored
once by content hash): each row is *expanded* (an image's one placeholder token becomes its
grid's tokens, all mask 0 and advantage 0) and keeps its ``pixel_values`` / ``image_grid_thw``;
:meth:`TokenBatch.model_inputs` hands a slice's pixels, in row order, to the model's forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from agents.trajectory import Trajectory

_PER_TARGET = ("loss_mask", "advantages", "rollout_logprobs", "old_logprobs")


@dataclass
class TokenBatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    advantages: torch.Tensor
    rollout_logprobs: torch.Tensor | None = None
    old_logprobs: torch.Tensor | None = None
    rows: torch.Tensor | None = None  # row indices in the batch this one was cut from
    pixel_values: list | None = None  # per row: its images' patches [n, dim] (None: no image), vision models only
    image_grid_thw: list | None = None  # per row: [images, 3] or None
    image_token_id: int | None = None

    @property
    def size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_tokens(self) -> int:
        """Real (non-pad) tokens, prompt and observations included: what a forward pass processes."""
        return int(self.attention_mask.sum())

    @property
    def num_sampled(self) -> int:
        """Sampled target tokens: what the loss sees."""
        return int(self.loss_mask.sum())

    def lengths(self) -> torch.Tensor:
        return self.attention_mask.sum(dim=1)

    def to(self, device: str | torch.device) -> TokenBatch:
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if isinstance(getattr(self, f.name), torch.Tensor) and f.name != "rows"})

    def select(self, rows: torch.Tensor) -> TokenBatch:
        """The given rows, trimmed to their longest sequence."""
        rows = rows.to(torch.long)
        width = max(int(self.attention_mask[rows.to(self.attention_mask.device)].sum(dim=1).max()), 2)
        dev = self.input_ids.device
        out = {"input_ids": self.input_ids[rows.to(dev), :width], "attention_mask": self.attention_mask[rows.to(dev), :width]}
        for name in _PER_TARGET:
            value = getattr(self, name)
            out[name] = None if value is None else value[rows.to(value.device), : width - 1]
        if self.pixel_values is not None:
            out.update(pixel_values=[self.pixel_values[int(r)] for r in rows], image_token_id=self.image_token_id,
                       image_grid_thw=[self.image_grid_thw[int(r)] for r in rows])
        return TokenBatch(**out, rows=rows.cpu())

    def model_inputs(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The extra forward inputs of a batch with images (none for text): the rows' pixels in row order,
        their grids, and ``mm_token_type_ids`` (1 on image placeholders)."""
        pixels = [p for p in self.pixel_values or [] if p is not None]
        if not pixels:
            return {}
        grids = [g for g in self.image_grid_thw if g is not None]
        return {"pixel_values": torch.cat(pixels).to(device), "image_grid_thw": torch.cat(grids).to(device),
                "mm_token_type_ids": (self.input_ids == self.image_token_id).int().to(device)}

    def micro_batches(self, size: int, *, by_length: bool = False) -> list[TokenBatch]:
        """Consecutive slices of ``size`` rows (``by_length``: rows sorted by length first, less padding)."""
        if size < 1:
            raise ValueError(f"micro-batch size must be >= 1, got {size}")
        order = torch.argsort(self.lengths().cpu(), descending=True, stable=True) if by_length else torch.arange(self.size)
        return [self.select(order[i:i + size]) for i in range(0, self.size, size)]


def _pad(rows: Sequence[Sequence[float]], width: int, value: float, dtype: torch.dtype) -> torch.Tensor:
    out = torch.full((len(rows), width), value, dtype=dtype)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.tensor(list(row), dtype=dtype)
    return out


def build_batch(trajectories: Sequence[Trajectory], turn_advantages: Sequence[Sequence[float]], pad_id: int,
                vision=None) -> TokenBatch:
    """One row per trajectory; ``turn_advantages[i][t]`` goes on the tokens trajectory ``i`` sampled in turn ``t``.
    ``vision``: the policy's :class:`agents.vision.VisionProcessor`, for trajectories with images."""
    if len(trajectories) != len(turn_advantages):
        raise ValueError(f"{len(trajectories)} trajectories but {len(turn_advantages)} advantage lists")
    if not trajectories:
        raise ValueError("cannot build a batch from no trajectories")
    ids, masks, advs, lps, pixels, grids = [], [], [], [], [], []
    have_logprobs = True
    for i, (traj, turn_adv) in enumerate(zip(trajectories, turn_advantages)):
        seq = traj.token_ids()  # raises for text-only trajectories
        spans = traj.turn_spans()
        if len(turn_adv) != len(spans):
            raise ValueError(f"trajectory {i} ({traj.task_id}) has {len(spans)} turns but {len(turn_adv)} advantages")
        if len(seq) < 2:
            raise ValueError(f"trajectory {i} ({traj.task_id}) has {len(seq)} tokens; a target needs at least 2")
        mask = traj.loss_mask()
        if mask[0]:
            raise ValueError(f"trajectory {i} ({traj.task_id}) starts with a sampled token; it has no prompt to condition on")
        adv = [0.0] * len(seq)
        for (start, end), a in zip(spans, turn_adv):
            adv[start:end] = [float(a)] * (end - start)
        rollout = traj.rollout_logprobs()
        seq, mask, adv, rollout, image_inputs = _with_images(traj, seq, mask, adv, rollout, vision=vision)
        pixels.append(image_inputs.get("pixel_values"))
        grids.append(image_inputs.get("image_grid_thw"))
        ids.append(seq)
        masks.append(mask[1:])
        advs.append(adv[1:])
        lps.append(rollout[1:])
        have_logprobs &= all(t.logprobs is not None and len(t.logprobs) == len(t.token_ids) for t in traj.turns)
    width = max(len(s) for s in ids)
    return TokenBatch(
        input_ids=_pad(ids, width, pad_id, torch.long),
        attention_mask=_pad([[1] * len(s) for s in ids], width, 0, torch.long),
        loss_mask=_pad(masks, width - 1, 0.0, torch.float32),
        advantages=_pad(advs, width - 1, 0.0, torch.float32),
        rollout_logprobs=_pad(lps, width - 1, 0.0, torch.float32) if have_logprobs else None,
        **({"pixel_values": pixels, "image_grid_thw": grids, "image_token_id": vision.image_token_id}
           if any(p is not None for p in pixels) else {}),
    )


def _with_images(traj: Trajectory, seq: list[int], *per_token: list, vision=None) -> tuple:
    """A trajectory's sequence and per-token lists, expanded over its images (unchanged without images),
    and the images' pixel inputs ({} without)."""
    from agents.vision import conversation_images

    urls = conversation_images(traj.messages, [t.observation for t in traj.turns])
    if not urls:
        return (seq, *per_token, {})
    if vision is None:
        from agents.tokens import ImagesNotSupported

        raise ImagesNotSupported(f"trajectory {traj.task_id} holds images: build the batch with the policy's vision processor")
    urls = urls[: seq.count(vision.image_token_id)]  # a last observation the template refused holds no placeholder
    return (*vision.expand(seq, urls, *per_token), vision.inputs(urls))


def build_sft_batch(trajectories: Sequence[Trajectory], pad_id: int, vision=None) -> TokenBatch:
    """Supervised batch: advantage 1.0 on every assistant (sampled) token, no rollout logprobs."""
    batch = build_batch(trajectories, [[1.0] * len(t.turns) for t in trajectories], pad_id, vision)
    batch.rollout_logprobs = None
    return batch
