"""Checkpoints: safetensors weights + a JSON config that *is* the constructor (diffusers-style).

Layout of a checkpoint directory::

    <dir>/config.json        {"format": "bno-checkpoint", "version": 1, "model": "bno"|"neurop",
                              "config": {...every field of BNOConfig | NeurOpConfig...}, "provenance": {...}}
    <dir>/model.safetensors  the state dict

:func:`load_checkpoint` rebuilds the model from either file or the directory in one call.
It also accepts the official NeurOp ``.pth`` files as they are, read with
``torch.load(weights_only=True)`` — a pickle that would build arbitrary objects (run
code) is refused. Every failure is a :class:`CheckpointError` naming the file and the
mismatch; a config value out of its bounds, of the wrong type, unknown or missing is named
by its key path (``config.bilateral.grid_depth``) before any tensor is allocated.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors

import bno
from bno.errors import first_line
from bno.files import atomic_write_bytes
from bno.schema import describe_error, missing_keys

from ._schema import ADDED_LATER, ConfigModel
from .neurop import NeurOp, NeurOpConfig, load_official_state_dict
from .sequential import BilateralNeuralOperators, BNOConfig, SequentialRetoucher

__all__ = [
    "CheckpointError",
    "MODEL_KINDS",
    "build_model",
    "checkpoint_dir",
    "checkpoint_provenance",
    "load_checkpoint",
    "model_config",
    "resolve_checkpoint",
    "save_checkpoint",
]

FORMAT = "bno-checkpoint"
VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Marker written last into a training run's checkpoint folder: the folder is complete.
COMPLETE = "COMPLETE"

# model kind → (class, config class)
MODEL_KINDS: dict[str, tuple[type[SequentialRetoucher], type[ConfigModel]]] = {
    "bno": (BilateralNeuralOperators, BNOConfig),
    "neurop": (NeurOp, NeurOpConfig),
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and the mismatch."""


def pretrained_checkpoint(kind: str = "bno") -> Path:
    """The checkpoint folder of the weights shipped with ``bno`` for ``kind`` (``"bno"`` or ``"neurop"``).

    They were trained on the photo benchmark (``configs/photoset*.yaml``); their ``config.json``
    holds the provenance (recipe, data hash, commit). ``CheckpointError`` when none ships.
    """
    if kind not in MODEL_KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    path = bno.resource_path(f"weights/{kind}")
    if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{path}: no {kind} weights ship with this installation; pass --checkpoint")
    return path


def checkpoint_dir(base: Path) -> Path | None:
    """The complete checkpoint at ``base`` (or its ``.old`` twin after a crash), else ``None``."""
    for candidate in (base, base.with_name(base.name + ".old")):
        if (candidate / COMPLETE).is_file():
            return candidate
    return None


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """What a user may name as a checkpoint → the path :func:`load_checkpoint` reads.

    A training run folder (``<run>/checkpoints/``) means its best checkpoint, else its last;
    a checkpoint folder or an official NeurOp ``.pth`` is returned as it is.
    Raises ``FileNotFoundError`` naming the path when there is nothing to load.
    """
    p = Path(path)
    if (p / "checkpoints").is_dir():
        for name in ("best", "last"):
            found = checkpoint_dir(p / "checkpoints" / name)
            if found is not None:
                return found
        raise FileNotFoundError(f"{p}: run directory without a complete checkpoint")
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such checkpoint or run directory")
    return p


def model_config(kind: str, data: Mapping[str, Any] | ConfigModel | None = None, *, complete: bool = False) -> ConfigModel:
    """The validated config of a ``kind`` model from JSON-style data (or a config object).

    ``complete=True`` (a checkpoint's ``config.json``) makes every key compulsory. Raises
    ``ValueError`` naming the key path, e.g. ``config.bilateral.grid_depth: Input should be
    less than or equal to 256``, or :class:`CheckpointError` for an unknown ``kind``.
    """
    if kind not in MODEL_KINDS:
        raise CheckpointError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    config_cls = MODEL_KINDS[kind][1]
    if isinstance(data, config_cls):
        return data
    if isinstance(data, ConfigModel):
        raise ValueError(f"config: a {type(data).__name__} does not configure a {kind!r} model")
    if data is not None and not isinstance(data, Mapping):
        raise ValueError(f"config: expected a mapping of keys, got {type(data).__name__}")
    missing = missing_keys(config_cls, data, "config", ADDED_LATER) if complete else []
    if missing:
        raise ValueError(f"{missing[0]}: missing (a checkpoint's config lists every key)")
    try:
        return config_cls.model_validate(dict(data or {}))
    except ValidationError as error:
        raise ValueError(describe_error(error, config_cls, "config")) from None


