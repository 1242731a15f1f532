"""Vault tasks: generated chains of rooms, deterministic, with disjoint door labels per split.

A task of a K-room chain (``load_vault_tasks(K)``) holds, per room, its two door labels in the
order the room lists them and the right one (``task.data["rooms"]``: ``[{"doors": [a, b], "right":
b}, ...]``), and the code: one random digit per room (``task.answer``, K digits, leading zeros
allowed).  ``task.data["route"]`` lists the right doors in order (the oracle's path).

Door labels are 3-letter consonant-vowel-consonant pseudo-words.  The pool is shuffled once with a
fixed seed and cut into three disjoint slices (train 625, val 200, test 300 labels), and each split
draws its tasks from its own seeded generator, so no label of ``val`` or ``test`` is ever seen in
``train``: a policy solves a held-out chain only by reading the sign, never from memory.
"""

from __future__ import annotations

import functools
import random

from envs.tasks import ListTaskSet, Task

DATA_VERSION = "vault-v2"  # v2: 600 test tasks (the first 300 are v1's)
SIZES = {"train": 2000, "val": 200, "test": 600}  # test: the >= 500 held-out tasks a confirmatory run scores
LABELS_PER_SPLIT = {"train": 625, "val": 200, "test": 300}
MAX_ROOMS = 12
_CONSONANTS = "bdfghklmnprstvz"
_VOWELS = "aeiou"
_SEED = 20261220


def label_pool() -> list[str]:
    """All 1,125 door labels, shuffled once with a fixed seed."""
    labels = [a + b + c for a in _CONSONANTS for b in _VOWELS for c in _CONSONANTS]
    random.Random(_SEED).shuffle(labels)
    return labels


def split_labels() -> dict[str, list[str]]:
    """Disjoint label slices, one per split."""
    pool, out, start = label_pool(), {}, 0
    for split, n in LABELS_PER_SPLIT.items():
        out[split] = pool[start:start + n]
        start += n
    return out


def room_text(room: int, rooms: int, code_so_far: str, doors: list[str], right: str, key: str | None = None) -> str:
    """What room ``room`` (1-based) of a ``rooms``-room chain shows; ``key``: "no"/"yes" in room 1 of the key variant."""
    shown = [*doors, "side"] if key is not None else doors
    text = f"Room {room}/{rooms}. Code {code_so_far or '-'}. Doors: {' '.join(shown)}. Sign: {right}."
    return text + (f" Key: {key}." if key is not None else "")


def vault_text(code: str) -> str:
    return f"Vault. Code {code}."


def make_task(split: str, index: int, rooms: int, labels: list[str], rng: random.Random) -> Task:
    plan, digits = [], []
    for _ in range(rooms):
        right, wrong = rng.sample(labels, 2)
        doors = [right, wrong] if rng.random() < 0.5 else [wrong, right]
        plan.append({"doors": doors, "right": right})
        digits.append(str(rng.randrange(10)))
    first = plan[0]
    return Task(
        id=f"vault{rooms}-{split}-{index:04d}", split=split, answer="".join(digits),
        prompt=room_text(1, rooms, "", first["doors"], first["right"]),
        data={"rooms": plan, "route": [p["right"] for p in plan]},
    )


@functools.lru_cache(maxsize=None)
def load_vault_tasks(rooms: int = 3) -> ListTaskSet:
    """All splits (2,800 tasks) of ``rooms``-room chains, generated in milliseconds."""
    if not 1 <= rooms <= MAX_ROOMS:
        raise ValueError(f"rooms must lie in 1..{MAX_ROOMS}, got {rooms}")
    tasks = []
    for split, labels in split_labels().items():
        rng = random.Random(f"{_SEED}-{split}-{rooms}")
        tasks += [make_task(split, i, rooms, labels, rng) for i in range(SIZES[split])]
    return ListTaskSet(tasks)


# zero-argument task loaders for the registry (``tasks="envs.vault.data:tasks_3"``)
def tasks_2() -> ListTaskSet:
    return load_vault_tasks(2)


def tasks_3() -> ListTaskSet:
    return load_vault_tasks(3)


def tasks_6() -> ListTaskSet:
    return load_vault_tasks(6)
