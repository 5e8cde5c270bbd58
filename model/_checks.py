"""One small run-time shape check, used by every public function of ``model``."""

from __future__ import annotations

import torch

__all__ = ["check_shape"]


def check_shape(tensor: torch.Tensor, pattern: str, name: str) -> dict[str, int]:
    """Check ``tensor`` against a pattern such as ``"B,3,H,W"`` and return the bound sizes.

    Letters bind sizes (the same letter must match everywhere it is used), digits
    are fixed sizes.

    >>> check_shape(torch.zeros(2, 3, 4, 5), "B,3,H,W", "image")
    {'B': 2, 'H': 4, 'W': 5}
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    dims = [d.strip() for d in pattern.split(",")]
    if tensor.ndim != len(dims):
        raise ValueError(f"{name} must have shape ({pattern}), got {tuple(tensor.shape)}")
    bound: dict[str, int] = {}
    for dim, size in zip(dims, tensor.shape):
        if dim.isdigit():
            if size != int(dim):
                raise ValueError(f"{name} must have shape ({pattern}), got {tuple(tensor.shape)}")
        elif bound.setdefault(dim, size) != size:
            raise ValueError(
                f"{name} must have shape ({pattern}) with one size per letter, got {tuple(tensor.shape)}"
            )
    return bound
