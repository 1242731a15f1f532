"""Lookup-v0 data: generated key/code tables, deterministic, with disjoint keys per split.

Every task asks for the code of one key.  Its table (``task.data["table"]``) maps keys to what
``lookup`` returns: a 3-digit code, or a redirect ``see "KEY"`` to another key of the table.
Kinds, by share: ``direct`` (the key has a code; 40 %), ``redirect`` (the key points to a second
key that has the code: 2 hops; 40 %), ``missing`` (the key is not in the table; the answer is
``none``; 20 %).  ``task.data["chain"]`` lists the keys the oracle looks up, in order.

Keys are 4-letter consonant-vowel pseudo-words.  The key pool is shuffled once with a fixed seed
and cut into three disjoint slices, so no key of ``test`` (or ``val``) ever appears in ``train``:
a policy can only solve a held-out task by reading the tool's answer, never from memory.
"""

from __future__ import annotations

import functools
import random

from envs.tasks import ListTaskSet, Task

DATA_VERSION = "lookup-v1"
SIZES = {"train": 2000, "val": 200, "test": 300}
_CONSONANTS = "bdfghklmnprstvz"
_VOWELS = "aeiou"
_SEED = 20261201


def key_pool() -> list[str]:
    """All keys, shuffled once with a fixed seed."""
    keys = [a + b + c + d for a in _CONSONANTS for b in _VOWELS for c in _CONSONANTS for d in _VOWELS]
    random.Random(_SEED).shuffle(keys)
    return keys


def _split_keys() -> dict[str, list[str]]:
    """Disjoint key slices per split, each big enough for two keys per task."""
    pool, out, start = key_pool(), {}, 0
    for split, n in SIZES.items():
        out[split] = pool[start:start + 2 * n]
        start += 2 * n
    return out


def make_task(split: str, index: int, key: str, other: str, rng: random.Random) -> Task:
    roll = rng.random()
    code = f"{rng.randrange(100, 1000)}"
    if roll < 0.4:
        kind, table, chain, answer = "direct", {key: code}, [key], code
    elif roll < 0.8:
        kind, table, chain, answer = "redirect", {key: f'see "{other}"', other: code}, [key, other], code
    else:
        kind, table, chain, answer = "missing", {other: code}, [key], "none"
    return Task(
        id=f"lookup-{split}-{index:04d}", split=split, prompt=f'Code of "{key}"?', answer=answer,
        data={"table": table, "chain": chain, "kind": kind},
    )


@functools.lru_cache(maxsize=1)
def load_lookup_tasks() -> ListTaskSet:
    """All splits (2,500 tasks), generated in a few milliseconds."""
    tasks = []
    for split, keys in _split_keys().items():
        rng = random.Random(f"{_SEED}-{split}")
        for i in range(SIZES[split]):
            tasks.append(make_task(split, i, keys[2 * i], keys[2 * i + 1], rng))
    return ListTaskSet(tasks)
