"""Reproducible in-process rollouts: all active episodes' requests go to the model as one batch.

:class:`agents.hf_policy.HFPolicy` batches whatever requests arrive within a short wait, so which
requests share a batch (and so the sampled tokens, seeded per batch) depends on timing.
:class:`LockstepPolicy` wraps it for training: it holds requests until every episode still
running has sent one (a *round*), then samples the round as batches of ``max_batch`` in a fixed
order (by request seed), each seeded with its first request's seed.  Same weights and same
seeds give the same trajectories, which a resumed run relies on.  Episodes report their end
through :meth:`LockstepPolicy.episode_done` (the rollout's ``on_done``) so a round never waits
for an episode that has finished.  The rollout must run every episode at once
(``concurrency >= len(episodes)``); :func:`lockstep_rollout` does that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from agents.policy import Completion, SamplingParams
from agents.rollout import Episode, RolloutConfig, rollout
from agents.tokens import ContextExhausted, TokenConversation
from agents.trajectory import Trajectory


class LockstepPolicy:
    def __init__(self, inner: Any):
        self.inner = inner
        self.name = inner.name
        self.renderer = inner.renderer
        self.active = 0
        self._pending: list[tuple[int, list[int], SamplingParams, asyncio.Future]] = []

    @property
    def policy_version(self) -> int:
        return self.inner.policy_version

    @policy_version.setter
    def policy_version(self, value: int) -> None:
        self.inner.policy_version = value

    def start_conversation(self, messages: Sequence[dict]) -> TokenConversation:
        return self.inner.start_conversation(messages)

    async def score_answers(self, prefixes, answers, **kwargs) -> list[float]:
        return await self.inner.score_answers(prefixes, answers, **kwargs)

    def begin(self, episodes: int) -> None:
        self.active, self._pending = episodes, []

    async def generate_tokens(self, convs: Sequence[TokenConversation], sampling: SamplingParams) -> list[Completion]:
        loop = asyncio.get_running_loop()
        futures = []
        for conv in convs:
            if conv.room(self.inner.max_model_len) < 1:
                raise ContextExhausted(f"{len(conv.ids)} tokens fill the {self.inner.max_model_len}-token context")
            fut = loop.create_future()
            self._pending.append((sampling.seed if sampling.seed is not None else 0, list(conv.ids), sampling, fut))
            futures.append(fut)
        self._maybe_flush()
        return list(await asyncio.gather(*futures))

    async def generate(self, requests, sampling):
        return await self.generate_tokens([self.start_conversation(r.messages) for r in requests], sampling)

    def episode_done(self, _traj: Trajectory | None = None) -> None:
        self.active -= 1
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self._pending and len(self._pending) >= self.active:
            round_, self._pending = sorted(self._pending, key=lambda p: p[0]), []
            asyncio.get_running_loop().create_task(self._sample(round_))

    async def _sample(self, round_: list) -> None:
        size = max(1, int(getattr(self.inner, "max_batch", len(round_))))
        for i in range(0, len(round_), size):
            chunk = round_[i:i + size]
            sampling = chunk[0][2].model_copy(update={"seed": chunk[0][0]})
            try:
                results = await asyncio.to_thread(self.inner.generate_ids, [c[1] for c in chunk], sampling)
            except Exception as e:  # noqa: BLE001  (handed to each caller: the rollout retries or marks it failed)
                for c in chunk:
                    if not c[3].done():
                        c[3].set_exception(e)
                continue
            for c, r in zip(chunk, results):
                if not c[3].done():
                    c[3].set_result(r)


def lockstep_rollout(make_env: Callable[[], Any], policy: Any, episodes: Sequence[Episode], sampling: SamplingParams,
                     env_id: str = "", on_done: Callable[[Trajectory], None] | None = None) -> list[Trajectory]:
    """``agents.rollout.rollout`` of every episode at once; lockstep rounds when ``policy`` is a LockstepPolicy."""
    config = RolloutConfig(concurrency=max(1, len(episodes)), sampling=sampling)
    lockstep = isinstance(policy, LockstepPolicy)

    def done(traj: Trajectory) -> None:
        if lockstep:
            policy.episode_done(traj)
        if on_done:
            on_done(traj)

    async def run() -> list[Trajectory]:
        if lockstep:
            policy.begin(len(episodes))
        return await rollout(make_env, policy, episodes, config, env_id=env_id, on_done=done)

    return asyncio.run(run())
