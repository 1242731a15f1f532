"""IGPO: information-gain turn rewards (arXiv 2510.14967; official code GuoqingWang1/IGPO).

For trajectory ``i`` with ``T`` turns, ``signals.answer_logprobs[i][t]`` is the mean log-prob of
the ground-truth answer after the first ``t`` turns (``t = 0``: the question alone), scored by the
rollout policy without gradient.  With ``p_t = exp(answer_logprobs[i][t])``:

    r_t = p_t − p_{t−1}                      for turns t = 1 .. T−1   (gain="prob")
    r_t = lp_t − lp_{t−1}                    (gain="logprob": difference of mean log-probs)
    r_T = R_i                                the outcome of the episode (info["outcome"])

Turn ``t`` (1-based) is credited with what its tool result taught the model about the answer;
the last turn, which produces the answer, gets the outcome.  A one-turn episode has only r_1 = R.
A truncated episode is the same: its last turn gets the outcome it earned (0 when the env cut it).

Normalization (``normalize="pooled"``, the paper's): z-score over *all* turn rewards of *all*
samples of the group together (population std; std := 1 when there is at most one value; eps
1e-6), never per turn index.  Then the discounted sum over later turns: A_t = r̂_t + γ A_{t+1}
(γ = 1 as in the official script).  A_t goes on every token of turn t.

``normalize="separate"`` (not the paper's): the gains r_1..r_{T−1} of all samples are z-scored in
one pool and the outcomes R_i in another (the same population z-score), then summed the same way.
Why: in one pool, gains that are mostly negative (lookups that fetch nothing lower p) pull the mean
below 0, so a wrong answer's 0 outcome scores near or above the mean: on Lookup-v0 (6 seeds, README)
IGPO gave a one-turn wrong guess −0.20 and the wrong answer after a failed lookup +0.66, where GRPO
gave −0.39 and −0.02, and pushed the policy towards guessing.  Apart, an outcome is ranked only
against outcomes, as in GRPO, and the gains add turn credit on top.

The probe is scored in ``probe_template``: how the agent writes its answer.  :meth:`IGPO.env_kwargs`
gives an env's declared template (``envs.registry``: its answer tool call) when none is given, and
refuses an env that declares none (its answer is not something the agent writes); ``turngym
compare`` applies it before any run.  The constructor's own default stays the bare ``"{answer}"``.

Not copied from the official code: an early release never divided by the std, and a gain of
exactly 0 was dropped from the statistics (merging turns); here every turn counts, zeros included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from trainers.credit._stats import EPS, check_group, discounted_returns, zscore_pooled
from trainers.credit.base import Signals, register_credit

if TYPE_CHECKING:
    from agents.trajectory import Trajectory


def igpo_turn_rewards(answer_logprobs: Sequence[float], n_turns: int, outcome: float, gain: str = "prob") -> list[float]:
    """Raw turn rewards r_1..r_T of one trajectory (before normalization)."""
    if len(answer_logprobs) < n_turns:
        raise ValueError(f"need {n_turns} answer probes (after 0..{n_turns - 1} turns), got {len(answer_logprobs)}")
    if gain == "prob":
        probe = [math.exp(lp) for lp in answer_logprobs[:n_turns]]
    elif gain == "logprob":
        probe = [float(lp) for lp in answer_logprobs[:n_turns]]
    else:
        raise ValueError(f"gain must be 'prob' or 'logprob', got {gain!r}")
    return [probe[t] - probe[t - 1] for t in range(1, n_turns)] + [float(outcome)]


@register_credit
class IGPO:
    name: ClassVar[str] = "igpo"
    needs: ClassVar[frozenset[str]] = frozenset({"answer_probe"})

    def __init__(self, gamma: float = 1.0, gain: str = "prob", eps: float = EPS, probe_template: str = "{answer}",
                 normalize: str = "pooled"):
        # probe_template: the pseudo-response the answer is scored in (read by trainers.signals)
        if "{answer}" not in probe_template:
            raise ValueError(f"probe_template must contain '{{answer}}', got {probe_template!r}")
        self.probe_template = probe_template
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if gain not in ("prob", "logprob"):
            raise ValueError(f"gain must be 'prob' or 'logprob', got {gain!r}")
        if normalize not in ("pooled", "separate"):
            raise ValueError(f"normalize must be 'pooled' or 'separate', got {normalize!r}")
        self.gamma, self.gain, self.eps, self.normalize = gamma, gain, eps, normalize

    @classmethod
    def env_kwargs(cls, env: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with the probe template ``env`` declares, unless ``probe_template`` is given; a
        ValueError naming the env when it declares none (no answer the agent writes: nothing to probe)."""
        if "probe_template" in kwargs:
            return dict(kwargs)
        from envs.registry import entry

        found = entry(env)
        if found.probe_template is None:
            raise ValueError(f"{found.id} declares no answer probe template (probe_template in envs.registry: how its agent "
                             "writes the answer), so igpo has no information gain to measure there; give "
                             "credit_kwargs.probe_template explicitly or leave igpo out")
        return {**kwargs, "probe_template": found.probe_template}

    def turn_rewards(self, group: Sequence[Trajectory], signals: Signals) -> list[list[float]]:
        check_group(group)
        probes = signals.require("answer_logprobs", len(group))
        return [igpo_turn_rewards(lps, len(traj.turns), traj.outcome, self.gain) for lps, traj in zip(probes, group)]

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        rewards = self.turn_rewards(group, signals or Signals())
        if self.normalize == "pooled":
            normalized = zscore_pooled(rewards, unbiased=False, eps=self.eps)
        else:  # gains and outcomes, each in its own pool
            gains = zscore_pooled([row[:-1] for row in rewards], unbiased=False, eps=self.eps)
            outcomes = zscore_pooled([row[-1:] for row in rewards], unbiased=False, eps=self.eps)
            normalized = [g + o for g, o in zip(gains, outcomes)]
        return [discounted_returns(row, self.gamma) for row in normalized]
