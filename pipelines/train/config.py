"""The training configuration: one typed schema from the recipe down to the model constructors.

A recipe is a YAML file whose keys mirror :class:`TrainConfig`; ``base: other.yaml``
(relative to the file) inherits another recipe and overrides it key by key. Command-line
overrides use the same dotted names::

    bno-train stage1 --config configs/quick.yaml --set stage1.lr=3e-3 --set workers=0
    bno-train config stage1            # every key: type, bounds, default, meaning

The schema is pydantic (strict, frozen, closed): an unknown key, a value of the wrong type
(``per_channel_guide: "yes"``), a non-finite number (``--set stage1.lr=inf``) or a number
out of its bounds is one :class:`ConfigError` line naming where it came from and the key
path, raised by :func:`load_config` before any data is read::

    configs/x.yaml: model.bno.bilateral.per_channel_guide: Input should be a valid boolean

The recipe's ``model.bno`` / ``model.neurop`` sections *are* the model configs
(:class:`~bno.model.BNOConfig`, :class:`~bno.model.NeurOpConfig`), minus two keys the
trainer owns: the chain is ``model.operators`` (shared by both kinds) and the slider
mapping is filled in by stage 1. The resolved config is written into each run directory
(``config.yaml``) and is what ``--resume`` reads back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field, Strict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bno.model import BNOConfig, NeurOpConfig

from bno.schema import DEVICE_PATTERN, Real, Schema, first_problem
from bno.pipelines.train.losses import LOSSES

__all__ = [
    "ConfigError",
    "LOSS_NAMES",
    "MODEL_KINDS",
    "SCHEDULES",
    "ModelConfig",
    "Stage1Config",
    "Stage2Config",
    "StageConfig",
    "TrainConfig",
    "apply_overrides",
    "config_to_dict",
    "load_config",
]

LOSS_NAMES = tuple(LOSSES)  # see bno.pipelines.train.losses
SCHEDULES = ("constant", "cosine", "step")
MODEL_KINDS = ("bno", "neurop")


class ConfigError(ValueError):
    """A bad recipe or override; one line naming its source and the key path."""


# --------------------------------------------------------------------------- value types

def _int(low: int, high: int) -> Any:
    """A whole number in ``[low, high]`` (strict: ``1.0``, ``true`` and ``"3"`` are not integers)."""
    return Annotated[int, Strict(), Field(ge=low, le=high)]


Count = _int(0, 10**9)  # steps, images, pairs: 0 … 10⁹
Positive = _int(1, 10**9)  # epochs, intervals: 1 … 10⁹
BatchSize = _int(1, 65536)
Side = _int(0, 16384)  # an image side in px (0 = a stage-specific meaning)
Workers = _int(0, 256)
Threads = _int(0, 4096)
Seed = _int(0, 2**32 - 1)
NonNegative = Annotated[Real, Field(ge=0)]
Fraction = Annotated[Real, Field(ge=0, le=1)]
Beta = Annotated[Real, Field(ge=0, lt=1)]
LossName = Literal[LOSS_NAMES]  # type: ignore[valid-type]
IdText = Annotated[str, Strict(), Field(min_length=1)]
OperatorCode = Annotated[str, Strict(), Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=32)]
#: Crop side: 0 (stage 2: NeurOp's crops) or 8 … 16384 px.
MIN_CROP = 8


# --------------------------------------------------------------------------- the schema


class ModelConfig(Schema):
    """Which model and operators, plus each kind's constructor options (so ``--model`` can switch)."""

    #: Keys of the model configs the trainer sets: the chain (model.operators) and, after stage 1, the sliders.
    TRAINER_KEYS: ClassVar[tuple[str, ...]] = ("operators", "sliders")

    kind: Literal[MODEL_KINDS] = Field(  # type: ignore[valid-type]
        "bno", description="bno (Bilateral Neural Operators) or neurop (the exact NeurOp baseline)"
    )
    operators: Annotated[tuple[OperatorCode, ...], Strict(False), Field(min_length=1, max_length=64)] = Field(
        ("BC", "EX", "WB", "VB"), description="operator codes, applied in this order (both kinds)"
    )
    bno: BNOConfig = Field(BNOConfig(), description="BNOConfig: the Bilateral Neural Operators' constructor options")
    neurop: NeurOpConfig = Field(NeurOpConfig(), description="NeurOpConfig: the NeurOp baseline's constructor options")

    @field_validator("bno", "neurop", mode="before")
    @classmethod
    def _no_trainer_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in cls.TRAINER_KEYS:
                if key in value:
                    owner = "model.operators (one chain for both kinds)" if key == "operators" else "stage 1"
                    raise PydanticCustomError("trainer_key", "{key} is set by {owner}, not here", {"key": key, "owner": owner})
        return value

    @field_validator("operators")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({code for code in value if value.count(code) > 1})
        if repeated:
            raise ValueError(f"operator codes must be distinct, {repeated[0]!r} repeats")
        return value

    @property
    def options(self) -> dict[str, Any]:
        """The selected kind's constructor options as plain data (without the trainer's keys)."""
        return getattr(self, self.kind).model_dump(mode="json", exclude=set(self.TRAINER_KEYS))


