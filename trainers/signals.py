"""Extra model signals for credit methods, computed batched before ``CreditMethod.assign``.

``compute_signals(needs, group, policy=None, learner=None, estimator=None)`` returns the
:class:`~trainers.credit.Signals` the named ``needs`` ask for:

* ``answer_probe``: for every trajectory i and t = 0 .. T_i − 1, the mean log-prob of the
  ground-truth answer (``reset_info["probe_answer"]`` or ``["answer"]``) when it follows the ids
  the policy saw before turn t (:meth:`Trajectory.prefix_ids`: the question alone for t = 0, then
  each tool result, ending with the generation prompt).  The answer is placed in
  ``probe_template``: the text before ``{answer}`` joins the prefix; only the answer's tokens are
  scored, as the model writes them inside the template (:func:`agents.tokens.answer_ids`: the ids of
  ``answer + tail`` that hold the answer; the tail, e.g. ``"}}</tool_call>``, comes after them, so
  under causal attention it changes none of their log-probs and its near-certain tokens stay out of
  the mean).  On an in-process HF model all probes of all groups are packed into a few batched
  forward passes (each trajectory once, up to its last turn, with every turn's answer chunk
  appended under a 4-D attention mask); a server's policy gets them all in one ``score_answers``
  call (vLLM prompt logprobs).  Every method equals scoring each ``prefix + answer`` from scratch.
* ``entropy``: mean token entropy of the learner's model over each turn's sampled tokens
  (one no-grad forward pass per trajectory batch).
* ``progress``: the progress estimator's c_t (:class:`trainers.progress.ProgressEstimator`).

:func:`drop_failed` is how the caller leaves infrastructure failures out of a group first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agents.tokens import answer_ids
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


def probe_requests(group: Sequence[Trajectory], renderer: Any, probe_template: str = "{answer}") -> list[tuple[list[int], str, str]]:
    """(prefix ids, answer text, the template's tail after it) for every turn t = 0 .. T−1 of every trajectory, in order."""
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
            out.append((ids[: spans[t][0]] + lead_ids, answer, tail))
    return out


def _forward_params(model: Any) -> Any:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT wrapper passes its kwargs on
    return inspect.signature(base.forward).parameters


def cached_probe_scores(model: Any, ids: Sequence[int], starts: Sequence[int], chunks: Sequence[tuple[list[int], int]],
                        lock: Any = None, temperature: float = 1.0) -> list[float]:
    """Probes of one trajectory from one forward pass and its KV cache (an in-process HF model).

    ``chunks[t]`` = (ids that follow the first ``p_t = starts[t]`` ids: the template lead then the
    answer, and where the answer starts in them).  The trajectory up to the last turn's start runs
    once; for t from the last turn down, the cache is cut back to ``p_t`` and only the chunk runs.
    The chunk's first token is scored from the full pass's logits at ``p_t − 1``.  Equal to scoring
    each ``prefix + chunk`` from scratch; many small sequential passes (slower than ``packed``).
    """
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    cache_arg = "cache" if "cache" in _forward_params(model) else "past_key_values"  # renamed in transformers 5
    with torch.no_grad(), lock if lock is not None else contextlib.nullcontext():
        cache = DynamicCache()
        run = torch.tensor([list(ids[:starts[-1]])], device=device)
        full = model(input_ids=run, use_cache=True, **{cache_arg: cache}).logits[0].float() / temperature
        scores = [0.0] * len(chunks)
        for t in range(len(chunks) - 1, -1, -1):
            chunk, answer_at = chunks[t]
            extra = cache.get_seq_length() - starts[t]
            if extra > 0:
                cache.crop(-extra)  # a negative count removes that many tokens (transformers 4.x and 5.x alike)
            logits = model(input_ids=torch.tensor([chunk], device=device), use_cache=True,
                           **{cache_arg: cache}).logits[0].float() / temperature
            rows = torch.cat([full[starts[t] - 1:starts[t]], logits[:-1]])  # row j predicts chunk[j]
            logp = torch.log_softmax(rows, dim=-1).gather(-1, torch.tensor(chunk, device=device).unsqueeze(-1)).squeeze(-1)
            scores[t] = float(logp[answer_at:].mean())
    return scores


def _logits_to_keep_arg(model: Any) -> str | None:
    """The forward argument that limits logits to the last k positions (renamed in transformers 4.50), if any."""
    params = _forward_params(model)
    return next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)


