"""A small arithmetic ToolEnv (sums of two integers) shared by the agents/ and ToolEnv tests."""

import asyncio

from agents import Episode, RolloutConfig, rollout
from agents.scripted import call
from envs.core import ToolEnv
from envs.registry import register
from envs.tasks import ListTaskSet, Task
from tools import ToolError, tool

# Sums are >= 100 so that RandomPolicy (integers in [-2, 20]) can never answer correctly.
PAIRS = {"train": [(50, 60), (70, 80), (90, 95), (100, 1)], "val": [(55, 66)], "test": [(77, 88)]}
TASKS = ListTaskSet(
    [
        Task(id=f"{split}{i}", split=split, prompt=f"What is {a} + {b}?", answer=str(a + b), data={"a": a, "b": b})
        for split, pairs in PAIRS.items()
        for i, (a, b) in enumerate(pairs)
    ]
)
TRAIN_IDS = ["train0", "train1", "train2", "train3"]


class ArithEnv(ToolEnv):
    family = "arith"
    default_max_turns = 4

    def __init__(self, split="train", max_turns=None, **kw):
        super().__init__(TASKS, split=split, max_turns=max_turns, **kw)
        self.closed = 0

    @tool
    def add(self, a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: The first.
            b: The second.
        """
        return a + b

    @tool(ends_episode=True)
    def answer(self, value: int) -> str:
        """Submit the final answer; ends the episode.

        Args:
            value: The sum.
        """
        if value < -1000:
            raise ToolError("that is far too small")
        correct = value == int(self.task.answer)
        self.finish(1.0 if correct else 0.0, answered=value)
        return "correct" if correct else "wrong"

    def close(self):
        self.closed += 1
        super().close()


def arith_plan(turn: int, info: dict) -> str:
    value = int(info["answer"])
    return call("add", a=value, b=0) if turn == 0 else call("answer", value=value)


# An env built directly (ArithEnv()) finds this oracle through its family; override: the module may
# be imported under two names.
register("Arith-v0", ArithEnv, tasks=TASKS, oracle=arith_plan, override=True,
         description="sums of two integers (the agents/ and ToolEnv tests)")


def episodes(ids, **kw):
    return [Episode(task_id=t, seed=i, **kw) for i, t in enumerate(ids)]


def run(policy, eps, config=None, make_env=ArithEnv, **kw):
    return asyncio.run(rollout(make_env, policy, eps, config or RolloutConfig(retry_backoff=0), env_id="arith", **kw))
