"""Image-quality metrics exactly as the retouching papers compute them (SPEC §6).

All functions take float images ``(H, W, 3)`` RGB in [0, 1] (numpy), compare one output
with one target over the full image, and return a Python float; datasets average the
per-image values.

| metric    | definition                                                                 |
|-----------|----------------------------------------------------------------------------|
| PSNR      | ``10·log10(1 / MSE)`` (data range 1), MSE over all pixels and channels     |
| SSIM      | ``skimage.metrics.structural_similarity(a, b, data_range=1, channel_axis=-1)`` |
| ΔE76      | mean over pixels of ‖Lab(a) − Lab(b)‖₂ with ``skimage.color.rgb2lab`` (NeurOp's ΔE) |
| ΔE2000    | mean of ``skimage.color.deltaE_ciede2000`` (Sharma, Wu & Dalal 2005)          |
| LPIPS     | AlexNet LPIPS (Zhang et al. 2018) — only when the ``lpips`` package *and* its weights are on disk |

LPIPS is never downloaded: :func:`lpips_status` says whether it can run and why not.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

__all__ = ["METRICS", "HIGHER_IS_BETTER", "psnr", "ssim", "delta_e76", "delta_e2000", "compute_all", "LpipsMetric", "lpips_status"]

#: PSNR of identical images is infinite; it is capped here so that averages stay finite.
PSNR_CAP = 100.0


def _check(output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(output, dtype=np.float64)
    b = np.asarray(target, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"metrics need two (H, W, 3) images of the same shape, got {a.shape} and {b.shape}")
    return a, b


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB with data range 1: ``10·log10(1/MSE)`` (capped at 100 dB for identical images)."""
    a, b = _check(output, target)
    mse = float(np.mean((a - b) ** 2))
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else 10.0 * math.log10(1.0 / mse)


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    """SSIM as ``structural_similarity(..., data_range=1, channel_axis=-1)`` (7×7 uniform window)."""
    a, b = _check(output, target)
    return float(structural_similarity(a, b, data_range=1.0, channel_axis=-1))


def delta_e76(output: np.ndarray, target: np.ndarray) -> float:
    """Mean CIE76 colour difference: Euclidean distance in ``rgb2lab`` (sRGB, D65) Lab."""
    a, b = _check(output, target)
    return float(np.mean(np.linalg.norm(rgb2lab(np.clip(a, 0, 1)) - rgb2lab(np.clip(b, 0, 1)), axis=-1)))


def delta_e2000(output: np.ndarray, target: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (``skimage.color.deltaE_ciede2000`` on ``rgb2lab``)."""
    a, b = _check(output, target)
    return float(np.mean(deltaE_ciede2000(rgb2lab(np.clip(a, 0, 1)), rgb2lab(np.clip(b, 0, 1)))))


#: name → function(output, target) -> float, in report order.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "psnr": psnr,
    "ssim": ssim,
    "delta_e76": delta_e76,
    "delta_e2000": delta_e2000,
}
#: Whether a larger value is better, per metric (LPIPS included).
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "delta_e76": False, "delta_e2000": False, "lpips": False}


def compute_all(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one image pair."""
    return {name: fn(output, target) for name, fn in METRICS.items()}


# --------------------------------------------------------------------------- LPIPS (optional)


def _torch_hub_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def lpips_status() -> tuple[bool, str]:
    """``(available, reason)``: LPIPS needs the ``lpips`` package and AlexNet weights on disk."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return False, "LPIPS skipped: the lpips package is not installed (pip install lpips; weights must be local)"
    hub = _torch_hub_dir()
    alexnet = sorted(hub.glob("alexnet-owt-*.pth")) if hub.is_dir() else []
    if not alexnet:
        return False, f"LPIPS skipped: no AlexNet weights in {hub} (never downloaded here)"
    linear = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    if not linear.is_file():
        return False, f"LPIPS skipped: no LPIPS linear weights at {linear}"
    return True, "LPIPS: AlexNet v0.1"


class LpipsMetric:
    """AlexNet LPIPS on [0, 1] images; construct only when :func:`lpips_status` is available."""

    def __init__(self) -> None:
        ok, reason = lpips_status()
        if not ok:
            raise RuntimeError(reason)
        import lpips
        import torch

        os.environ.setdefault("TORCH_HOME", str(_torch_hub_dir().parent))
        self._torch = torch
        self._net = lpips.LPIPS(net="alex", verbose=False).eval()

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        a, b = _check(output, target)
        torch = self._torch
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)) * 2 - 1
        with torch.no_grad():
            return float(self._net(to(a), to(b)).item())
