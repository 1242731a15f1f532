"""The synthetic apps: five for training (notes, todo, calendar, settings, mail) and two held out
for test (files, contacts), as GUI-Odyssey holds out apps.  ``render_app(app, seed, theme)`` is a
pure function of its arguments: the same seed gives the same page, texts and goals."""

from __future__ import annotations

import random
from collections.abc import Callable

from envs.gui.apps.base import (
    TEST_THEMES,
    THEMES,
    TRAIN_THEMES,
    AppPage,
    Goal,
    Style,
    goal_met,
)
from envs.gui.apps.heldout import contacts, files
from envs.gui.apps.productivity import calendar, notes, todo
from envs.gui.apps.system import mail, settings

AppBuilder = Callable[[random.Random, Style], tuple[AppPage, list[Goal]]]
APPS: dict[str, AppBuilder] = {"notes": notes, "todo": todo, "calendar": calendar, "settings": settings, "mail": mail,
                               "files": files, "contacts": contacts}
TRAIN_APPS = ("notes", "todo", "calendar", "settings", "mail")
TEST_APPS = ("files", "contacts")


def render_app(app: str, seed: int, theme: str) -> tuple[AppPage, list[Goal]]:
    """The page and goals of ``app`` for ``seed`` in ``theme``."""
    if app not in APPS:
        raise KeyError(f"unknown app {app!r}; known: {sorted(APPS)}")
    if theme not in THEMES:
        raise KeyError(f"unknown theme {theme!r}; known: {sorted(THEMES)}")
    rng = random.Random(f"{app}:{seed}")
    style = Style.draw(rng, theme)
    return APPS[app](rng, style)


__all__ = ["APPS", "TEST_APPS", "TEST_THEMES", "THEMES", "TRAIN_APPS", "TRAIN_THEMES", "AppPage", "Goal", "Style", "goal_met", "render_app"]
