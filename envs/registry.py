"""The env registry: ``turngym/<Name>-v<N>`` ids on top of ``gymnasium.register``.

``register`` records the env in turngym's own table (for ``turngym list`` and the scripted
players) and in gymnasium's, so ``gymnasium.make("turngym/SQL-v0", split="test")`` works once
turngym (or ``envs``) has been imported.  Third-party packages add envs through the entry-point
group ``turngym.envs``: each entry point names a function that calls :func:`register` (or a module
that does so on import); they are loaded once, on first import of ``envs``.

Besides the env itself an entry may name, each as an object or a lazy ``"module:attr"`` string:

* ``tasks``: the env's task set (or a function returning it), so ``turngym list`` reports split
  sizes without constructing an env (no sandbox, server or browser starts);
* ``oracle``: an :data:`OraclePlan` that solves a task from the ground truth.  It is *privileged*:
  it reads the episode's reset info (the answer), which only the oracle policy is handed;
* ``built``: for task sets whose first build needs more than CPU (GUITrace-v0 records its traces in
  Chromium), a function telling whether they are built; ``turngym list`` shows such a set as not
  built instead of building it;
* ``baselines``: named :class:`Player` factories (e.g. Search-v0's ``answer-only``).  A player is
  not privileged: it sees only what a model sees, the conversation and the tool specs;
* ``probe_template``: how an agent writes this env's answer, as the text of its answer tool call
  with ``{answer}`` where the answer goes (``tools.call("answer", value="{answer}")``).  Information-
  gain credit (IGPO) scores the ground truth inside it, so the probe is what the policy would write;
  None (the default): the env's answer is not something the agent writes verbatim (a SQL result,
  a JSON-escaped program, a product id), and IGPO needs an explicit ``probe_template`` there.

The scripted policies of ``agents`` find these through the entry, so a family's oracle and
baselines live in the family (``envs/<family>/oracle.py``) and ``agents`` holds no family code.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
from pydantic import BaseModel, ConfigDict

from envs.tasks import TaskSet

NAMESPACE = "turngym"
ENTRY_POINT_GROUP = "turngym.envs"
_ID = re.compile(r"^(?:turngym/)?([A-Za-z][A-Za-z0-9_.]*)-v(\d+)$")

OraclePlan = Callable[[int, dict[str, Any]], str]
"""``(assistant turns so far, the episode's reset info) -> the next action text``."""


@runtime_checkable
class Player(Protocol):
    """A scripted baseline: the next action from the conversation so far and the tool specs."""

    name: str

    def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str: ...


class EnvEntry(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    entry_point: str | Callable[..., Any]
    kwargs: dict[str, Any] = {}
    description: str = ""
    tasks: str | TaskSet | Callable[[], TaskSet] | None = None
    oracle: str | Callable[[int, dict[str, Any]], str] | None = None
    baselines: dict[str, str | Callable[[], Any]] = {}
    built: str | Callable[[], bool] | None = None
    probe_template: str | None = None

    def tasks_built(self) -> bool:
        """False only when the entry names a ``built`` check and it says the tasks are not built yet."""
        if self.built is None:
            return True
        check = resolve(self.built) if isinstance(self.built, str) else self.built
        return bool(check())

    def family(self) -> str | None:
        """The env class's ``family`` (imports the env's module; constructs nothing), or None when the
        module cannot be imported here (an optional dependency missing) or the entry point is a function."""
        try:
            target = resolve(self.entry_point)
        except Exception:  # e.g. GUI envs without playwright: they cannot be this episode's env anyway
            return None
        return getattr(target, "family", None) if inspect.isclass(target) else None


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
    tasks: str | TaskSet | Callable[[], TaskSet] | None = None,
    oracle: str | OraclePlan | None = None,
    baselines: dict[str, str | Callable[[], Player]] | None = None,
    built: str | Callable[[], bool] | None = None,
    probe_template: str | None = None,
    override: bool = False,
) -> str:
    """Register an env; returns its full id.  ``entry_point`` is ``"module:Class"`` or a callable.

    ``kwargs`` are defaults passed to the constructor; ``gymnasium.make(id, **kw)`` overrides them.
    ``tasks``, ``oracle``, ``baselines`` and ``probe_template`` are described in the module docstring.
    Registering an existing id raises unless ``override=True``.
    """
    full_id = env_id(name)
    if full_id in _REGISTRY and not override:
        raise ValueError(f"{full_id} is already registered (pass override=True to replace it)")
    targets = {"entry_point": entry_point, "tasks": tasks, "oracle": oracle, "built": built,
               **{f"baselines[{k!r}]": v for k, v in (baselines or {}).items()}}
    for field, value in targets.items():
        if value is None or (field == "tasks" and isinstance(value, TaskSet)):
            continue
        if not _is_target(value):
            also = ", a TaskSet" if field == "tasks" else ""
            raise ValueError(f"{field} must be 'module:attr'{also} or a callable, got {value!r}")
    for player in baselines or {}:
        if player in ("oracle", "random") or ":" in player:
            raise ValueError(f"baseline name {player!r} is taken by a built-in policy or spec")
    if probe_template is not None and (not isinstance(probe_template, str) or probe_template.count("{answer}") != 1):
        raise ValueError(f"probe_template must be a string holding '{{answer}}' once, got {probe_template!r}")
    _REGISTRY[full_id] = EnvEntry(
        id=full_id, entry_point=entry_point, kwargs=kwargs or {}, description=description,
        tasks=tasks, oracle=oracle, baselines=dict(baselines or {}), built=built, probe_template=probe_template,
    )
    gym.register(id=full_id, entry_point=entry_point, kwargs=kwargs or {}, disable_env_checker=True)
    return full_id


def registered() -> dict[str, EnvEntry]:
    """All turngym envs, plugins included."""
    load_plugins()
    return dict(_REGISTRY)


def entry(name: str) -> EnvEntry:
    """The registry entry of ``name`` (``"SQL-v0"`` or ``"turngym/SQL-v0"``); KeyError if unknown."""
    load_plugins()
    full_id = env_id(name)
    if full_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no env {full_id!r}; registered: {known}")
    return _REGISTRY[full_id]


def make(name: str, /, **kwargs: Any) -> gym.Env:
    """``gymnasium.make`` for a turngym id, returning the unwrapped env (no passive checker)."""
    return gym.make(entry(name).id, **kwargs).unwrapped


# Env arguments that never change which tasks an env has: they need no env built to find its tasks.
TASK_NEUTRAL_KWARGS = frozenset({"split", "max_turns", "render_mode", "max_observation_chars"})


def task_set(name: str, **env_kwargs: Any) -> TaskSet:
    """The env's tasks: from its registered ``tasks`` when it has one, else from a constructed env.

    ``env_kwargs`` are the arguments the env is made with; any besides the task-neutral ones
    (:data:`TASK_NEUTRAL_KWARGS`) may choose other tasks (TextWorld's ``difficulty``, a ``games`` path),
    so the tasks then come from an env constructed with them."""
    found = entry(name)
    choosing = {k: v for k, v in env_kwargs.items() if k not in TASK_NEUTRAL_KWARGS}
    if found.tasks is None or choosing:
        env = make(found.id, **choosing)
        try:
            return env.tasks
        finally:
            env.close()
    target = resolve(found.tasks) if isinstance(found.tasks, str) else found.tasks
    return target if isinstance(target, TaskSet) else target()


# ----- scripted players ----------------------------------------------------------------------
# ``register(..., oracle=..., baselines=...)`` is the one way to register scripted players: every
# lookup below (eval's ``--policy``, SFT's ``data: oracle``/``baseline:NAME``, an oracle found by the
# episode's env family) reads the env entries and nothing else.
REMOVED = {
    "register_oracle": "pass oracle= to turngym.register(...)",
}
"""Names removed from the public API, with the form that replaces each."""


def removed(module: str, name: str) -> Any:
    """A module ``__getattr__``: ImportError naming the new form for a removed name (so both
    ``from agents import register_oracle`` and ``agents.register_oracle(...)`` say what to use)."""
    if name in REMOVED:
        raise ImportError(f"{name} was removed: {REMOVED[name]}", name=module)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def oracle_for(name: str) -> OraclePlan:
    """The oracle plan registered with env ``name``."""
    found = entry(name)
    if found.oracle is None:
        raise LookupError(f"{found.id} registers no oracle")
    return resolve(found.oracle)


def family_oracle(family: str | None) -> OraclePlan:
    """The oracle of the first registered env of ``family`` that registers one (for an env built
    directly, whose episodes name only their family)."""
    with_oracle = [e for e in registered().values() if e.oracle is not None]
    for found in with_oracle:
        if found.family() == family:
            return oracle_for(found.id)
    known = sorted({e.family() for e in with_oracle} - {None})
    raise KeyError(f"no oracle plan for env family {family!r}; known: {known}")


def baseline(name: str, player: str, /, **kwargs: Any) -> Player:
    """A fresh instance of env ``name``'s baseline ``player`` (``kwargs`` go to its constructor)."""
    found = entry(name)
    if player not in found.baselines:
        raise LookupError(f"{found.id} has no baseline {player!r}; it has: {sorted(found.baselines) or 'none'}")
    return resolve(found.baselines[player])(**kwargs)


def __getattr__(name: str) -> Any:
    return removed(__name__, name)


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


def resolve(target: Any) -> Any:
    """``"module:attr"`` imported; anything else returned as is."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _is_target(value: Any) -> bool:
    if isinstance(value, str):
        module, _, attr = value.partition(":")
        return bool(module and attr)
    return callable(value)
