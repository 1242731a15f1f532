"""An I/O-bound env and a seeded token policy for the Ray rollout tests and bench/cluster.py.

Ray workers import this module (``EnvSpec.imports``), which registers ``SleepArith-v0``: the arith
env of tests/arith_env.py whose every step sleeps ``step_sleep`` seconds, and whose step on a task
listed in ``hang`` never returns (sleeps ``HANG`` seconds).  :class:`SeededTokenPolicy` plays the
sums token by token with a character tokenizer: its answer, token ids and logprobs follow from each
turn's sampling seed alone, so the same seeds give the same trajectories anywhere.
"""

from __future__ import annotations

import re
import time

from agents.policy import Completion
from agents.tokens import ChatRenderer, TokenConversation
from envs import register, registered
from tests.arith_env import TASKS, ArithEnv, arith_plan
from tests.test_policy_protocol import EOS, CharTokenizer
from tools import call

HANG = 3600.0
ENV_ID = "turngym/SleepArith-v0"


class SleepArithEnv(ArithEnv):
    def __init__(self, split="train", max_turns=None, step_sleep: float = 0.05, hang: tuple[str, ...] = (), **kw):
        super().__init__(split=split, max_turns=max_turns, **kw)
        self.step_sleep, self.hang = step_sleep, tuple(hang)

    def step(self, action):
        time.sleep(HANG if self.task is not None and self.task.id in self.hang else self.step_sleep)
        return super().step(action)


if ENV_ID not in registered():
    register("SleepArith-v0", "tests.cluster_env:SleepArithEnv", tasks=TASKS, oracle=arith_plan,
             description="arith sums whose steps sleep (Ray rollout tests)")


class SeededTokenPolicy:
    """A token policy with no model: adds, then answers the sum, wrong when the turn seed says so."""

    name = "seeded-tokens"

    def __init__(self, wrong_every: int = 3):
        self.renderer = ChatRenderer(CharTokenizer())
        self.policy_version = 0
        self.wrong_every = wrong_every

    def start_conversation(self, messages):
        return TokenConversation(self.renderer, messages)

    async def generate_tokens(self, convs, sampling):
        out = []
        for conv in convs:
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)\?", self.renderer.decode(conv.prompt_ids)).groups())
            seed = sampling.seed or 0
            if not conv.turns:
                text = call("add", a=a, b=b)
            else:
                text = call("answer", value=a + b + (1 if seed % self.wrong_every == 0 else 0))
            ids = self.renderer.encode(text) + [EOS]
            logprobs = [-((seed * 7 + k) % 13) / 10 for k in range(len(ids))]
            out.append(Completion(text=text, token_ids=ids, logprobs=logprobs, finish_reason="stop",
                                  policy_version=self.policy_version))
        return out

    async def generate(self, requests, sampling):
        raise AssertionError("a token policy is driven through generate_tokens")

    async def score_answers(self, prefixes, answers):
        return [0.0 for _ in answers]
