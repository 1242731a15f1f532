"""What ``turngym compare`` runs: the training config, plus per-method settings in a ``compare:`` section.

A compare YAML is a training config (preset and ``--set`` overrides as for ``turngym train``) with
one more top-level section, read here and removed before the training config is validated::

    compare:
      seeds: 6                  # seeds per method: config.seed, +1, ...
      baseline: grpo            # what the paired differences are taken against
      target: null              # episodes-to-target threshold; null: the baseline's final mean val success
      bootstrap: 10000          # bootstrap resamples of the paired mean difference (seeded by ci_seed)
      plan: |                   # the plan, fixed before the runs: the report's first section (see trainers.compare.fix_plan)
        Primary: final held-out success, paired per seed against grpo ...
      methods:                  # name -> its settings; {} or null: the defaults
        grpo: {}
        drgrpo: {}              # loss defaults to agg seq-mean-token-sum, agg_constant = max_tokens x max_turns
        igpo: {credit_kwargs: {gamma: 0.9}}     # probe_template defaults to the env's (envs.registry)
        gigpo: {dynamic_sampling: true, loss: {clip_high: 0.28}}

Per method only three things may differ, everything else (budget, SFT start, task order, seeds,
evaluation) is the config's: ``credit_kwargs`` (on top of the config's own ``credit_kwargs`` when
the method is the config's ``credit``), ``loss`` (fields of ``loss`` set over the config's) and
``dynamic_sampling`` (null: the config's).  ``--method-set igpo.credit_kwargs.gamma=0.9`` sets the
same from the command line.  Every method's config is built and validated before anything trains;
an error names the field (``compare.methods.igpo.credit_kwargs: ...``).  A method whose signal the
env cannot give (IGPO where the env declares no answer probe template) is refused there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainers.config import (
    ConfigError,
    TrainConfig,
    _merge,
    _read_yaml,
    apply_override,
    format_validation_error,
    preset_path,
    validate_config,
)
from trainers.credit.base import env_credit_kwargs

DEFAULT_METHODS = ("grpo", "igpo", "spa", "gigpo")
SECTION = "compare"
PER_METHOD = ("credit", "credit_kwargs", "loss", "dynamic_sampling")  # the only fields that differ between methods


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MethodSettings(_Strict):
    credit_kwargs: dict[str, Any] = Field(default_factory=dict)
    loss: dict[str, Any] = Field(default_factory=dict)  # LossConfig fields over the config's loss
    dynamic_sampling: bool | None = None  # None: the config's


class CompareConfig(_Strict):
    methods: dict[str, MethodSettings] = Field(default_factory=lambda: {m: MethodSettings() for m in DEFAULT_METHODS})
    seeds: int = Field(3, ge=1)
    baseline: str = "grpo"
    target: float | None = Field(None, ge=0.0, le=1.0)
    bootstrap: int = Field(10_000, ge=100)
    ci_seed: int = 0
    plan: str | None = None  # written into OUT/plan.json before the first run trains; later calls must give the same

    @field_validator("methods", mode="before")
    @classmethod
    def _none_is_default(cls, v: Any) -> Any:
        return {k: (s if s is not None else {}) for k, s in v.items()} if isinstance(v, dict) else v

    @field_validator("methods")
    @classmethod
    def _known(cls, v: dict[str, MethodSettings]) -> dict[str, MethodSettings]:
        from trainers.credit import credit_methods

        if not v:
            raise ValueError("name at least one credit method")
        unknown = [m for m in v if m not in credit_methods()]
        if unknown:
            raise ValueError(f"unknown credit methods {unknown}; known: {credit_methods()}")
        return v

    def baseline_name(self) -> str:
        """``baseline`` when it is compared, else the first method."""
        return self.baseline if self.baseline in self.methods else next(iter(self.methods))


def validate_compare(data: dict[str, Any]) -> CompareConfig:
    try:
        return CompareConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError("; ".join(f"{SECTION}.{part}" for part in format_validation_error(e).split("; "))) from None


def method_defaults(config: TrainConfig, method: str) -> dict[str, Any]:
    """A method's own defaults under the user's settings: Dr.GRPO's loss aggregation (a fixed constant
    K = sampling.max_tokens × max_turns, the most tokens an episode can sample: Dr.GRPO's MAX_TOKENS)."""
    if method != "drgrpo":
        return {}
    if config.max_turns is None:
        return {"loss": {"agg": "seq-mean-token-sum"}}  # K is asked for in method_config
    return {"loss": {"agg": "seq-mean-token-sum", "agg_constant": float(config.sampling.max_tokens * config.max_turns)}}