class StageConfig(Schema):
    """Settings shared by both stages (optimiser, schedule, batching, checkpoints)."""

    epochs: Positive = Field(10, description="epochs of this stage")
    steps_per_epoch: Count = Field(100, description="optimiser steps per epoch")
    batch_size: BatchSize = Field(8, description="global batch (split evenly across DDP ranks)")
    crop_size: Side = Field(128, description="square random crop side, px")
    lr: Real = Field(1e-3, gt=0, description="Adam learning rate (finite, > 0)")
    betas: Annotated[tuple[Beta, Beta], Strict(False)] = Field((0.9, 0.99), description="Adam betas (the seed: 0.9 / 0.99)")
    weight_decay: NonNegative = Field(0.0, description="AdamW-style decoupled weight decay (0 = plain Adam)")
    schedule: Literal[SCHEDULES] = Field("cosine", description="learning-rate schedule per step")  # type: ignore[valid-type]
    warmup_steps: Count = Field(0, description="linear warm-up steps before the schedule")
    min_lr_ratio: Fraction = Field(0.05, description="cosine: final lr = lr × this; step: factor applied at each milestone")
    step_milestones: Annotated[tuple[Fraction, ...], Strict(False)] = Field(
        (0.5, 0.75), description="step schedule: fractions of the run where the lr drops"
    )
    grad_clip: Annotated[Real, Field(gt=0)] | None = Field(
        None, description="clip the global gradient norm to this (null = off)"
    )
    losses: dict[LossName, NonNegative] = Field(
        default_factory=lambda: {"l1": 1.0}, min_length=1, description="loss name → weight (at least one weight > 0)"
    )
    flips: bool = Field(True, description="random horizontal/vertical flips")
    rot90: bool = Field(True, description="random 90° rotations (square crops only)")
    checkpoint_every: Count = Field(0, description="also save the resumable 'last' checkpoint every N steps (0 = per epoch only)")
    eval_every: Positive = Field(1, description="validate every N epochs (and always after the last)")

    @field_validator("grad_clip", mode="before")
    @classmethod
    def _zero_clip_is_off(cls, value: Any) -> Any:
        """``0`` meant "off" in the run directories written before this schema: read it as null."""
        return None if type(value) in (int, float) and value == 0 else value

    @field_validator("losses")
    @classmethod
    def _some_weight(cls, value: dict[str, float]) -> dict[str, float]:
        if not any(weight > 0 for weight in value.values()):
            raise ValueError("every loss weight is 0: nothing would be trained")
        return value

    @field_validator("crop_size")
    @classmethod
    def _sane_crop(cls, value: int) -> int:
        if 0 < value < MIN_CROP:
            raise ValueError(f"a crop side of {value} px is too small (0 or >= {MIN_CROP})")
        return value