def build_model(kind: str, config: Mapping[str, Any] | ConfigModel | None = None) -> SequentialRetoucher:
    """Build a model of ``kind`` (``"bno"`` or ``"neurop"``) from its config (missing keys: defaults)."""
    return MODEL_KINDS[kind][0](model_config(kind, config))


def _config_dict(model: SequentialRetoucher) -> dict[str, Any]:
    return model.config.model_dump(mode="json")  # tuples → lists


def save_checkpoint(
    model: SequentialRetoucher, directory: str | os.PathLike[str], provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory``; returns it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # One metadata key: safetensors writes the metadata map in hash order, so two keys would
    # make identical models give different bytes. The model kind is in config.json.
    atomic_write_bytes(out / WEIGHTS_NAME, save_safetensors(state, metadata={"format": FORMAT}))
    record = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.kind,
        "config": _config_dict(model),
        "provenance": dict(provenance or {}),
    }
    atomic_write_bytes(out / CONFIG_NAME, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    return out


def _load_into(model: SequentialRetoucher, state: Mapping[str, torch.Tensor], source: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs config {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(state))
        if state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing tensors {missing[:6]}{' …' if len(missing) > 6 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors {unexpected[:6]}{' …' if len(unexpected) > 6 else ''}")
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes[:6]))
    if problems:
        raise CheckpointError(f"{source}: weights do not match the config: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _load_foreign_pth(path: Path) -> SequentialRetoucher:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" in str(exc):  # torch's own refusal; its advice to disable it is not repeated
            raise CheckpointError(f"{path}: refused: loading it would build objects other than tensors (it could run code)") from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({first_line(exc)})") from None
    except Exception as exc:  # any other way an arbitrary file trips the unpickler (IndexError, KeyError, …)
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__}: {first_line(exc)})") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    try:
        renamed = load_official_state_dict(state)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    codes = tuple(k.split(".")[1] for k in renamed if k.startswith("operators.") and k.endswith("encoder.weight"))
    try:
        config = NeurOpConfig(operators=tuple(c for c in ("BC", "EX", "VB") if c in codes) or codes)
    except ValidationError as error:
        raise CheckpointError(f"{path}: operators read from the tensor names: {describe_error(error, NeurOpConfig)}") from None
    model = NeurOp(config)
    _load_into(model, renamed, path)
    return model


def _model_from_record(record: Any, config_path: Path) -> SequentialRetoucher:
    """The untrained model a ``config.json`` record describes (every config key required)."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{config_path}: not a {FORMAT} config")
    if record.get("version") != VERSION:
        raise CheckpointError(f"{config_path}: version {record.get('version')!r}, this code reads {VERSION}")
    for key in ("model", "config"):
        if key not in record:
            raise CheckpointError(f"{config_path}: {key}: missing")
    try:
        config = model_config(record["model"], record["config"], complete=True)
    except ValueError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None
    return MODEL_KINDS[record["model"]][0](config)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> SequentialRetoucher:
    """Rebuild a model from a checkpoint directory, its ``config.json`` or ``model.safetensors``,
    or an official NeurOp ``.pth``. The model is returned in eval mode."""
    p = Path(path)
    if p.is_file() and p.suffix in (".pth", ".pt"):
        return _load_foreign_pth(p).to(map_location).eval()
    directory = p if p.is_dir() else p.parent
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    if p.is_file() and p.suffix == ".safetensors":
        weights_path = p
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise CheckpointError(f"{p}: no {needed.name} (a checkpoint is a directory with {CONFIG_NAME} + {WEIGHTS_NAME})")
    try:
        record = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_path}: not valid JSON ({exc})") from None
    model = _model_from_record(record, config_path)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path}: corrupt safetensors file ({exc})") from None
    _load_into(model, state, weights_path)
    return model.to(map_location).eval()


def checkpoint_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``provenance`` a checkpoint was saved with (empty for official ``.pth`` files)."""
    p = Path(path)
    if p.is_file() and p.suffix in (".pth", ".pt"):
        return {}
    config_path = (p if p.is_dir() else p.parent) / CONFIG_NAME
    try:
        return dict(json.loads(config_path.read_text()).get("provenance", {}))
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise CheckpointError(f"{config_path}: unreadable checkpoint config ({exc})") from None
