"""``trainers.compare_checks``: manipulation checks from a run's saved rollouts, on hand-made groups."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from agents.trajectory import Trajectory, Turn
from trainers.compare_checks import anchor_counts, run_checks
from trainers.credit.base import Signals
from trainers.rollout_log import write_step_rollouts


def traj(task: str, sample: int, steps: list[tuple[str, str]], outcome: float) -> Trajectory:
    """``steps``: (action, state_key after it); the last turn ends the episode with ``outcome``."""
    turns = [Turn(action=a, observation=[], reward=0.0, info={"state_key": k}) for a, k in steps]
    turns[-1] = Turn(action=steps[-1][0], observation=[], reward=outcome, terminated=True,
                     info={"state_key": steps[-1][1], "outcome": outcome, "success": outcome > 0})
    return Trajectory(env_id="turngym/Lookup-v0", task_id=task, split="train", sample=sample, messages=[], turns=turns,
                      reset_info={"state_key": f"{task}:start", "answer": "x"})


def test_checks_from_saved_rollouts(tmp_path: Path):
    # task a: both samples act from the same start with different actions (an anchor group of 2, diverse);
    # their second turns start from different states (singletons). Outcomes 1 and 0.
    a = [traj("a", 0, [("lookup k1", "a:k1"), ("answer 7", "a:end")], 1.0), traj("a", 1, [("lookup k2", "a:k2"), ("answer 3", "a:end")], 0.0)]
    # task b: both answer at once, the same action (an anchor group of 2, not diverse), both succeed (equal outcomes)
    b = [traj("b", 0, [("answer 5", "b:end")], 1.0), traj("b", 1, [("answer 5", "b:end")], 1.0)]
    assert anchor_counts(a) == (4, 2, 2) and anchor_counts(b) == (2, 2, 0)
    probes = Signals(answer_logprobs=[[math.log(0.2), math.log(0.5)], [math.log(0.2), math.log(0.1)]])
    write_step_rollouts(tmp_path, 1, [a, b], {"igpo": [[[0.0, 0.0], [0.0, 0.0]], [[0.0], [0.0]]]},
                        [probes, Signals(answer_logprobs=[[0.0], [0.0]])])
    write_step_rollouts(tmp_path, 2, [b], {"igpo": [[[0.0], [0.0]]]}, [None])
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1, "groups_dropped": 0}) + "\n"
                                            + json.dumps({"step": 2, "groups_dropped": 2}) + "\n")
    c = run_checks(tmp_path)
    assert c["steps"] == 2 and c["groups"] == 5  # 2 + 1 saved, 2 dropped by dynamic sampling
    assert c["equal_outcome_share"] == pytest.approx(4 / 5)  # b twice, and the two dropped groups
    assert c["decision_turns"] == 8 and c["anchor_share"] == pytest.approx(6 / 8) and c["anchor_diverse_share"] == pytest.approx(2 / 8)
    # step 1 (the SFT model's rollouts): gains r_1 = .5 - .2 = .3 (a success) and .1 - .2 = -.1 (a failure)
    assert c["igpo_turns"] == 2 and c["igpo_auc"] == 1.0 and c["igpo_mean_abs_gain"] == pytest.approx(0.2)


def test_checks_of_a_run_without_rollouts(tmp_path: Path):
    c = run_checks(tmp_path)
    assert c["groups"] == 0 and c["equal_outcome_share"] is None and c["igpo_auc"] is None and c["anchor_share"] is None
