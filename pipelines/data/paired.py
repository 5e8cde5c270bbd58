"""Paired datasets — an input and its target per photo, in FiveK-Dark's ``trainA/trainB/testA/testB``
layout — as stage 2 trains on them and evaluation scores them.

Inputs and targets are matched **by FiveK id** (:func:`bno.pipelines.data.fivek.pair_key`),
or by stem for other names, never by sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bno.pipelines.data.fivek import DARK_LAYOUT, pair_key
from bno.synth.io import IMAGE_SUFFIXES

__all__ = ["PairedData", "load_paired_data", "to_float", "to_tensor"]


def to_float(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8/uint16/float array → float32 in [0, 1] (the same array if already float32)."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / np.float32(65535.0)
    return pixels.astype(np.float32, copy=False)


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8/uint16/float array → ``(3, H, W)`` float32 tensor in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(to_float(pixels).transpose(2, 0, 1)))


@dataclass
class PairedData:
    """Input/target files of a paired dataset, per split, matched by id."""

    root: Path
    train: list[tuple[str, Path, Path]] = field(default_factory=list)  # (id, input, target)
    test: list[tuple[str, Path, Path]] = field(default_factory=list)


def _pair_folder(inputs: Path, targets: Path) -> list[tuple[str, Path, Path]]:
    def listing(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                key = pair_key(path.name)
                if key in found:
                    raise ValueError(f"{folder}: two files share the id {key!r}: {found[key].name}, {path.name}")
                found[key] = path
        return found

    a, b = listing(inputs), listing(targets)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        raise ValueError(
            f"{inputs.parent}: unpaired files — inputs without target: {only_a[:5]}, targets without input: {only_b[:5]}"
        )
    return [(key, a[key], b[key]) for key in sorted(a)]


def load_paired_data(root: str | Path) -> PairedData:
    """Read a ``trainA/trainB/testA/testB`` folder (train or test may be absent, not both)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such dataset folder")
    data = PairedData(root)
    for split in ("train", "test"):
        inputs, targets = (root / name for name in DARK_LAYOUT[split])
        if inputs.is_dir() and targets.is_dir():
            setattr(data, split, _pair_folder(inputs, targets))
    if not data.train and not data.test:
        raise ValueError(f"{root}: no trainA/trainB or testA/testB image folders (FiveK-Dark layout)")
    return data
