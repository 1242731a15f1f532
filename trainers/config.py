"""``TrainConfig``: everything a training run needs, validated before any model loads.

``load_config(path=None, preset=None, overrides=[])`` builds one from a preset
(``trainers/presets/NAME.yaml``, see :func:`list_presets`), then a YAML file on top of it (nested
keys merge), then ``key.sub=value`` overrides whose values parse as YAML scalars
(``optim.lr=3e-4``, ``lora=null``, ``sampling.stop=[a, b]``).  Unknown keys and bad values raise
:class:`ConfigError`, whose message names each dotted field (``optim.lr: Input should be greater
than 0``), so ``turngym train`` can exit before torch is even imported.

Checks beyond types: ``env`` must be registered (short ids like ``Lookup-v0`` are normalised to
``turngym/Lookup-v0``), ``model`` must be a folder or a known alias, ``credit`` must name a
registered credit method that accepts ``credit_kwargs``, splits must exist, and an SFT ``data``
path must be a file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from agents.policy import SamplingParams
from trainers.config_sections import (  # noqa: F401
    ClusterConfig, InferenceConfig, LearnerConfig, SectionError, SyncConfig, _ScaleOut, _Strict)

PRESET_DIR = Path(__file__).parent / "presets"
SPLIT_NAMES = ("train", "val", "test")


def scripted_source(source: str) -> str | None:
    """What an ``sft.data`` value names: ``"oracle"``, a baseline player's name (``"baseline:NAME"``, or a
    bare name that is no existing file and does not look like a path), or None for a trajectories file."""
    if source == "oracle":
        return "oracle"
    if source.startswith("baseline:"):
        return source.removeprefix("baseline:")
    if Path(source).expanduser().is_file() or source.endswith((".jsonl", ".json")) or "/" in source or "\\" in source:
        return None
    return source


class ConfigError(ValueError):
    """A bad training config; the message names every offending dotted field."""


class OptimConfig(_Strict):
    lr: float = Field(1e-5, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0.0)
    grad_clip: float | None = Field(1.0, gt=0.0)  # max global grad norm; None: no clipping
    warmup_steps: int = Field(0, ge=0)  # linear warm-up from lr/warmup_steps to lr
    schedule: Literal["constant", "linear", "cosine"] = "constant"  # after warm-up; linear/cosine decay to 0

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError(f"each beta must lie in [0, 1), got {list(v)}")
        return v


class LoraConfig(_Strict):
    r: int = Field(16, ge=1)
    alpha: float = Field(32.0, gt=0.0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class LossConfig(_Strict):
    clip_low: float = Field(0.2, ge=0.0, lt=1.0)  # ratio floor 1 - clip_low
    clip_high: float = Field(0.2, ge=0.0)  # ratio ceiling 1 + clip_high (DAPO clip-higher: 0.28)
    dual_clip: float | None = Field(None, gt=1.0)  # for A < 0 the loss is at most -c·A (c = 3 in the paper)
    agg: Literal["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"] = "token-mean"
    agg_constant: float | None = Field(None, gt=0.0)  # seq-mean-token-sum divides each sum by it (Dr.GRPO)
    tis_cap: float | None = Field(2.0, gt=0.0)  # truncated importance sampling cap C; None: off
    kl_coef: float = Field(0.0, ge=0.0)  # KL penalty to the model RL starts from (after SFT); 0: no reference model
    # k3 (default): value ~ KL(π‖ref), gradient ∇KL(ref‖π); k2: gradient ∇KL(π‖ref); k1: value only (trainers.losses)
    kl_estimator: Literal["k1", "k2", "k3"] = "k3"

    @model_validator(mode="after")
    def _constant_needs_token_sum(self) -> LossConfig:
        if self.agg_constant is not None and self.agg != "seq-mean-token-sum":
            raise ValueError("agg_constant only applies to agg 'seq-mean-token-sum' (Dr.GRPO)")
        return self


class SFTConfig(_Strict):
    """The supervised warm start.  Its optimizer is the run's ``optim`` (betas, eps, weight decay, grad
    clip) with the lr, warm-up and schedule below."""

    data: str = "oracle"  # 'oracle' | 'baseline:NAME' (the env's scripted player on the train split) | a trajectories JSONL
    steps: int = Field(200, ge=1)
    lr: float = Field(1e-4, gt=0.0)
    batch_size: int = Field(16, ge=1)
    micro_batch: int = Field(16, ge=1)
    warmup_steps: int = Field(10, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "constant"  # lr after warm-up; linear/cosine decay to 0 at `steps`
    teacher_kwargs: dict[str, Any] = Field(default_factory=dict)  # for data: baseline:NAME, its constructor's keywords
    max_tasks: int | None = Field(None, ge=1)  # oracle tasks to roll out (None: the whole split)
    # keep only trajectories that succeeded; None: False for a scripted teacher (imitate it as it plays,
    # failures included: see trainers.sft), True for a JSONL of samples (rejection sampling)
    successful_only: bool | None = None

    @field_validator("data")
    @classmethod
    def _data_form(cls, v: str) -> str:
        if scripted_source(v) is None and not Path(v).expanduser().is_file():
            raise ValueError(f"must be 'oracle', 'baseline:NAME' or an existing trajectories JSONL file; no file {v!r}")
        if not v.strip() or v == "baseline:":
            raise ValueError("must be 'oracle', 'baseline:NAME' or a trajectories JSONL path, got an empty name")
        return v


class TrainConfig(_ScaleOut):  # _ScaleOut: checks across cluster, inference, servers
    env: str
    train_split: str = "train"
    eval_split: str = "val"
    test_split: str = "test"
    model: str = "tiny"  # a transformers folder, or an alias: tiny | smollm2
    rollout: Literal["hf", "vllm"] = "hf"
    vllm_url: str | None = None  # rollout=vllm and None: the loop starts a server itself
    # several servers: given by URL, or started by the loop; each episode sticks to one, every push reaches all
    vllm_urls: list[str] | None = Field(None, min_length=1)
    vllm_servers: int = Field(1, ge=1)  # servers the loop starts when no URL is given
    credit: str = "grpo"
    credit_kwargs: dict[str, Any] = Field(default_factory=dict)
    group_size: int = Field(8, ge=1)  # samples per task
    tasks_per_step: int = Field(8, ge=1)
    sampling: SamplingParams = Field(default_factory=lambda: SamplingParams(temperature=1.0, max_tokens=64))
    max_turns: int | None = Field(None, ge=1)  # None: the env's default
    # more arguments the env is made with, everywhere the run makes it (rollouts, SFT data, evaluations),
    # e.g. TextWorld-v0's {difficulty: treasure-2, admissible: false}; max_turns has its own field
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    dynamic_sampling: bool = False  # drop groups whose rewards are all equal and draw more tasks
    # context length of the sampler, the same on both backends (the HF policy and the vLLM server the
    # loop starts); an episode that fills it ends with finish_reason "length".  None: the model's own
    max_model_len: int | None = Field(None, ge=16)
    log_entropy: bool = True  # the update's mean entropy metric (one more softmax per sampled token)
    # after each push, score a fixed sequence on the sampler and compare with the learner, and check that
    # every turn of the next batch carries the new policy_version; a mismatch stops the run
    sync_check: bool = True
    sync_timeout: float = Field(600.0, gt=0.0)  # seconds a weight push may take (stages share it) before SyncError
    optim: OptimConfig = Field(default_factory=OptimConfig)
    lora: LoraConfig | None = None  # None: full fine-tune
    loss: LossConfig = Field(default_factory=LossConfig)
    micro_batch: int = Field(8, ge=1)  # sequences per forward/backward
    activation_checkpointing: bool = False  # recompute decoder activations in backward (less memory, ~1/3 more compute)
    updates_per_batch: int = Field(1, ge=1)  # optimizer steps on each rollout batch
    steps: int = Field(100, ge=0)  # RL steps (0: SFT and evaluation only)
    eval_every: int = Field(0, ge=0)  # 0: no periodic evaluation
    eval_tasks: int | None = Field(None, ge=1)  # tasks of eval_split per evaluation (None: all)
    test_tasks: int | None = Field(None, ge=1)  # tasks of test_split in the final evaluation (None: all)
    # held-out evaluations sample at this temperature (0: greedy); > 0 measures the policy as it is trained
    # (success at T = 1 is pass@1 of the sampling policy, the figure RL moves first)
    eval_temperature: float = Field(0.0, ge=0.0)
    checkpoint_every: int = Field(0, ge=0)  # 0: only at the end
    seed: int = 0
    out_dir: str = "runs/train"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: Literal["float32", "bfloat16", "float16"] | None = None  # None: fp32 on CPU, fp32 weights + bf16 autocast on CUDA
    sft: SFTConfig | None = None  # supervised warm start before RL
    cluster: ClusterConfig | None = None  # None: rollouts in this process; set: on Ray workers
    inference: InferenceConfig | None = None  # vLLM servers started as Ray actors (needs cluster); None: see vllm_*
    sync: SyncConfig = Field(default_factory=SyncConfig)  # weight push: backend, shared_dir (servers elsewhere), timeout
    learner: LearnerConfig = Field(default_factory=LearnerConfig)  # learner ranks (may change on resume)

    @field_validator("env")
    @classmethod
    def _env_registered(cls, v: str) -> str:
        from envs import registered
        from envs.registry import env_id

        full = env_id(v)  # raises ValueError on a malformed id
        if full not in registered():
            raise ValueError(f"no registered env {full!r}; registered: {sorted(registered())}")
        return full

    @field_validator("train_split", "eval_split", "test_split")
    @classmethod
    def _split_known(cls, v: str) -> str:
        if v not in SPLIT_NAMES:
            raise ValueError(f"must be one of {list(SPLIT_NAMES)}, got {v!r}")
        return v

    @field_validator("model")
    @classmethod
    def _model_known(cls, v: str) -> str:
        from agents.models import ALIASES

        if v not in ALIASES and not Path(v).expanduser().is_dir():
            raise ValueError(f"no model folder {v!r} and not an alias ({sorted(set(ALIASES))})")
        return v

    @field_validator("device")
    @classmethod
    def _device_form(cls, v: str) -> str:
        if v not in ("auto", "cpu", "cuda") and not (v.startswith("cuda:") and v[5:].isdigit()):
            raise ValueError(f"must be auto, cpu, cuda or cuda:N, got {v!r}")
        return v

    @model_validator(mode="after")
    def _credit_known(self) -> TrainConfig:
        from trainers.credit import credit_methods, get_credit

        if self.credit not in credit_methods():
            raise _field_error("credit", f"unknown credit method {self.credit!r}; known: {credit_methods()}")
        try:
            get_credit(self.credit, **self.credit_kwargs)
        except (TypeError, ValueError) as e:
            raise _field_error("credit_kwargs", f"{self.credit} rejects {self.credit_kwargs}: {e}") from None
        if self.sft is not None:
            self._sft_source_known(self.sft.data, self.sft.teacher_kwargs)
        if self.sampling.top_p < 1.0:  # the samplers report log π over the top-p set; the learner scores the full π_T
            raise _field_error("sampling.top_p", f"is {self.sampling.top_p}: training samples with top_p 1 (the learner's "
                                                 "π_old, π_θ and IS weights are over the full distribution at the temperature)")
        reserved = sorted(set(self.env_kwargs) & {"split", "tasks", "max_turns"})
        if reserved:
            raise _field_error("env_kwargs", f"sets {reserved}: the splits come from train_split/eval_split/test_split, "
                                             "the tasks from the env, and max_turns from its own field")
        if self.rollout == "hf" and self.vllm_url:
            raise _field_error("vllm_url", "is set but rollout is 'hf'; use rollout: vllm")
        self._servers_valid()
        if self.cluster is not None and self.rollout != "vllm":
            raise _field_error("rollout", f"is {self.rollout!r} but cluster is set: the in-process HF policy shares the "
                                          "learner's module and cannot run on a Ray worker; use rollout: vllm")
        return self

    def _servers_valid(self) -> None:
        if self.rollout == "hf" and (self.vllm_urls or self.vllm_servers > 1):
            raise _field_error("vllm_urls" if self.vllm_urls else "vllm_servers", "is set but rollout is 'hf'; use rollout: vllm")
        if self.vllm_url and self.vllm_urls:
            raise _field_error("vllm_urls", "and vllm_url are both set; give one server as vllm_url or all as vllm_urls")
        if (self.vllm_url or self.vllm_urls) and self.vllm_servers > 1:
            raise _field_error("vllm_servers", f"is {self.vllm_servers} but servers are given by URL (vllm_url, vllm_urls)")
        if self.vllm_urls and len({u.rstrip("/").removesuffix("/v1") for u in self.vllm_urls}) != len(self.vllm_urls):
            raise _field_error("vllm_urls", f"lists a server twice: {self.vllm_urls}")

    def _sft_source_known(self, data: str, teacher_kwargs: dict[str, Any]) -> None:
        import inspect

        from envs.registry import entry, resolve

        player = scripted_source(data)
        if teacher_kwargs and player in (None, "oracle"):
            raise _field_error("sft.teacher_kwargs", f"configure a registered baseline (data: 'baseline:NAME'), not {data!r}")
        if player is None:
            return
        found = entry(self.env)
        if player == "oracle" and found.oracle is None:
            raise _field_error("sft.data", f"{self.env} registers no oracle")
        if player != "oracle" and player not in found.baselines:
            raise _field_error("sft.data", f"{data!r} is neither 'oracle', a baseline of {self.env} "
                                           f"({sorted(found.baselines) or 'none'}) nor an existing JSONL file")
        if teacher_kwargs:
            try:
                inspect.signature(resolve(found.baselines[player])).bind(**teacher_kwargs)
            except TypeError as e:
                raise _field_error("sft.teacher_kwargs", f"baseline {player!r} of {self.env} does not take {teacher_kwargs}: {e}") from None

    @model_validator(mode="after")
    def _ranks_supported(self) -> TrainConfig:
        if self.learner.ranks > 1 and self.lora is not None:
            raise _field_error("learner.ranks", f"is {self.learner.ranks}: learner ranks train a full fine-tune only "
                                                "(set lora: null, or learner.ranks: 1)")
        return self

    # -- helpers ---------------------------------------------------------------------------
    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def dump(self, path: str | Path) -> Path:
        """Write the resolved config as YAML (``load_config(path)`` reads it back unchanged)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_yaml(), encoding="utf-8")
        return path

    def config_hash(self) -> str:
        """sha256 of the settings that shape the run (``out_dir``, ``steps`` and where rollouts run, ``cluster``,
        ``vllm_urls``, ``vllm_servers``, ``inference``, ``sync`` and the learner's ``ranks``, may change on resume)."""
        data = self.model_dump(mode="json", exclude={"out_dir", "steps", "cluster", "vllm_urls", "vllm_servers", "learner",
                                                     "inference", "sync"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _field_error(field: str, message: str) -> SectionError:
    return SectionError(field, message)


# -- loading --------------------------------------------------------------------------------------
def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"preset: no preset {name!r}; available: {list_presets()}")
    return path


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{what}: cannot read {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{what}: {path} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: {path} must hold a mapping of settings, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_override(data: dict[str, Any], override: str) -> dict[str, Any]:
    """Set ``a.b.c=value`` in ``data`` (value parsed as a YAML scalar/flow value)."""
    import yaml

    key, sep, raw = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {override!r}: expected key=value (e.g. optim.lr=1e-4)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: value {raw!r} is not a YAML value: {e}") from None
    parts = key.split(".")
    out = dict(data)
    node = out
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts[:depth + 1])}: is {child!r}, not a section with sub-keys")
        node[part] = dict(child)
        node = node[part]
    node[parts[-1]] = value
    return out


def format_validation_error(error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        field = getattr(err.get("ctx", {}).get("error"), "field", None)
        if field and not loc:  # a model-level check that names its own field
            lines.append(msg)
            continue
        got = repr(err.get("input"))
        shown = f" (got {got if len(got) <= 60 else got[:57] + '...'})" if err["type"] != "missing" and loc else ""
        lines.append(f"{loc or 'config'}: {msg}{shown}")
    return "; ".join(lines)


def validate_config(data: dict[str, Any]) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e)) from None


def load_config(path: str | Path | None = None, preset: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """A validated :class:`TrainConfig` from a preset, then a YAML file, then ``key=value`` overrides."""
    data: dict[str, Any] = {}
    if preset:
        data = _read_yaml(preset_path(preset), "preset")
    if path is not None:
        data = _merge(data, _read_yaml(Path(path), "config"))
    data.pop("compare", None)  # a compare file's own section (trainers.compare_config): not a training setting
    for override in overrides:
        data = apply_override(data, override)
    return validate_config(data)
