"""Training losses on ``(B, 3, H, W)`` tensors; a recipe weights them by name.

| name        | value                                                                        |
|-------------|------------------------------------------------------------------------------|
| l1          | mean ``|out − target|`` (stage 1's ``L1``; stage 2's main term)               |
| l2          | mean squared error                                                           |
| charbonnier | mean ``sqrt((out − target)² + 1e−6)``                                         |
| cosine      | mean over pixels of ``1 − cos(out_rgb, target_rgb)`` (NeurOp's colour term)   |
| tv          | total variation of the output, ``mean(Δx²) + mean(Δy²)`` (NeurOp's smoothness term) |
| ssim        | ``1 − SSIM`` with an 11×11 Gaussian window σ = 1.5, data range 1 (SSIM-L1 = ssim + l1) |

NeurOp's stage-2 loss is ``l1: 1, cosine: 0.1, tv: 0.1`` (SPEC §5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "combined_loss", "cosine_loss", "ssim_loss", "tv_loss"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cosine_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean(1 − cos)`` between RGB vectors per pixel: ``(B,3,H,W)`` × 2 → scalar."""
    return (1.0 - F.cosine_similarity(output, target, dim=1, eps=1e-8)).mean()


def tv_loss(output: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """Total variation ``mean((x[i+1]−x[i])²)`` over rows plus the same over columns."""
    dy = output[:, :, 1:, :] - output[:, :, :-1, :]
    dx = output[:, :, :, 1:] - output[:, :, :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()  # (C, 1, k, k)


def ssim_loss(output: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """``1 − SSIM`` (Wang et al. 2004; K1 = 0.01, K2 = 0.03, data range 1), valid-region mean."""
    c = output.shape[1]
    size = min(window, output.shape[-1], output.shape[-2])
    w = _gaussian_window(size, sigma, c, output)
    conv = lambda x: F.conv2d(x, w, groups=c)  # noqa: E731
    mu_x, mu_y = conv(output), conv(target)
    sxx = conv(output * output) - mu_x**2
    syy = conv(target * target) - mu_y**2
    sxy = conv(output * target) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return 1.0 - ssim_map.mean()


#: name → loss(output, target) -> scalar tensor.
LOSSES: dict[str, LossFn] = {
    "l1": lambda o, t: F.l1_loss(o, t),
    "l2": lambda o, t: F.mse_loss(o, t),
    "charbonnier": lambda o, t: torch.sqrt((o - t) ** 2 + 1e-6).mean(),
    "cosine": cosine_loss,
    "tv": tv_loss,
    "ssim": ssim_loss,
}


def combined_loss(output: torch.Tensor, target: torch.Tensor, weights: Mapping[str, float]) -> torch.Tensor:
    """``Σ weight · loss(output, target)`` over the named losses (computed in float32)."""
    output, target = output.float(), target.float()
    total = output.new_zeros(())
    for name, weight in weights.items():
        if weight:
            total = total + weight * LOSSES[name](output, target)
    return total
