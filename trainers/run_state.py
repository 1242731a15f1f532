"""What a run keeps beside its checkpoints, and small helpers of the loop.

* :class:`RunState`: what a checkpoint stores beside the learner's state (SPA's estimator and buffer).
* ``RUN/reference.pt``: the KL reference's weights, the model RL started from (after SFT), written
  once before step 0 and read back on resume (:func:`save_reference` / :func:`load_reference`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.trajectory import Trajectory


def model_context(model: Any) -> int:
    """The model's own context length (``max_position_embeddings``), the default ``max_model_len``."""
    return int(getattr(model.config, "max_position_embeddings", 2048) or 2048)


REFERENCE_FILE = "reference.pt"


def save_reference(run_dir: Path, learner: Any) -> None:
    """``RUN/reference.pt``: the KL reference's weights (written atomically; none without a reference)."""
    import os

    import torch

    state = learner.reference_state()
    if state is None:
        return
    tmp = run_dir / f".{REFERENCE_FILE}.{os.getpid()}"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, run_dir / REFERENCE_FILE)


def load_reference(run_dir: Path, learner: Any) -> None:
    import torch

    path = run_dir / REFERENCE_FILE
    if not learner.has_ref:
        return
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the run's KL reference (the model RL started from) cannot be restored")
    learner.load_reference_state(torch.load(path, map_location="cpu", weights_only=True))


class RunState:
    """What a checkpoint stores beside the learner's state (``save_checkpoint``/``load_latest`` take this in its place).

    SPA's progress estimator (head, backbone snapshot, fit count) and its buffer of recent rollouts
    (as JSON lines) go under ``progress`` in the checkpoint's ``optimizer.pt``, so a resumed run fits
    the same estimator on the same data as one that never stopped.
    """

    def __init__(self, trainer: Any):
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
