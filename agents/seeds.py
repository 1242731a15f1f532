"""Every seed a run derives, in one place: a training run is reproducible (and a resumed run continues
exactly as one that never stopped) because each random choice is seeded from the run's seed and
*where* it happens, never from what ran before it.

* Tasks of RL step ``s``, refill round ``r``: ``random.Random(f"{seed}-{s}-{r}")``  (:func:`task_rng`).
* Episode ``i`` of that step (``i = 100 · r + k·G + j`` in draw order): :func:`episode_seed`.
* Turn ``t`` of an episode (its sample ``j``): the sampling seed :func:`turn_seed`; the rollout
  sets it on every request whose sampling params carry no seed of their own.
* In-process (HF) sampling in lockstep rounds (``trainers.lockstep``): a round's requests are
  sorted by their turn seed and cut into batches of ``max_batch``; each batch is sampled with its
  first request's seed.  Which requests share a round depends only on which episodes are still
  running, so the same weights and seeds give the same tokens.
* SFT step ``s``: the batch is drawn with ``random.Random(sft_seed(seed, s))``.

The multipliers keep the values of one run distinct for up to 1,000 episodes per step, 1,000
samples per task and 100 turns per episode (checked: a value out of range raises).
"""

from __future__ import annotations

import random

EPISODES_PER_STEP = 1000
SAMPLES_PER_TASK = 1000
TURNS_PER_EPISODE = 100


def task_rng(seed: int, step: int, round_: int) -> random.Random:
    return random.Random(f"{seed}-{step}-{round_}")


def episode_seed(seed: int, step: int, index: int) -> int:
    if not 0 <= index < EPISODES_PER_STEP:
        raise ValueError(f"episode index {index} outside [0, {EPISODES_PER_STEP})")
    return (seed * 100_003 + step) * EPISODES_PER_STEP + index


def turn_seed(episode: int, sample: int, turn: int) -> int:
    if not 0 <= sample < SAMPLES_PER_TASK:
        raise ValueError(f"sample {sample} outside [0, {SAMPLES_PER_TASK})")
    # turns past the range wrap: distinct within an episode's first 100 turns, reproducible after them
    return (episode * SAMPLES_PER_TASK + sample) * TURNS_PER_EPISODE + turn % TURNS_PER_EPISODE


def sft_seed(seed: int, step: int) -> int:
    return seed * 1_000_003 + step