class Stage1Config(StageConfig):
    """Stage 1: each operator alone on (A, B) pairs of one scene, strength (l_B − l_A)/(N − 1)."""

    steps_per_epoch: Positive = Field(100, description="optimiser steps per epoch")
    crop_size: Annotated[int, Strict(), Field(ge=MIN_CROP, le=16384)] = Field(128, description="square random crop side, px")
    identity_weight: NonNegative = Field(1.0, description="weight of the identity term L(op(A, 0), A)")
    eval_pairs_per_scene: Positive = Field(8, description="held-out (A, B) pairs per test scene and operator (fixed by the seed)")
    eval_max_side: Side = Field(0, description="resize held-out images so the long side is at most this, px (0 = full size)")


class Stage2Config(StageConfig):
    """Stage 2: the whole chain + strength predictor on expert pairs."""

    epochs: Positive = Field(20, description="epochs of this stage")
    steps_per_epoch: Count = Field(0, description="optimiser steps per epoch (0 = one pass over the training images)")
    batch_size: BatchSize = Field(1, description="global batch (split evenly across DDP ranks)")
    crop_size: Side = Field(0, description="square random crop side, px (0 = NeurOp's (h−20…h−1, w−20…w−1), batch 1)")
    lr: Real = Field(5e-5, gt=0, description="Adam learning rate (finite, > 0)")
    schedule: Literal[SCHEDULES] = Field("constant", description="learning-rate schedule per step")  # type: ignore[valid-type]
    losses: dict[LossName, NonNegative] = Field(
        default_factory=lambda: {"l1": 1.0, "cosine": 0.1, "tv": 0.1}, min_length=1,
        description="loss name → weight (at least one weight > 0)",
    )
    val_max_images: Count = Field(0, description="validate on at most this many images (0 = all)")
    val_from_train: Count = Field(
        0, description="hold out this many training pairs (seeded choice) to validate on; 0 = the test split (NeurOp's practice)"
    )
    val_ids: Annotated[tuple[IdText, ...], Strict(False)] = Field(
        (), description="or hold out these training pair ids (e.g. every shot of one photo) to validate on"
    )
    zero_init_heads: bool = Field(
        False, description="start every strength head at 0 (the chain starts as stage 1's identity); NeurOp: random"
    )
    jitter_exposure: Annotated[Real, Field(ge=0, le=3)] = Field(
        0.0, description="shift each training input's exposure by a uniform ±this many EV (the target stays): the predictor learns to undo exposure errors"
    )
    jitter_temperature: Annotated[Real, Field(ge=0, le=300)] = Field(
        0.0, description="shift each training input's white balance by a uniform ±this many mired (the target stays)"
    )
    operator_lr_scale: NonNegative = Field(
        1.0, description="the operators' lr = lr × this (0 freezes stage 1's operators; the predictor always trains)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Stage2Config":
        if self.crop_size == 0 and self.batch_size != 1:
            raise ValueError("crop_size 0 (NeurOp crops h−20…h−1) needs batch_size 1 (the images differ in size)")
        if self.val_ids and self.val_from_train:
            raise ValueError("val_ids and val_from_train both hold out training pairs: set one of them")
        return self


class TrainConfig(Schema):
    """A whole training recipe (both stages share the model, seed and device settings)."""

    seed: Seed = Field(
        0, description="base seed: crops, pair sampling, shuffling and init derive from (seed, epoch, step)"
    )
    device: Annotated[str, Strict()] = Field("auto", description="auto (CUDA when present, else CPU) | cpu | cuda | cuda:N | mps")
    amp: bool = Field(True, description="bfloat16 autocast on CUDA (ignored on CPU); slicing stays float32")
    workers: Workers = Field(2, description="DataLoader worker processes (0 = load in the training process)")
    threads: Threads = Field(0, description="torch CPU threads (0 = torch's default)")
    cache_images: bool = Field(True, description="decode each image once and keep it in memory (small datasets)")
    progress: bool = Field(True, description="tqdm progress bar per epoch (loss, images/s, ETA)")
    tensorboard: bool = Field(True, description="also log to TensorBoard when it is installed")
    model: ModelConfig = Field(ModelConfig(), description="the model")
    stage1: Stage1Config = Field(Stage1Config(), description="stage 1")
    stage2: Stage2Config = Field(Stage2Config(), description="stage 2")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if not DEVICE_PATTERN.match(value):
            raise ValueError(f"expected auto, cpu, cuda, cuda:N or mps, got {value!r}")
        return value


# --------------------------------------------------------------------------- plain data


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    """Plain YAML/JSON-able data of a config (tuples become lists); what ``config.yaml`` holds."""
    if isinstance(config, TrainConfig):
        trainer_keys = set(ModelConfig.TRAINER_KEYS)
        return config.model_dump(mode="json", exclude={"model": {"bno": trainer_keys, "neurop": trainer_keys}})
    return config.model_dump(mode="json")


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in ("losses", "bno", "neurop"):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _recipe_layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """``[(file, its keys), …]`` of a recipe and its ``base`` chain, the most basic first."""
    resolved = path.resolve()
    if resolved in seen:
        raise ConfigError(f"{path}: recipes inherit each other in a cycle")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of config keys")
    base = data.pop("base", None)
    if base is None:
        return [(path, data)]
    return [*_recipe_layers(path.parent / str(base), (*seen, resolved)), (path, data)]


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text}: not KEY=VALUE (e.g. stage1.lr=1e-3)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _looks_numeric(value):
        value = float(value)  # YAML 1.1 reads "1e-3" and "inf" as strings
    return key.strip().split("."), value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def apply_overrides(data: Mapping[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b=value`` overrides (values parsed as YAML) to plain config data."""
    out = _merge({}, data)
    for text in overrides:
        keys, value = _parse_override(text)
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            node[key] = dict(child) if isinstance(child, Mapping) else {}
            node = node[key]
        node[keys[-1]] = value
    return out


def _fix_yaml_numbers(data: Any) -> Any:
    """YAML 1.1 (PyYAML) reads ``1e-3`` as a string; turn such strings into floats."""
    if isinstance(data, dict):
        return {k: _fix_yaml_numbers(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_fix_yaml_numbers(v) for v in data]
    if isinstance(data, str) and _looks_numeric(data) and any(c in data.lower() for c in "e."):
        return float(data)
    return data


def _has_path(data: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def _source(path: str, layers: list[tuple[Path, dict[str, Any]]], overrides: list[str]) -> str:
    """Who set the key at ``path``: the last ``--set`` touching it, else the last recipe holding it."""
    keys = path.split(".") if path else []
    for text in reversed(overrides):
        set_keys = text.split("=", 1)[0].strip().split(".")
        common = min(len(keys), len(set_keys))
        if keys[:common] == set_keys[:common]:
            return f"--set {text}"
    for file, data in reversed(layers):
        if any(_has_path(data, keys[:n]) for n in range(len(keys), 0, -1)):
            return str(file)
    return str(layers[-1][0]) if layers else "config"


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """The defaults, updated by the recipe at ``path`` (and its ``base`` chain), then ``overrides``.

    Raises :class:`ConfigError` (``<source>: <key path>: <reason>``) for any bad key or value.
    """
    layers = _recipe_layers(Path(path)) if path is not None else []
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = _merge(data, layer)
    data = _fix_yaml_numbers(apply_overrides(data, list(overrides)))
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as error:
        where, reason = first_problem(error, TrainConfig)
        source = _source(where, layers, list(overrides))
        raise ConfigError(f"{source}: {where}: {reason}" if where else f"{source}: {reason}") from None
