"""The ``CreditMethod`` contract: one advantage per turn of every trajectory in a group.

A *group* is the G samples drawn for one task in one training step.  Infrastructure failures
(``Trajectory.failed``) are left out of a group by the caller (and counted in the metrics);
episodes the policy ruined itself stay in with the reward they earned.

``assign(group, signals) -> list[list[float]]`` returns, for trajectory ``i``, a list with one
float per turn (``len(group[i].turns)`` values).  The trainer spreads turn ``t``'s advantage
over the tokens the policy sampled in that turn (``Trajectory.turn_spans()[t]``).

``needs`` names the extra model signals a method asks for; the loop computes them (batched)
before calling ``assign`` and passes them in :class:`Signals`, aligned with ``group``:

* ``answer_probe``: ``answer_logprobs[i][t]`` = mean log-prob of the ground-truth answer after
  the first ``t`` turns of trajectory ``i`` (``t = 0``: the question alone), so ``T_i + 1``
  values when the probe after the last turn is available, else ``T_i``.
* ``progress``: ``progress[i][t]`` = the progress estimator's c_t for turn ``t``.
* ``entropy``: ``entropy[i][t]`` = mean token entropy of the policy over turn ``t``'s tokens.

Methods are pure given their inputs, so each one is unit-tested with hand-computed numbers.
Register a method with :func:`register_credit`; look one up with :func:`get_credit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agents.trajectory import Trajectory

SIGNALS = ("answer_probe", "progress", "entropy")


@dataclass
class Signals:
    """Extra per-turn model signals for one group, aligned with the group's trajectories."""

    answer_logprobs: list[list[float]] | None = None
    progress: list[list[float]] | None = None
    entropy: list[list[float]] | None = None

    def require(self, field: str, group_size: int) -> list[list[float]]:
        value = getattr(self, field)
        if value is None:
            raise ValueError(f"this credit method needs signals.{field}, which the caller did not compute")
        if len(value) != group_size:
            raise ValueError(f"signals.{field} has {len(value)} rows for a group of {group_size}")
        return value


@runtime_checkable
class CreditMethod(Protocol):
    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    # the pseudo-response an answer probe scores, with "{answer}" where the answer goes (IGPO: how
    # the agent states an answer, e.g. its answer tool call); register_credit gives "{answer}" by default
    probe_template: str

    def assign(self, group: Sequence[Trajectory], signals: Signals | None = None) -> list[list[float]]:
        """One advantage per turn per trajectory of ``group``."""
        ...


_CREDIT: dict[str, Callable[..., CreditMethod]] = {}


def register_credit(cls: type) -> type:
    """Class decorator: register a credit method under its ``name`` (unique)."""
    name = getattr(cls, "name", None)
    if not name:
        raise ValueError(f"{cls.__name__} needs a class attribute 'name'")
    unknown = set(getattr(cls, "needs", frozenset())) - set(SIGNALS)
    if unknown:
        raise ValueError(f"{cls.__name__}.needs names unknown signals {sorted(unknown)}; known: {list(SIGNALS)}")
    if not isinstance(getattr(cls, "probe_template", "{answer}"), str) or "{answer}" not in getattr(cls, "probe_template", "{answer}"):
        raise ValueError(f"{cls.__name__}.probe_template must be a string holding '{{answer}}'")
    if not hasattr(cls, "probe_template"):
        cls.probe_template = "{answer}"
    if name in _CREDIT and _CREDIT[name] is not cls:
        raise ValueError(f"credit method {name!r} is already registered by {_CREDIT[name].__name__}")
    _CREDIT[name] = cls
    return cls


def get_credit(name: str, /, **kwargs: Any) -> CreditMethod:
    """An instance of the credit method registered as ``name`` (keyword arguments go to it)."""
    import trainers.credit  # noqa: F401  (registers the built-in methods)

    if name not in _CREDIT:
        raise KeyError(f"unknown credit method {name!r}; known: {sorted(_CREDIT)}")
    return _CREDIT[name](**kwargs)


def credit_methods() -> list[str]:
    import trainers.credit  # noqa: F401

    return sorted(_CREDIT)


def broadcast(values: Sequence[float], group: Sequence[Trajectory]) -> list[list[float]]:
    """One value per trajectory, repeated on each of its turns (outcome-only methods)."""
    return [[float(v)] * len(t.turns) for v, t in zip(values, group, strict=True)]


def env_credit_kwargs(method: str, env: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` completed from the env for methods that read it (IGPO's probe template); ValueError
    when the env cannot give the method's signal."""
    credit_methods()  # registers the built-in methods
    hook = getattr(_CREDIT[method], "env_kwargs", None)
    return hook(env, kwargs) if hook is not None else dict(kwargs)
