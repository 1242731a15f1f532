"""Hand-built trajectories for the credit-method tests (no env, no model), and a probe-call counter."""

from __future__ import annotations

import contextlib

from agents.trajectory import Trajectory, Turn


def traj(
    outcome: float = 0.0,
    turns: int = 1,
    valid: list[bool] | None = None,
    states: list[str] | None = None,
    start: str = "S0",
    truncated: bool = False,
    success: bool | None = None,
    tool_calls: dict[str, int] | None = None,
    sample: int = 0,
    task: str = "t1",
    failed: bool = False,
) -> Trajectory:
    """``turns`` turns; reward 0 on every turn but the last (the outcome, 0 if truncated)."""
    valid = valid or [True] * turns
    states = states or [f"{start}-{sample}-{t}" for t in range(turns)]
    out = []
    for t in range(turns):
        last = t == turns - 1
        info = {"valid_action": valid[t], "state_key": states[t], "turn": t + 1}
        if last:
            info.update(outcome=outcome, success=bool(outcome >= 1.0) if success is None else success, tool_calls=tool_calls or {})
        out.append(Turn(action=f"action {t}", observation=[{"role": "tool", "content": f"obs {t}"}],
                        reward=outcome if last else 0.0, terminated=last and not truncated, truncated=last and truncated, info=info))
    return Trajectory(env_id="turngym/Test-v0", task_id=task, split="train", sample=sample, messages=[{"role": "user", "content": "q"}],
                      turns=out, reset_info={"state_key": start, "answer": "42"}, failed=failed,
                      finish_reason="error" if failed else ("max_turns" if truncated else "stop"))


@contextlib.contextmanager
def counting_score_answers(policy):
    """Record how many probes each ``policy.score_answers`` call gets (the list yielded), then restore it."""
    calls: list[int] = []
    original = policy.score_answers

    async def counting(prefixes, answers, **kwargs):
        calls.append(len(prefixes))
        return await original(prefixes, answers, **kwargs)

    policy.score_answers = counting
    try:
        yield calls
    finally:
        del policy.score_answers
