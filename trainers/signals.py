"""Extra model signals for credit methods, computed batched before ``CreditMethod.assign``.

``compute_signals(needs, group, policy=None, learner=None, estimator=None)`` returns the
:class:`~trainers.credit.Signals` the named ``needs`` ask for:

* ``answer_probe``: for every trajectory i and t = 0 .. T_i − 1, the mean log-prob of the
  ground-truth answer (``reset_info["answer"]``) when it follows the ids the policy saw before
  turn t (:meth:`Trajectory.prefix_ids`: the question alone for t = 0, then each tool result,
  ending with the generation prompt).  The answer is placed in ``probe_template`` (the text
  before ``{answer}`` joins the prefix, only the answer span is scored).  All probes of all
  groups go to the policy's ``score_answers`` in one call (vLLM prompt logprobs or HF batches).
* ``entropy``: mean token entropy of the learner's model over each turn's sampled tokens
  (one no-grad forward pass per trajectory batch).
* ``progress``: the progress estimator's c_t (:class:`trainers.progress.ProgressEstimator`).

:func:`drop_failed` is how the caller leaves infrastructure failures out of a group first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trainers.credit.base import SIGNALS, Signals

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


def drop_failed(group: Sequence[Trajectory]) -> tuple[list[Trajectory], list[Trajectory]]:
    """(kept, failed): infrastructure failures leave the group (the caller counts them)."""
    return [t for t in group if not t.failed], [t for t in group if t.failed]
