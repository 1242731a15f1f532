"""Manipulation checks: did a credit method have anything to work with?  Computed per run from the
rollouts it trained on (``RUN/rollouts/step_NNNN.jsonl``, :mod:`trainers.rollout_log`; a group is the
consecutive lines of one task) and its ``metrics.jsonl`` rows, so the loop is not involved.

* ``equal_outcome_share``: the share of groups whose samples all earned the same return (what outcome
  credit cannot rank; dynamic sampling's dropped groups, ``groups_dropped`` in the rows, count as equal);
* ``anchor_share``: the share of decision turns (every turn) in a GiGPO anchor group (the same
  ``state_key`` before the action, within one task's group) of size ≥ 2; ``anchor_diverse_share``:
  the share in such groups that hold at least two different actions (only these give GiGPO a step
  advantage that ranks actions);
* ``igpo_auc`` (runs whose rollouts carry answer probes, i.e. IGPO's): on the first step's rollouts,
  sampled by the starting (SFT) model before any update, the AUC of each information-gain turn
  reward r_t = p_t − p_{t−1} (turns 1 .. T−1; the last turn's reward is the outcome itself) against
  the *episode's* success (no env here labels single turns); 0.5: the gain does not tell turns of
  successful episodes from the others.  ``igpo_mean_abs_gain``: the mean |r_t| of those turns (a
  probe scored off the policy's distribution gives gains near 0).
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.trajectory import Trajectory
from trainers.compare_stats import rank_auc
from trainers.credit._stats import returns
from trainers.credit.gigpo import anchor_keys
from trainers.credit.igpo import igpo_turn_rewards
from trainers.metrics import read_metrics
from trainers.rollout_log import ROLLOUTS, rollout_path


def read_step(path: Path) -> list[tuple[list[Trajectory], list[dict[str, Any]]]]:
    """The groups of one step file: (trajectories, their ``signals`` records), one group per task."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            signals = data.pop("signals", None) or {}
            data.pop("credit", None)
            records.append((Trajectory.model_validate(data), signals))
    return [([t for t, _ in grp], [s for _, s in grp])
            for grp in (list(g) for _, g in itertools.groupby(records, key=lambda r: r[0].task_id))]


def anchor_counts(group: list[Trajectory]) -> tuple[int, int, int]:
    """(decision turns, turns in anchor groups of ≥ 2, turns in such groups with ≥ 2 distinct actions)."""
    anchors: dict[Any, list[str]] = defaultdict(list)
    for traj in group:
        for key, turn in zip(anchor_keys(traj), traj.turns):
            anchors[key].append(turn.action.strip())
    total = sum(len(a) for a in anchors.values())
    shared = sum(len(a) for a in anchors.values() if len(a) >= 2)
    diverse = sum(len(a) for a in anchors.values() if len(a) >= 2 and len(set(a)) >= 2)
    return total, shared, diverse


def igpo_turns(groups: list[tuple[list[Trajectory], list[dict[str, Any]]]], gain: str = "prob") -> tuple[list[float], list[bool]]:
    """Information-gain turn rewards r_1..r_{T−1} of every trajectory with probes, and its episode's success."""
    scores: list[float] = []
    labels: list[bool] = []
    for trajs, signals in groups:
        for traj, sig in zip(trajs, signals):
            probes = sig.get("answer_logprobs")
            if probes is None or len(traj.turns) < 2:
                continue
            gains = igpo_turn_rewards(probes, len(traj.turns), traj.outcome, gain)[:-1]
            scores += gains
            labels += [traj.success] * len(gains)
    return scores, labels


def run_checks(run: Path, gain: str = "prob") -> dict[str, Any]:
    """The manipulation checks of one run folder (None where the run holds nothing to compute one from)."""
    folder = Path(run) / ROLLOUTS
    steps = sorted(int(p.stem.removeprefix("step_")) for p in folder.glob("step_*.jsonl")) if folder.is_dir() else []
    dropped = {int(r["step"]): int(r.get("groups_dropped", 0)) for r in read_metrics(run) if "step" in r} if (Path(run) / "metrics.jsonl").exists() else {}
    groups = equal = 0
    turns = shared = diverse = 0
    first: list[tuple[list[Trajectory], list[dict[str, Any]]]] = []
    for step in steps:
        step_groups = read_step(rollout_path(run, step))
        if not first:
            first = step_groups
        groups += len(step_groups) + dropped.get(step, 0)
        equal += dropped.get(step, 0) + sum(len(set(returns(g))) == 1 for g, _ in step_groups)
        for g, _ in step_groups:
            t, s, d = anchor_counts(g)
            turns, shared, diverse = turns + t, shared + s, diverse + d
    scores, labels = igpo_turns(first, gain)
    return {
        "steps": len(steps), "groups": groups,
        "equal_outcome_share": equal / groups if groups else None,
        "decision_turns": turns,
        "anchor_share": shared / turns if turns else None,
        "anchor_diverse_share": diverse / turns if turns else None,
        "igpo_turns": len(scores),
        "igpo_auc": rank_auc(scores, labels) if scores else None,
        "igpo_mean_abs_gain": sum(abs(s) for s in scores) / len(scores) if scores else None,
    }