MASK_BUDGET = 1 << 26  # entries of one pass's [rows, width, width] attention mask (256 MiB in fp32)


def _probe_row(ids: Sequence[int], starts: Sequence[int], chunk: Sequence[int]) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """One packed row: the prefix ``ids[:p_last − 1]`` then, for each turn t, ``[ids[p_t − 1]] + chunk``.

    Returns (tokens, position ids, per chunk (its first column, how many prefix columns it sees)).
    Each chunk restarts from the token before turn t (a copy of ``ids[p_t − 1]`` at position
    ``p_t − 1``), so the logits that predict every chunk token lie inside the chunk.
    """
    prefix = list(ids[:starts[-1] - 1])
    tokens, positions, chunks = prefix[:], list(range(len(prefix))), []
    for p in starts:
        chunks.append((len(tokens), p - 1))
        tokens += [ids[p - 1], *chunk]
        positions += range(p - 1, p + len(chunk))
    return tokens, positions, chunks


def packed_probe_scores(model: Any, items: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int], int]],
                        token_budget: int = 65536, lock: Any = None, temperature: float = 1.0) -> list[list[float]]:
    """Every probe of many trajectories in a few batched forward passes (an in-process HF model).

    ``items[i]`` = (trajectory ids, start ``p_t`` of each turn, chunk = template lead + answer ids,
    where the answer starts in the chunk).  Each trajectory becomes one row (:func:`_probe_row`)
    under a 4-D attention mask: prefix tokens attend causally, chunk t attends to the first
    ``p_t − 1`` prefix tokens and causally to itself, with position ids continuing from ``p_t − 1``,
    so chunk t sees exactly what ``prefix_t + chunk`` sees when scored from scratch.  Rows are
    left-padded (a pad sees only pads, no real token sees a pad) so every row's chunks end at the last column and only
    those columns get logits (``logits_to_keep``); they are divided by ``temperature`` (log π_T).  Rows sorted by length go to forward passes of at
    most ``token_budget`` padded tokens and :data:`MASK_BUDGET` mask entries (few large passes: on
    a shared CPU each pass pays a fixed cost in thread synchronisation).  Returns the mean log-prob
    of each answer span.
    """
    import torch

    rows = [_probe_row(ids, starts, chunk) for ids, starts, chunk, _ in items]
    device = next(model.parameters()).device
    dtype = model.get_input_embeddings().weight.dtype
    keep_arg = _logits_to_keep_arg(model)
    out: list[list[float]] = [[] for _ in items]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    while order:
        width, take = len(rows[order[0]][0]), 0
        while take < len(order):
            wider = max(width, len(rows[order[take]][0]))
            if take and (wider * (take + 1) > token_budget or wider * wider * (take + 1) > MASK_BUDGET):
                break
            width, take = wider, take + 1
        batch, order = order[:take], order[take:]
        tail = max(len(rows[i][0]) - rows[i][2][0][0] for i in batch)  # the widest chunk region: the columns that need logits
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        position_ids = torch.zeros((len(batch), width), dtype=torch.long)
        segment = torch.full((len(batch), width), -1)  # -1 pad, 0 prefix, t + 1 chunk t
        sees = torch.zeros((len(batch), width), dtype=torch.long)  # a chunk column sees the prefix columns below this
        for b, i in enumerate(batch):
            tokens, positions, chunks = rows[i]
            off, step = width - len(tokens), len(items[i][2]) + 1
            input_ids[b, off:] = torch.tensor(tokens)
            position_ids[b, off:] = torch.tensor(positions)
            segment[b, off:off + chunks[0][0]] = 0
            for t, (col, seen) in enumerate(chunks):
                segment[b, off + col:off + col + step] = t + 1
                sees[b, off + col:off + col + step] = off + seen
        segment, sees, cols = segment.to(device), sees.to(device), torch.arange(width, device=device)
        # causal within a segment (so a pad sees earlier pads only), and a chunk's columns see their prefix
        allowed = (segment[:, :, None] == segment[:, None, :]) & (cols[:, None] >= cols[None, :])
        allowed |= (segment[:, None, :] == 0) & (cols[None, None, :] < sees[:, :, None]) & (segment[:, :, None] > 0)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=device).masked_fill_(~allowed, torch.finfo(dtype).min)[:, None]
        del allowed
        kwargs = {keep_arg: tail} if keep_arg else {}
        with torch.no_grad(), lock if lock is not None else contextlib.nullcontext():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask, position_ids=position_ids.to(device),
                           use_cache=False, **kwargs).logits[:, -tail:]
        # column k of the tail predicts the token at column k + 1
        targets = input_ids[:, width - tail + 1:].to(device)
        logp = torch.log_softmax(logits[:, :-1].float() / temperature, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu().tolist()
        for b, i in enumerate(batch):
            tokens, _, chunks = rows[i]
            answer_at, step = items[i][3], len(items[i][2]) + 1
            base = tail - len(tokens)  # row b's token column c sits at tail column c + base
            scores = []
            for col, _ in chunks:
                # the chunk's token j (j >= 0) is at column col + 1 + j, predicted from tail column col + j + base
                span = logp[b][col + base + answer_at:col + base + step - 1]
                scores.append(sum(span) / len(span))
            out[i] = scores
    return out


def _in_process_model(policy: Any) -> Any:
    """The policy's own torch module when it runs in this process (HFPolicy, possibly wrapped), else None."""
    inner = getattr(policy, "inner", policy)
    model = getattr(inner, "model", None)
    return model if model is not None and hasattr(inner, "forward_logprobs") else None


PROBE_METHODS = ("packed", "kv_cache", "scratch")


async def answer_probes(groups: Sequence[Sequence[Trajectory]], policy: Any, probe_template: str = "{answer}",
                        method: str = "packed", token_budget: int = 65536, temperature: float = 1.0,
                        model: Any = None) -> list[list[list[float]]]:
    """``answer_logprobs`` for each group, all equal to scoring each probe from scratch.

    Probes score log π_T of the sampling ``temperature`` (the policy that samples, as IGPO's p_t
    asks).  ``model``: an in-process module holding the policy's weights to score with (the trainer
    passes its learner's, also for vLLM rollouts: after a checked push it equals the server's, and
    it scores at any temperature); default: the policy's own module when it has one.

    ``method``: ``packed`` (an in-process HF model: all probes of all groups in a few batched
    forward passes, :func:`packed_probe_scores`; models whose attention takes no 4-D mask, e.g.
    flash-attention, use ``kv_cache``), ``kv_cache`` (one forward pass per trajectory, then one short
    pass per turn over its cropped KV cache, :func:`cached_probe_scores`), ``scratch`` (every probe of
    every group in one ``score_answers`` call: a server's prompt logprobs with its prefix cache; the
    only path for a policy whose model is not in this process).
    """
    if method not in PROBE_METHODS:
        raise ValueError(f"probe method must be one of {PROBE_METHODS}, got {method!r}")
    model = (model or _in_process_model(policy)) if method != "scratch" else None
    if model is None:
        if temperature != 1.0:
            raise ValueError(f"scratch answer probes score through policy.score_answers at T = 1; at temperature "
                             f"{temperature} pass the in-process model that holds the policy's weights (model=)")
        return await _scratch_probes(groups, policy, probe_template)
    renderer = getattr(policy, "renderer", None) or policy.inner.renderer
    lead, tail = probe_template.split("{answer}", 1)
    lead_ids = renderer.encode(lead) if lead else []
    lock = getattr(getattr(policy, "inner", policy), "_lock", None)
    items = []
    for traj in (t for g in groups for t in g):
        probe_requests([traj], renderer, probe_template)  # the same checks as the scratch path (tokens, an answer)
        items.append((traj.token_ids(), [s for s, _ in traj.turn_spans()], lead_ids + answer_ids(renderer, probe_answer(traj), tail),
                      len(lead_ids)))
    if method == "packed" and getattr(model.config, "_attn_implementation", "eager") not in ("sdpa", "eager"):
        method = "kv_cache"
    scores: list[list[float]] = [[] for _ in items]
    todo = [k for k, item in enumerate(items) if item[1]]  # a trajectory without turns has no probes
    if method == "packed" and todo:
        done = await asyncio.to_thread(packed_probe_scores, model, [items[k] for k in todo], token_budget, lock, temperature)
        for k, row in zip(todo, done):
            scores[k] = row
    for k in todo if method == "kv_cache" else []:
        ids, starts, chunk, answer_at = items[k]
        scores[k] = await asyncio.to_thread(cached_probe_scores, model, ids, starts, [(chunk, answer_at)] * len(starts), lock,
                                            temperature)
    return _regroup(groups, scores)


def _regroup(groups: Sequence[Sequence[Trajectory]], flat: list) -> list[list]:
    out, k = [], 0
    for group in groups:
        out.append(flat[k:k + len(group)])
        k += len(group)
    return out


async def _scratch_probes(groups: Sequence[Sequence[Trajectory]], policy: Any, probe_template: str) -> list[list[list[float]]]:
    requests = [probe_requests(g, policy.renderer, probe_template) for g in groups]
    flat = [r for rs in requests for r in rs]
    tails = [t for *_, t in flat]
    extra = {"tails": tails} if any(tails) else {}  # a policy written before tails= still scores tail-less templates
    scores = await policy.score_answers([p for p, _, _ in flat], [a for _, a, _ in flat], **extra) if flat else []
    rows, k = [], 0
    for traj in (t for g in groups for t in g):
        rows.append([float(s) for s in scores[k:k + len(traj.turns)]])
        k += len(traj.turns)
    return _regroup(groups, rows)


def turn_entropies(groups: Sequence[Sequence[Trajectory]], learner: Any, micro_batch: int = 8) -> list[list[list[float]]]:
    """Mean policy entropy over each turn's sampled tokens (one no-grad pass of the learner's model)."""
    from trainers.batch import build_batch

    flat = [t for g in groups for t in g]
    if not flat:
        return [[] for _ in groups]
    batch = build_batch(flat, [[0.0] * len(t.turns) for t in flat], learner.pad_id)
    _, ent = learner.token_logprobs(batch, grad=False, micro_batch=micro_batch, entropy=True, sampled_only=True)
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
                                micro_batch: int = 8, probe_method: str = "packed",
                                temperature: float = 1.0, probe_model: Any = None) -> list[Signals]:
    """:class:`Signals` for each group, each signal batched over all groups.

    ``probe_method`` picks how answer probes are scored (:func:`answer_probes`: ``packed``,
    ``kv_cache`` or ``scratch``, the reference); probes and entropies are those of ``temperature``."""
    unknown = set(needs) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signals {sorted(unknown)}; known: {list(SIGNALS)}")
    out = [Signals() for _ in groups]
    if "answer_probe" in needs:
        if policy is None or not hasattr(policy, "score_answers"):
            raise ValueError("answer_probe needs a policy with score_answers (VLLMPolicy or HFPolicy)")
        probes = await answer_probes(groups, policy, probe_template, probe_method, temperature=temperature, model=probe_model)
        for s, rows in zip(out, probes):
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
