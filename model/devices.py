"""Choosing the torch device from what a user types: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

One picker for every command that runs a model (training, evaluation, enhancing, benchmarks).
"""

from __future__ import annotations

import torch

from bno.schema import DEVICE_PATTERN

__all__ = ["DeviceError", "parse_device", "pick_device"]



class DeviceError(ValueError):
    """A device that is misspelt or not present on this machine."""


def parse_device(text: str) -> str:
    """Normalise and check the spelling (``" CUDA:1 "`` → ``"cuda:1"``); ``DeviceError`` otherwise.

    >>> parse_device("CUDA:1"), parse_device("auto")
    ('cuda:1', 'auto')
    """
    spec = str(text).strip().lower()
    if not DEVICE_PATTERN.match(spec):
        raise DeviceError(f"device {text!r} is not auto, cpu, cuda, cuda:N or mps")
    return spec


def pick_device(text: str = "auto", local_rank: int | None = None) -> torch.device:
    """The device to run on: ``auto`` is CUDA when present, else CPU.

    ``cuda`` means ``cuda:<local_rank>`` under DDP (one GPU per process), else the current GPU.
    Raises :class:`DeviceError` (one line) for a misspelt device, CUDA on a machine without it,
    or a GPU index that does not exist.
    """
    spec = parse_device(text)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("device mps requested but Metal (MPS) is not available on this machine")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {spec} requested but CUDA is not available on this machine")
    index = int(spec.split(":")[1]) if ":" in spec else (local_rank if local_rank is not None else torch.cuda.current_device())
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device cuda:{index} requested but this machine has {torch.cuda.device_count()} GPU(s)")
    return torch.device("cuda", index)
