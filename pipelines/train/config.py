"""The training configuration: one typed schema with strict keys, YAML recipes and overrides.

A recipe is a YAML file whose keys mirror :class:`TrainConfig`; ``base: other.yaml``
(relative to the file) inherits another recipe and overrides it key by key. Unknown
keys are errors naming the key and its place (``stage1.lrr``), and every value is
checked against the field's type. Command-line overrides use the same dotted names::

    bno-train stage1 --config configs/quick.yaml --set stage1.lr=3e-3 --set workers=0

Every field carries a comment; the resolved config is written into each run directory
(``config.yaml``) and is what ``--resume`` reads back.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = [
    "ConfigError",
    "ModelConfig",
    "Stage1Config",
    "Stage2Config",
    "StageConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]

LOSS_NAMES = ("l1", "l2", "cosine", "tv", "ssim", "charbonnier")  # see bno.pipelines.train.losses
SCHEDULES = ("constant", "cosine", "step")
MODEL_KINDS = ("bno", "neurop")


class ConfigError(ValueError):
    """A bad recipe or override; the message names the key."""


@dataclass
class ModelConfig:
    """Which model and operators, plus per-kind constructor options (so ``--model`` can switch)."""

    kind: str = "bno"  # "bno" (Bilateral Neural Operators) or "neurop" (the exact NeurOp baseline)
    operators: tuple[str, ...] = ("BC", "EX", "WB", "VB")  # operator codes, applied in this order
    bno: dict[str, Any] = field(default_factory=dict)  # extra model.BNOConfig fields, e.g. {bilateral: {lowres_size: 128}}
    neurop: dict[str, Any] = field(default_factory=dict)  # extra model.NeurOpConfig fields, e.g. {base_channels: 64}

    @property
    def options(self) -> dict[str, Any]:
        """The constructor options of the selected kind."""
        return dict(getattr(self, self.kind))


@dataclass
class StageConfig:
    """Settings shared by both stages (optimiser, schedule, batching, checkpoints)."""

    epochs: int = 10  # epochs of this stage
    steps_per_epoch: int = 100  # optimiser steps per epoch (stage 2: 0 = one pass over the training images)
    batch_size: int = 8  # global batch (split evenly across DDP ranks)
    crop_size: int = 128  # square random crop side in px (stage 2: 0 = NeurOp's (h−20…h−1, w−20…w−1), batch 1)
    lr: float = 1e-3  # Adam learning rate
    betas: tuple[float, float] = (0.9, 0.99)  # Adam betas (the seed: 0.9 / 0.99)
    weight_decay: float = 0.0  # AdamW-style decoupled weight decay (0 = plain Adam)
    schedule: str = "cosine"  # learning-rate schedule per step: constant | cosine | step
    warmup_steps: int = 0  # linear warm-up steps before the schedule
    min_lr_ratio: float = 0.05  # cosine: final lr = lr × this; step: factor applied at each milestone
    step_milestones: tuple[float, ...] = (0.5, 0.75)  # step schedule: fractions of the run where lr drops
    grad_clip: float = 0.0  # clip the global gradient norm to this (0 = off)
    losses: dict[str, float] = field(default_factory=lambda: {"l1": 1.0})  # loss name → weight
    flips: bool = True  # random horizontal/vertical flips
    rot90: bool = True  # random 90° rotations (square crops only)
    checkpoint_every: int = 0  # also save the resumable "last" checkpoint every N steps (0 = per epoch only)
    eval_every: int = 1  # validate every N epochs (and always after the last)


@dataclass
class Stage1Config(StageConfig):
    """Stage 1: each operator alone on (A, B) pairs of one scene, strength (l_B − l_A)/(N − 1)."""

    identity_weight: float = 1.0  # weight of the identity term L(op(A, 0), A)
    eval_pairs_per_scene: int = 8  # held-out (A, B) pairs per test scene and operator (fixed by the seed)
    eval_max_side: int = 0  # resize held-out images so the long side is at most this (0 = full size)


@dataclass
class Stage2Config(StageConfig):
    """Stage 2: the whole chain + strength predictor on expert pairs."""

    epochs: int = 20
    steps_per_epoch: int = 0
    batch_size: int = 1
    crop_size: int = 0
    lr: float = 5e-5
    schedule: str = "constant"
    losses: dict[str, float] = field(default_factory=lambda: {"l1": 1.0, "cosine": 0.1, "tv": 0.1})
    val_max_images: int = 0  # validate on at most this many images (0 = all)
    val_from_train: int = 0  # hold out this many training pairs (seeded choice) to validate on; 0 = the test split (NeurOp's practice)
    val_ids: tuple[str, ...] = ()  # or hold out these training pair ids (e.g. every shot of one photo) to validate on
    zero_init_heads: bool = False  # start every strength head at 0 (the chain starts as stage 1's identity); NeurOp: random
    operator_lr_scale: float = 1.0  # the operators' lr = lr × this (0 freezes stage 1's operators; the predictor always trains)


@dataclass
class TrainConfig:
    """A whole training recipe (both stages share the model, seed and device settings)."""

    seed: int = 0  # base seed: crops, pair sampling, shuffling and init derive from (seed, epoch, step)
    device: str = "auto"  # auto (CUDA when present, else CPU) | cpu | cuda | cuda:N
    amp: bool = True  # bfloat16 autocast on CUDA (ignored on CPU); slicing stays float32
    workers: int = 2  # DataLoader worker processes (0 = load in the training process)
    threads: int = 0  # torch CPU threads (0 = torch's default)
    cache_images: bool = True  # decode each image once and keep it in memory (small datasets)
    progress: bool = True  # tqdm progress bar per epoch (loss, images/s, ETA)
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    model: ModelConfig = field(default_factory=ModelConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)

    def validate(self) -> "TrainConfig":
        """Check value ranges and names; raise :class:`ConfigError` naming the field."""
        if self.model.kind not in MODEL_KINDS:
            raise ConfigError(f"model.kind must be one of {MODEL_KINDS}, got {self.model.kind!r}")
        if not self.model.operators or len(set(self.model.operators)) != len(self.model.operators):
            raise ConfigError(f"model.operators must be distinct and non-empty, got {list(self.model.operators)}")
        if self.workers < 0 or self.threads < 0:
            raise ConfigError("workers and threads must be >= 0")
        for name in ("stage1", "stage2"):
            stage: StageConfig = getattr(self, name)
            for key in ("epochs", "batch_size"):
                if getattr(stage, key) < 1:
                    raise ConfigError(f"{name}.{key} must be >= 1, got {getattr(stage, key)}")
            for key in ("steps_per_epoch", "crop_size", "warmup_steps", "checkpoint_every"):
                if getattr(stage, key) < 0:
                    raise ConfigError(f"{name}.{key} must be >= 0, got {getattr(stage, key)}")
            if getattr(stage, "operator_lr_scale", 1.0) < 0:
                raise ConfigError(f"{name}.operator_lr_scale must be >= 0")
            if stage.lr <= 0:
                raise ConfigError(f"{name}.lr must be > 0, got {stage.lr}")
            if stage.schedule not in SCHEDULES:
                raise ConfigError(f"{name}.schedule must be one of {SCHEDULES}, got {stage.schedule!r}")
            unknown = sorted(set(stage.losses) - set(LOSS_NAMES))
            if unknown:
                raise ConfigError(f"{name}.losses: unknown loss {unknown[0]!r} (known: {', '.join(LOSS_NAMES)})")
            if not stage.losses:
                raise ConfigError(f"{name}.losses must name at least one loss")
            if stage.eval_every < 1:
                raise ConfigError(f"{name}.eval_every must be >= 1")
        if self.stage1.steps_per_epoch < 1:
            raise ConfigError("stage1.steps_per_epoch must be >= 1")
        if self.stage1.crop_size < 8:
            raise ConfigError(f"stage1.crop_size must be >= 8, got {self.stage1.crop_size}")
        return self


# --------------------------------------------------------------------------- dict ↔ dataclass


def _check_value(value: Any, annotation: Any, where: str) -> Any:
    """Coerce ``value`` to ``annotation`` (int→float allowed) or raise :class:`ConfigError`."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_check_value(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = typing.get_args(annotation)
        return {
            _check_value(k, key_type, f"{where} key"): _check_value(v, value_type, f"{where}.{k}") for k, v in value.items()
        }
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            if option is type(None) and value is None:
                return None
            try:
                return _check_value(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} does not match {annotation}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return config_from_dict(annotation, value, where)
    raise ConfigError(f"{where}: unsupported type {annotation}")  # pragma: no cover


def config_from_dict(cls: type, data: Mapping[str, Any] | None, where: str = "") -> Any:
    """Build dataclass ``cls`` from plain data; unknown keys and wrong types raise :class:`ConfigError`."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        place = f"{where}." if where else ""
        raise ConfigError(f"unknown config key '{place}{unknown[0]}' (allowed here: {', '.join(names)})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _check_value(value, hints[name], f"{where}.{name}" if where else name)
    return cls(**kwargs)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain YAML/JSON-able data of a config dataclass (tuples become lists)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    return plain(config)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key not in ("losses", "bno", "neurop"):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _read_recipe(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: recipes inherit each other in a cycle")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of config keys")
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(_read_recipe(path.parent / str(base), (*seen, path)), data)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE (e.g. stage1.lr=1e-3)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _looks_numeric(value):
        value = float(value)  # YAML 1.1 reads "1e-3" as a string
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


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """The defaults, updated by the recipe at ``path`` (and its ``base`` chain), then ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_recipe(Path(path))
    data = _fix_yaml_numbers(apply_overrides(data, list(overrides)))
    return config_from_dict(TrainConfig, data).validate()
