"""The statistics of ``turngym compare``: pure functions of numbers, each tested on hand-made inputs.

Methods are compared *paired by seed*: seed ``s`` of every method starts from the same SFT model and
draws the same tasks, so the per-seed difference ``d_s = method_s − baseline_s`` removes the
between-seed spread.  Over the n seeds:

* :func:`bootstrap_ci`: percentile bootstrap of the mean of ``d`` (seeded resamples with replacement);
* :func:`sign_flip_p`: the exact two-sided permutation p-value of the mean of ``d`` under the null
  that each ``d_s`` is symmetric about 0: all 2^n sign flips, p = #{|Σ ±d| ≥ |Σ d|} / 2^n (with n
  seeds no p is below 2/2^n: 0.25 with 3 seeds, 0.031 with 6);
* :func:`holm`: Holm's step-down adjustment of the methods' p-values (family-wise error);
* :func:`episodes_to_target`: the first evaluation whose success reaches a target; a run that never
  does is *censored* (None: "> budget"), and :func:`censored_median` keeps it in as +∞;
* :func:`curve_auc`: the area under a held-out success curve divided by its episode span (the mean
  success over the budget, in [0, 1]);
* :func:`rank_auc`: the Mann-Whitney AUC of scores against binary labels (ties count ½).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

TOL = 1e-12


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def paired_differences(method: dict[int, float | None], baseline: dict[int, float | None]) -> dict[int, float]:
    """``method[s] − baseline[s]`` for every seed both have a value for, by seed."""
    return {s: method[s] - baseline[s] for s in sorted(method) if method[s] is not None and baseline.get(s) is not None}


def bootstrap_ci(values: Sequence[float], resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean: ``resamples`` means of n draws with replacement (``random.Random(seed)``),
    sorted; the bounds are the order statistics at (1 − level)/2 and (1 + level)/2."""
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    if not 0.0 < level < 1.0 or resamples < 1:
        raise ValueError(f"level must be in (0, 1) and resamples >= 1, got {level}, {resamples}")
    rng, n = random.Random(seed), len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(resamples))
    alpha = (1.0 - level) / 2.0
    lo = means[min(resamples - 1, math.floor(alpha * resamples))]
    hi = means[max(0, math.ceil((1.0 - alpha) * resamples) - 1)]
    return lo, hi


def sign_flip_p(diffs: Sequence[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean of ``diffs`` (all 2^n flips; n <= 20)."""
    n = len(diffs)
    if n == 0:
        raise ValueError("sign_flip_p needs at least one difference")
    if n > 20:
        raise ValueError(f"the exact test enumerates 2^n sign flips; n = {n} is more than 20")
    observed = abs(sum(diffs))
    hits = sum(abs(sum(s * d for s, d in zip(signs, diffs))) >= observed - TOL for signs in itertools.product((1, -1), repeat=n))
    return hits / 2 ** n


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the input order: p_(i)·(m − i + 1) over the ascending order, made
    non-decreasing by a running maximum, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, pvalues[i] * (m - rank)))
        out[i] = running
    return out


def episodes_to_target(curve: Sequence[tuple[int, float]], target: float) -> int | None:
    """The episodes at the first evaluation with success ≥ ``target``; None (censored) when none reaches it."""
    for episodes, value in curve:
        if value >= target - 1e-9:
            return int(episodes)
    return None


def censored_median(values: Sequence[int | None]) -> float | None:
    """Median with censored runs (None) counted as +∞: None when the median itself is censored."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else float(v) for v in values)
    n = len(ordered)
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0
    return None if math.isinf(mid) else mid


def curve_auc(curve: Sequence[tuple[int, float]]) -> float | None:
    """Trapezoid area under (episodes, success) divided by the episode span: the mean success over the
    budget (one point: its value; none: None)."""
    if not curve:
        return None
    points = sorted(curve)
    span = points[-1][0] - points[0][0]
    if span <= 0:
        return float(points[-1][1])
    area = sum((e1 - e0) * (v0 + v1) / 2.0 for (e0, v0), (e1, v1) in zip(points, points[1:]))
    return area / span


def rank_auc(scores: Sequence[float], labels: Sequence[bool | int]) -> float | None:
    """P(score of a positive > score of a negative) + ½·P(tie); None without both classes."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def paired_summary(diffs: Sequence[float], resamples: int = 10_000, seed: int = 0) -> dict[str, float | int | None]:
    """n, mean difference, bootstrap 95 % CI and the exact sign-flip p of one method against the baseline."""
    if not diffs:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None, "p": None}
    lo, hi = bootstrap_ci(diffs, resamples=resamples, seed=seed)
    return {"n": len(diffs), "mean": mean(diffs), "ci_low": lo, "ci_high": hi, "p": sign_flip_p(diffs)}
