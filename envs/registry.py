"""The env registry: ``turngym/<Name>-v<N>`` ids on top of ``gymnasium.register``.

``register`` records the env in turngym's own table (for ``turngym list``) and in gymnasium's,
so ``gymnasium.make("turngym/SQL-v0", split="test")`` works once turngym (or ``envs``) has been
imported.  Third-party packages add envs through the entry-point group ``turngym.envs``: each
entry point names a function that calls :func:`register` (or a module that does so on import);
they are loaded once, on first import of ``envs``.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict

NAMESPACE = "turngym"
ENTRY_POINT_GROUP = "turngym.envs"
_ID = re.compile(r"^(?:turngym/)?([A-Za-z][A-Za-z0-9_.]*)-v(\d+)$")


class EnvEntry(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    entry_point: str | Callable[..., Any]
    kwargs: dict[str, Any] = {}
    description: str = ""


_REGISTRY: dict[str, EnvEntry] = {}
_plugins_loaded = False


def env_id(name: str) -> str:
    """Normalize ``"SQL-v0"`` or ``"turngym/SQL-v0"`` to ``"turngym/SQL-v0"``."""
    m = _ID.match(name)
    if not m:
        raise ValueError(f"env id must look like 'turngym/Name-v0', got {name!r}")
    return f"{NAMESPACE}/{m.group(1)}-v{m.group(2)}"


def register(
    name: str,
    entry_point: str | Callable[..., Any],
    *,
    kwargs: dict[str, Any] | None = None,
    description: str = "",
    override: bool = False,
) -> str:
    """Register an env; returns its full id.  ``entry_point`` is ``"module:Class"`` or a callable.

    ``kwargs`` are defaults passed to the constructor; ``gymnasium.make(id, **kw)`` overrides them.
    Registering an existing id raises unless ``override=True``.
    """
    full_id = env_id(name)
    if full_id in _REGISTRY and not override:
        raise ValueError(f"{full_id} is already registered (pass override=True to replace it)")
    if not (callable(entry_point) or (isinstance(entry_point, str) and ":" in entry_point)):
        raise ValueError(f"entry_point must be 'module:Class' or a callable, got {entry_point!r}")
    _REGISTRY[full_id] = EnvEntry(id=full_id, entry_point=entry_point, kwargs=kwargs or {}, description=description)
    gym.register(id=full_id, entry_point=entry_point, kwargs=kwargs or {}, disable_env_checker=True)
    return full_id


def registered() -> dict[str, EnvEntry]:
    """All turngym envs, plugins included."""
    load_plugins()
    return dict(_REGISTRY)


def make(name: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` for a turngym id, returning the unwrapped env (no passive checker)."""
    load_plugins()
    full_id = env_id(name)
    if full_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no env {full_id!r}; registered: {known}")
    return gym.make(full_id, **kwargs).unwrapped


def load_plugins(force: bool = False) -> list[str]:
    """Load the ``turngym.envs`` entry points; returns the names loaded.  A broken plugin warns."""
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
            if callable(target):
                target()
            loaded.append(ep.name)
        except Exception as e:  # one bad plugin must not take the others (or the CLI) down
            warnings.warn(f"turngym plugin {ep.name!r} ({ep.value}) failed to load: {e!r}", stacklevel=2)
    return loaded


def resolve(entry_point: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(entry_point):
        return entry_point
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)
