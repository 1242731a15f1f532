"""TextWorld-v0's task sets: generated games at graded difficulty, and a user's own game files.

A difficulty (:data:`DIFFICULTIES`) names a challenge, the settings its train/val games draw from,
the settings its test games draw from (levels, or recipe and room combinations, never used in
train), a turn budget and split sizes.  Tasks are listed without building anything; a game is built
(and cached) the first time an episode plays it (:func:`envs.textworld.games.ensure_game`).

Held out by construction: every split draws its seeds from its own range (train 0.., val 10^6..,
test 2·10^6..), so no game file is shared; ``test`` uses other levels (coin collector: a quest length
train never has; treasure hunter: held-out levels), and the cooking game's test recipes draw their
ingredients and preparations from TextWorld's own ``test`` food split, in houses of a size train
never has (medium and hard).

:func:`load_game_files` lists a folder (or one file) of ``.z8`` games a user has (``tw-make``'s, with
the ``game.json`` TextWorld writes beside each, or any Z-machine game Jericho plays) as tasks.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from envs.tasks import SPLITS, ListTaskSet, Split, Task
from envs.textworld.games import GameSpec

SEED_BASE = {"train": 0, "val": 1_000_000, "test": 2_000_000}


class Difficulty(BaseModel):
    challenge: str
    train: list[dict[str, Any]]  # settings train and val games cycle through
    test: list[dict[str, Any]]  # settings of the test games (held out)
    max_turns: int
    sizes: dict[str, int] = {"train": 400, "val": 40, "test": 100}
    description: str = ""


def _levels(levels: list[int]) -> list[dict[str, Any]]:
    return [{"level": level} for level in levels]


def _cooking(split: str, go: int, **skills: Any) -> list[dict[str, Any]]:
    return [{"recipe_seed": 0, "split": split, "go": go, **skills}]


_COOK_2 = {"recipe": 2, "take": 2, "open": True, "cut": True}
_COOK_3 = {"recipe": 3, "take": 3, "open": True, "cook": True, "cut": True, "drop": True}

DIFFICULTIES: dict[str, Difficulty] = {
    # Coin collector: levels 1-100 are a chain of (level) rooms with the route in the opening text;
    # 101-200 add dead-end rooms along the chain.  The walkthrough is `level` commands.
    "coin-1": Difficulty(challenge="coin", train=_levels([1, 2, 4]), test=_levels([3]), max_turns=12,
                         sizes={"train": 160, "val": 40, "test": 100},
                         description="coin collector, quests of 1-4 commands (test: 3, unseen in train)"),
    "coin-2": Difficulty(challenge="coin", train=_levels([102, 103, 105, 106]), test=_levels([104]), max_turns=20,
                         description="coin collector with dead-end rooms, quests of 2-6 (test: 4)"),
    "coin-3": Difficulty(challenge="coin", train=_levels([108, 110, 114]), test=_levels([112]), max_turns=40,
                         description="coin collector with dead-end rooms, quests of 8-14 (test: 12)"),
    # Treasure hunter: find the object the opening text names (easy 1-10: 5 empty rooms; medium 11-20:
    # 10 rooms, closed doors and containers; hard 21-30: 20 rooms, locked doors and containers, keys).
    "treasure-1": Difficulty(challenge="treasure", train=_levels([1, 2, 3, 5, 6, 8, 9, 10]), test=_levels([4, 7]), max_turns=20,
                             description="treasure hunter, easy (test levels 4 and 7)"),
    "treasure-2": Difficulty(challenge="treasure", train=_levels([11, 12, 13, 15, 16, 18, 19, 20]), test=_levels([14, 17]),
                             max_turns=40, description="treasure hunter, medium (test levels 14 and 17)"),
    "treasure-3": Difficulty(challenge="treasure", train=_levels([21, 22, 23, 25, 26, 28, 29, 30]), test=_levels([24, 27]),
                             max_turns=60, description="treasure hunter, hard (test levels 24 and 27)"),
    # The cooking game (First TextWorld Problems): read the cookbook, gather and prepare, eat the meal.
    "cooking-1": Difficulty(challenge="cooking", train=_cooking("train", 1, recipe=1, take=1), test=_cooking("test", 1, recipe=1, take=1),
                            max_turns=15, description="cooking, 1 ingredient, 1 room (test: held-out foods)"),
    "cooking-2": Difficulty(challenge="cooking", train=_cooking("train", 6, **_COOK_2), test=_cooking("test", 9, **_COOK_2),
                            max_turns=50, description="cooking, 2 ingredients to open/cut, 6 rooms (test: held-out foods, 9 rooms)"),
    "cooking-3": Difficulty(challenge="cooking", train=_cooking("train", 9, **_COOK_3), test=_cooking("test", 12, **_COOK_3),
                            max_turns=80, description="cooking, 3 ingredients, all skills, 9 rooms (test: held-out foods, 12 rooms)"),
}
DEFAULT_DIFFICULTY = "coin-1"
USER_GAMES_MAX_TURNS = 100


def difficulty_spec(name: str) -> Difficulty:
    if name not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {sorted(DIFFICULTIES)}, got {name!r}")
    return DIFFICULTIES[name]


def game_spec(name: str, split: Split, index: int) -> GameSpec:
    """The game of task ``index`` of ``split`` at difficulty ``name``."""
    spec = difficulty_spec(name)
    settings = spec.test if split == "test" else spec.train
    chosen = dict(settings[index % len(settings)])
    if spec.challenge == "cooking" and split == "val":
        chosen["split"] = "valid"  # TextWorld's own validation foods
    return GameSpec(challenge=spec.challenge, settings=chosen, seed=SEED_BASE[split] + index)


@functools.lru_cache(maxsize=None)
def load_textworld_tasks(name: str = DEFAULT_DIFFICULTY, sizes: tuple[tuple[str, int], ...] | None = None) -> ListTaskSet:
    """The tasks of difficulty ``name`` (``sizes``: split sizes instead of the difficulty's); builds nothing."""
    spec = difficulty_spec(name)
    counts = dict(sizes) if sizes else spec.sizes
    tasks = []
    for split in SPLITS:
        for i in range(counts.get(split, 0)):
            game = game_spec(name, split, i)
            tasks.append(Task(id=f"textworld/{name}/{split}/{i:04d}", split=split,
                              prompt=f"TextWorld {spec.challenge} game {game.key()}",
                              data={"game": game.model_dump(), "difficulty": name}))
    return ListTaskSet(tasks)


def tasks_coin_1() -> ListTaskSet:  # the registry's zero-argument loader (the default difficulty)
    return load_textworld_tasks(DEFAULT_DIFFICULTY)


def load_game_files(path: str | Path, split: Split = "test") -> ListTaskSet:
    """A user's games as tasks, all in ``split``: ``path`` is a ``.z8``/``.z5``... file or a folder searched
    recursively.  Glulx (``.ulx``) games need TextWorld < 1.7 and are refused with that reason."""
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"no games at {root}")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    if any(p.suffix == ".ulx" for p in files):
        raise ValueError(f"{root}: Glulx (.ulx) games are not supported by textworld 1.7 (it dropped Glulx); "
                         "rebuild them as .z8 (tw-make --format z8) or use TextWorld < 1.7")
    games = [p for p in files if p.suffix[:2] == ".z" and p.suffix[2:].isdigit()]
    if not games:
        raise ValueError(f"no Z-machine games (.z1-.z8) under {root}")
    tasks = []
    for p in games:
        digest = hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:8]
        tasks.append(Task(id=f"textworld/user/{p.stem}-{digest}", split=split, prompt=f"TextWorld game {p.name}",
                          data={"file": str(p.resolve())}))
    return ListTaskSet(tasks)
