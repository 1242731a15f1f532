"""GUI tasks and splits, built into ``$TURNGYM_HOME/gui-v1``.

A live task (``turngym/GUI-v0``) is one goal on one app seed: ``data`` holds ``app``, ``seed``,
``theme``, ``template``, ``goal`` (index), ``kind``, ``expect`` (the success conditions on the
app state) and ``plan`` (the oracle's steps); ``prompt`` is the goal text; ``answer`` is the
success conditions as JSON.  Splits (GUI-Odyssey style, held out by construction):

* ``train``: the five training apps, training themes, instruction templates 0-1, seeds 0..;
* ``val``: the same apps, themes and templates on held-out seeds (100000..);
* ``test``: the two held-out apps (files, contacts; any theme, any template, seeds 200000..) plus
  the training apps in the held-out themes (sunset, mono) with the held-out template 2
  (seeds 300000..).

Live tasks need no browser to build; traces (:mod:`envs.gui.traces`) do.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from pydantic import BaseModel

from envs.gui.apps import (
    TEST_APPS,
    TEST_THEMES,
    THEMES,
    TRAIN_APPS,
    TRAIN_THEMES,
    render_app,
)
from envs.tasks import (
    JsonlTaskSet,
    Split,
    Task,
    build_atomically,
    cache_root,
    load_built,
)

DATA_VERSION = "gui-v1"
SEED_BASE: dict[str, int] = {"train": 0, "val": 100_000, "test_apps": 200_000, "test_themes": 300_000}


class GUISizes(BaseModel):
    """Seeds per app in each part of the splits (each seed gives 2-3 goals)."""

    train: int = 24
    val: int = 4
    test_apps: int = 12
    test_themes: int = 3


def app_tasks(sizes: GUISizes | None = None) -> list[Task]:
    """Every live task of every split, in a fixed order."""
    sizes = sizes or GUISizes()
    tasks: list[Task] = []
    parts: list[tuple[Split, str, tuple[str, ...], tuple[str, ...], tuple[int, ...], int]] = [
        ("train", "train", TRAIN_APPS, TRAIN_THEMES, (0, 1), sizes.train),
        ("val", "val", TRAIN_APPS, TRAIN_THEMES, (0, 1), sizes.val),
        ("test", "test_apps", TEST_APPS, tuple(THEMES), (0, 1, 2), sizes.test_apps),
        ("test", "test_themes", TRAIN_APPS, TEST_THEMES, (2,), sizes.test_themes),
    ]
    for split, part, apps, themes, templates, count in parts:
        for app in apps:
            for k in range(count):
                seed = SEED_BASE[part] + k
                rng = random.Random(f"task:{app}:{seed}")
                theme = rng.choice(themes)
                page, goals = render_app(app, seed, theme)
                for g, goal in enumerate(goals):
                    template = rng.choice(templates)
                    data = {"app": app, "seed": seed, "theme": theme, "template": template, "goal": g, "kind": goal.kind,
                            "expect": goal.expect, "plan": goal.plan, "params": goal.params}
                    tasks.append(Task(id=f"gui-{app}-{seed}-{g}", split=split, prompt=goal.texts[template],
                                      answer=json.dumps(goal.expect), data=data, meta={"app_title": page.title}))
    return tasks


def live_root() -> Path:
    return cache_root() / DATA_VERSION / "live"


def build_live(root: Path, sizes: GUISizes | None = None) -> float:
    return build_atomically(root, lambda tmp: JsonlTaskSet.write(tmp, app_tasks(sizes)))


def load_live_tasks(root: str | Path | None = None) -> JsonlTaskSet:
    """The live tasks (built on first use; no browser needed)."""
    return load_built(Path(root) if root else live_root(), JsonlTaskSet, build_live)