def method_config(config: TrainConfig, method: str, settings: MethodSettings | None = None) -> TrainConfig:
    """The training config of ``method``: the config with this method's credit, kwargs, loss and filter."""
    settings = settings or MethodSettings()
    where = f"{SECTION}.methods.{method}"
    kwargs = {**(config.credit_kwargs if method == config.credit else {}), **settings.credit_kwargs}
    try:
        kwargs = env_credit_kwargs(method, config.env, kwargs)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    loss = config.loss.model_dump(mode="json")
    own = method_defaults(config, method).get("loss", {})
    loss.update(own)
    loss.update(settings.loss)
    if "agg_constant" not in settings.loss and loss["agg"] != "seq-mean-token-sum":
        loss["agg_constant"] = None  # a default K only goes with the aggregation it belongs to
    if method == "drgrpo" and loss["agg"] == "seq-mean-token-sum" and loss["agg_constant"] is None:
        raise ConfigError(f"{where}.loss.agg_constant: set it, or max_turns (Dr.GRPO's default K is "
                          "sampling.max_tokens x max_turns)")
    data = config.model_dump(mode="json")
    data.update(credit=method, credit_kwargs=kwargs, loss=loss,
                dynamic_sampling=config.dynamic_sampling if settings.dynamic_sampling is None else settings.dynamic_sampling)
    try:
        return validate_config(data)
    except ConfigError as e:
        raise ConfigError("; ".join(f"{where}.{part}" for part in str(e).split("; "))) from None


def plan_methods(config: TrainConfig, cmp: CompareConfig) -> dict[str, TrainConfig]:
    """Every method's config, validated before anything trains."""
    if not config.eval_every:
        raise ConfigError("eval_every: must be > 0 for learning curves (held-out success vs episodes)")
    plans = {m: method_config(config, m, s) for m, s in cmp.methods.items()}
    base = {k: v for k, v in config.model_dump(mode="json").items() if k not in PER_METHOD}
    for m, cfg in plans.items():  # the budget, SFT start, tasks, seeds and evaluation are the same for all
        if {k: v for k, v in cfg.model_dump(mode="json").items() if k not in PER_METHOD} != base:
            raise RuntimeError(f"{m}: its config differs from the others beyond {PER_METHOD}")
    return plans


def split_section(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the training config, the ``compare:`` section) of a merged YAML mapping."""
    data = dict(data)
    section = data.pop(SECTION, None) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{SECTION}: must be a mapping of settings, got {type(section).__name__}")
    return data, section


def load_compare(path: str | Path | None = None, preset: str | None = None, overrides: Sequence[str] = (),
                 methods: Sequence[str] | None = None, method_sets: Sequence[str] = (),
                 seeds: int | None = None) -> tuple[TrainConfig, CompareConfig]:
    """The training config and the compare settings: preset, then the file (each may hold a ``compare:``
    section), then ``--set`` overrides; ``methods`` (``--methods``) picks and orders the methods (their
    settings from the section), ``method_sets`` are ``NAME.FIELD=VALUE`` (``--method-set``)."""
    data: dict[str, Any] = {}
    if preset:
        data = _read_yaml(preset_path(preset), "preset")
    if path is not None:
        data = _merge(data, _read_yaml(Path(path), "config"))
    data, section = split_section(data)
    for override in overrides:
        data = apply_override(data, override)
    config = validate_config(data)
    listed = dict(section.get("methods") or {m: {} for m in DEFAULT_METHODS})
    if methods is not None:
        listed = {m: listed.get(m) or {} for m in methods}
    section = {**section, "methods": listed}
    for item in method_sets:
        name = item.partition(".")[0]
        if methods is not None and name not in methods:
            raise ConfigError(f"--method-set {item!r}: {name!r} is not among --methods {list(methods)}")
        section = apply_override(section, f"methods.{item}")
    if seeds is not None:
        section["seeds"] = seeds
    cmp = validate_compare(section)
    plan_methods(config, cmp)  # fail fast: every method's config, and the env's signals, before anything trains
    return config, cmp


def as_compare_config(methods: Sequence[str] | Mapping[str, Any] | CompareConfig, seeds: int | None = None) -> CompareConfig:
    """A :class:`CompareConfig` from method names, a ``{name: settings}`` mapping or one already built."""
    if isinstance(methods, CompareConfig):
        return methods if seeds is None else methods.model_copy(update={"seeds": seeds})
    listed = {m: {} for m in methods} if not isinstance(methods, Mapping) else dict(methods)
    data: dict[str, Any] = {"methods": {m: s.model_dump() if isinstance(s, MethodSettings) else s for m, s in listed.items()}}
    if seeds is not None:
        data["seeds"] = seeds
    return validate_compare(data)
