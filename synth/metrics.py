"""Image-quality metrics exactly as the retouching papers compute them (SPEC §6).

All functions take float images ``(H, W, 3)`` RGB in [0, 1] (numpy), compare one output
with one target over the full image, and return a Python float; datasets average the
per-image values. Training's validation and ``bno-train evaluate`` both score with these.

| metric    | definition                                                                 |
|-----------|----------------------------------------------------------------------------|
| PSNR      | ``10·log10(1 / MSE)`` (data range 1), MSE over all pixels and channels     |
| SSIM      | ``skimage.metrics.structural_similarity(a, b, data_range=1, channel_axis=-1)`` |
| ΔE76      | mean over pixels of ‖Lab(a) − Lab(b)‖₂ with ``skimage.color.rgb2lab`` (NeurOp's ΔE) |
| ΔE2000    | mean of ``skimage.color.deltaE_ciede2000`` (Sharma, Wu & Dalal 2005)          |

>>> import numpy as np
>>> round(psnr(np.zeros((2, 2, 3)), np.full((2, 2, 3), 0.1)), 6)
20.0
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

__all__ = ["HIGHER_IS_BETTER", "METRICS", "PSNR_CAP", "check_pair", "delta_e76", "delta_e2000", "psnr", "ssim"]

#: PSNR of identical images is infinite; it is capped here so that averages stay finite.
PSNR_CAP = 100.0


def check_pair(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 ``(H, W, 3)``; ``ValueError`` when the shapes differ or are not RGB."""
    a = np.asarray(output, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"metrics need two (H, W, 3) images of the same shape, got {a.shape} and {b.shape}")
    return a, b


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB with data range 1: ``10·log10(1/MSE)`` (capped at 100 dB for identical images)."""
    a, b = check_pair(output, target)
    mse = float(np.mean((a - b) ** 2))
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else 10.0 * math.log10(1.0 / mse)


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    """SSIM as ``structural_similarity(..., data_range=1, channel_axis=-1)`` (7×7 uniform window)."""
    a, b = check_pair(output, target)
    return float(structural_similarity(a, b, data_range=1.0, channel_axis=-1))


def delta_e76(output: np.ndarray, target: np.ndarray) -> float:
    """Mean CIE76 colour difference: Euclidean distance in ``rgb2lab`` (sRGB, D65) Lab."""
    a, b = check_pair(output, target)
    return float(np.mean(np.linalg.norm(rgb2lab(np.clip(a, 0, 1)) - rgb2lab(np.clip(b, 0, 1)), axis=-1)))


def delta_e2000(output: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (``skimage.color.deltaE_ciede2000`` on ``rgb2lab``)."""
    a, b = check_pair(output, target)
    return float(np.mean(deltaE_ciede2000(rgb2lab(np.clip(a, 0, 1)), rgb2lab(np.clip(b, 0, 1)))))


#: name → function(output, target) -> float, in report order.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "psnr": psnr,
    "ssim": ssim,
    "delta_e76": delta_e76,
    "delta_e2000": delta_e2000,
}
#: Whether a larger value is better, per metric (LPIPS, computed in :mod:`bno.pipelines.evaluate.metrics`, included).
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "delta_e76": False, "delta_e2000": False, "lpips": False}
