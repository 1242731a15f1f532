"""Extra model signals for credit methods, computed batched before ``CreditMethod.assign``.

``compute_signals(needs, group, policy=None, learner=None, estimator=None)`` returns the
:class:`~trainers.credit.Signals` the named ``needs`` ask for:

* ``answer_probe``: for every trajectory i and t = 0 .. T_i − 1, the mean log-prob of the
  ground-truth answer (``reset_info["probe_answer"]`` or ``["answer"]``) when it follows the ids the policy saw before
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


def probe_answer(traj: Trajectory) -> str:
    """The ground truth the env states for probes: ``probe_answer`` (e.g. SQL's gold result as text)
    when the env gives one, else ``answer``, from the reset info (or the last step's)."""
    answer = next((info[k] for k in ("probe_answer", "answer") for info in (traj.reset_info, traj.final_info) if info.get(k) not in (None, "")),
                  None)
    if answer is None or str(answer) == "":
        raise ValueError(f"{traj.env_id} task {traj.task_id} states no answer (info['answer']) for information-gain probes")
    return str(answer)


def probe_requests(group: Sequence[Trajectory], renderer: Any, probe_template: str = "{answer}") -> list[tuple[list[int], str]]:
    """(prefix ids, answer text) for every turn t = 0 .. T−1 of every trajectory, in order."""
    if "{answer}" not in probe_template:
        raise ValueError(f"probe_template must contain '{{answer}}', got {probe_template!r}")
    lead, tail = probe_template.split("{answer}", 1)
    lead_ids = renderer.encode(lead) if lead else []
    out = []
    for traj in group:
        if not traj.has_tokens:
            raise ValueError(f"trajectory {traj.task_id}/{traj.sample} has no token data; answer probes need a token-level policy")
        ids = traj.token_ids()
        spans = traj.turn_spans()
        answer = probe_answer(traj)
        for t in range(len(traj.turns)):
            out.append((ids[: spans[t][0]] + lead_ids, answer + tail))
    return out


def cached_probe_scores(model: Any, traj: Trajectory, chunks: Sequence[tuple[list[int], int]]) -> list[float]:
    """Probes of one trajectory from one forward pass and its KV cache (an in-process HF model).

    ``chunks[t]`` = (ids that follow the first ``p_t`` ids: the template lead then the answer, and
    where the answer starts in them), with ``p_t`` the start of turn t.  The trajectory runs once;
    for t from the last turn down, the cache is cut back to ``p_t`` and only the chunk runs.  The
    chunk's first token is scored from the full pass's logits at ``p_t − 1``.  Equal to scoring
    each ``prefix + chunk`` from scratch (what ``score_answers`` does), at a fraction of the cost.
    """
    import torch
    from transformers import DynamicCache

    ids = traj.token_ids()
    starts = [s for s, _ in traj.turn_spans()]
    device = next(model.parameters()).device
    with torch.no_grad():
        cache = DynamicCache()
        full = model(input_ids=torch.tensor([ids], device=device), past_key_values=cache, use_cache=True).logits[0].float()
        scores = [0.0] * len(chunks)
        for t in range(len(chunks) - 1, -1, -1):
            chunk, answer_at = chunks[t]
            extra = cache.get_seq_length() - starts[t]
            if extra > 0:
                cache.crop(-extra)  # a negative count removes that many tokens (transformers 4.x and 5.x alike)
            logits = model(input_ids=torch.tensor([chunk], device=device), past_key_values=cache, use_cache=True).logits[0].float()
            rows = torch.cat([full[starts[t] - 1:starts[t]], logits[:-1]])  # row j predicts chunk[j]
            logp = torch.log_softmax(rows, dim=-1).gather(-1, torch.tensor(chunk, device=device).unsqueeze(-1)).squeeze(-1)
            scores[t] = float(logp[answer_at:].mean())
    return scores


def _in_process_model(policy: Any) -> Any:
    """The policy's own torch module when it runs in this process (HFPolicy, possibly wrapped), else None."""
    inner = getattr(policy, "inner", policy)
    model = getattr(inner, "model", None)
    return model if model is not None and hasattr(inner, "forward_logprobs") else None


async def answer_probes(groups: Sequence[Sequence[Trajectory]], policy: Any, probe_template: str = "{answer}",
                        use_cache: bool = True) -> list[list[list[float]]]:
    """``answer_logprobs`` for each group: every probe of every group in one ``score_answers`` call
    (a server's prompt logprobs, with its prefix cache), or, for an in-process HF model, one forward
    pass per trajectory plus a short one per turn over its KV cache (:func:`cached_probe_scores`)."""
    model = _in_process_model(policy) if use_cache else None
    if model is not None:
        renderer = getattr(policy, "renderer", None) or policy.inner.renderer
        lead, tail = probe_template.split("{answer}", 1)
        lead_ids = renderer.encode(lead) if lead else []
        lock = getattr(getattr(policy, "inner", policy), "_lock", None)
        out = []
        for group in groups:
            rows = []
            for traj in group:
                probe_requests([traj], renderer, probe_template)  # the same checks (tokens, an answer)
                answer_ids = renderer.encode(probe_answer(traj) + tail)
                chunks = [(lead_ids + answer_ids, len(lead_ids))] * len(traj.turns)
                if lock is not None:
                    with lock:
                        rows.append(await asyncio.to_thread(cached_probe_scores, model, traj, chunks))
                else:
                    rows.append(await asyncio.to_thread(cached_probe_scores, model, traj, chunks))
            out.append(rows)
        return out
    requests = [probe_requests(g, policy.renderer, probe_template) for g in groups]
    flat = [r for rs in requests for r in rs]
    scores = await policy.score_answers([p for p, _ in flat], [a for _, a in flat]) if flat else []
    out, k = [], 0
    for group in groups:
        rows = []
        for traj in group:
            rows.append([float(s) for s in scores[k:k + len(traj.turns)]])
            k += len(traj.turns)
        out.append(rows)
    return out


def turn_entropies(groups: Sequence[Sequence[Trajectory]], learner: Any, micro_batch: int = 8) -> list[list[list[float]]]:
    """Mean policy entropy over each turn's sampled tokens (one no-grad pass of the learner's model)."""
    from trainers.batch import build_batch

    flat = [t for g in groups for t in g]
    if not flat:
        return [[] for _ in groups]
    batch = build_batch(flat, [[0.0] * len(t.turns) for t in flat], learner.pad_id)
    _, ent = learner.token_logprobs(batch, grad=False, micro_batch=micro_batch, entropy=True)
    rows = []
    for i, traj in enumerate(flat):
        # target j predicts token j + 1, so a turn's tokens [s, e) are targets [s − 1, e − 1)
        rows.append([float(ent[i, s - 1:e - 1].mean()) if e > s else 0.0 for s, e in traj.turn_spans()])
    out, k = [], 0
    for g in groups:
        out.append(rows[k:k + len(g)])
        k += len(g)
    return out


async def acompute_signals_many(needs: Sequence[str] | frozenset[str], groups: Sequence[Sequence[Trajectory]], policy: Any = None,
                                learner: Any = None, estimator: Any = None, probe_template: str = "{answer}",
                                micro_batch: int = 8, probe_cache: bool = True) -> list[Signals]:
    """:class:`Signals` for each group, each signal batched over all groups."""
    unknown = set(needs) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signals {sorted(unknown)}; known: {list(SIGNALS)}")
    out = [Signals() for _ in groups]
    if "answer_probe" in needs:
        if policy is None or not hasattr(policy, "score_answers"):
            raise ValueError("answer_probe needs a policy with score_answers (VLLMPolicy or HFPolicy)")
        for s, rows in zip(out, await answer_probes(groups, policy, probe_template, use_cache=probe_cache)):
            s.answer_logprobs = rows
    if "entropy" in needs:
        if learner is None:
            raise ValueError("entropy needs the learner (its model scores the sampled tokens)")
        for s, rows in zip(out, turn_entropies(groups, learner, micro_batch)):
            s.entropy = rows
    if "progress" in needs:
        if estimator is None:
            raise ValueError("progress needs a progress estimator (trainers.progress.ProgressEstimator)")
        for s, g in zip(out, groups):
            s.progress = estimator.predict(g)
    return out


def compute_signals_many(needs, groups, policy=None, learner=None, estimator=None, **kwargs) -> list[Signals]:
    """Blocking :func:`acompute_signals_many` (call the async one from inside an event loop)."""
    return asyncio.run(acompute_signals_many(needs, groups, policy, learner, estimator, **kwargs))


def compute_signals(needs, group, policy=None, learner=None, estimator=None, **kwargs) -> Signals:
    """:class:`Signals` for one group (blocking)."""
    return compute_signals_many(needs, [group], policy, learner, estimator, **kwargs)[0]
