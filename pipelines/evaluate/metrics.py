"""LPIPS (AlexNet, Zhang et al. 2018), the one learned metric: only when the ``lpips`` package *and*
its weights are on disk. It is never downloaded: :func:`lpips_status` says whether it can run and why not.

The pixel metrics (PSNR, SSIM, ΔE76, ΔE2000) are :mod:`bno.synth.metrics`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bno.synth.metrics import check_pair

__all__ = ["LpipsMetric", "lpips_status"]


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
        a, b = check_pair(output, target)
        torch = self._torch
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)) * 2 - 1
        with torch.no_grad():
            return float(self._net(to(a), to(b)).item())
