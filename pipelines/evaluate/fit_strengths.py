"""Per-image strengths fitted to the target: the ceiling of a trained chain with its operators frozen.

A sequential model's error on an image has two parts: the operators cannot make the
target at any strengths (capacity), or the predictor chose the wrong strengths
(generalisation). :func:`fit_strengths` separates them: it keeps every weight fixed and
searches the strengths ``s ∈ (−1, 1)^K`` (one per operator) that minimise the mean squared
error to the target, starting from the predicted ones — what a user moving the sliders
by hand could reach at best. ``bno-train evaluate --fit-strengths`` scores the chain with
them and lists fitted beside predicted strengths per image.

Method: ``s = tanh(u)`` (so the search stays inside the strength range), Adam on ``u``,
the strengths with the lowest loss seen are returned (never worse than the prediction on
the fitting copy). The fit runs on an area-resized copy whose long edge is at most
``long_edge`` pixels; for images that small already it is exact.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from bno.model import SequentialRetoucher
from bno.files import atomic_write_bytes

__all__ = ["fit_strengths", "plot_strengths"]

_EDGE = 0.999  # |predicted strength| is clipped to this before atanh


def _fitting_copy(image: torch.Tensor, long_edge: int) -> torch.Tensor:
    """``(1, 3, H, W)`` → area-resized so that max(H, W) ≤ ``long_edge`` (unchanged if already)."""
    h, w = image.shape[-2:]
    scale = long_edge / max(h, w)
    if scale >= 1.0:
        return image
    return F.interpolate(image, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")


def fit_strengths(
    model: SequentialRetoucher,
    image: torch.Tensor,
    target: torch.Tensor,
    *,
    steps: int = 100,
    lr: float = 0.05,
    long_edge: int = 512,
) -> tuple[dict[str, float], dict[str, float]]:
    """Strengths minimising ``MSE(model(image, s), target)`` with the weights frozen.

    Args:
        model: a trained sequential model (BNO or NeurOp); its weights are not changed.
        image, target: ``(1, 3, H, W)`` in [0, 1], the same size.
        steps, lr: Adam iterations and step size on ``u = atanh(s)``.
        long_edge: the fit runs on a copy at most this many pixels on its long side.

    Returns:
        ``(fitted, predicted)``: operator code → strength in [−1, 1], both measured on the fitting copy.
    """
    if image.shape != target.shape or image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"image and target must both be (1, 3, H, W), got {tuple(image.shape)} and {tuple(target.shape)}")
    x, y = _fitting_copy(image, long_edge), _fitting_copy(target, long_edge)
    with torch.no_grad():
        _, predicted = model(x)
    u = {code: torch.atanh(s.detach().clamp(-_EDGE, _EDGE)).requires_grad_(True) for code, s in predicted.items()}
    optimiser = torch.optim.Adam(list(u.values()), lr=lr)
    best_loss, best = float("inf"), {code: float(s.reshape(-1)[0]) for code, s in predicted.items()}
    for step in range(steps + 1):
        with torch.enable_grad():
            strengths = {code: torch.tanh(value) for code, value in u.items()}
            output, _ = model(x, strengths)
            loss = F.mse_loss(output, y)
        if loss.item() < best_loss:
            best_loss, best = loss.item(), {code: float(s.detach().reshape(-1)[0]) for code, s in strengths.items()}
        if step == steps:
            break
        grads = torch.autograd.grad(loss, list(u.values()))  # strengths only; model weights keep no .grad
        optimiser.zero_grad(set_to_none=True)
        for value, grad in zip(u.values(), grads):
            value.grad = grad
        optimiser.step()
    return best, {code: float(s.reshape(-1)[0]) for code, s in predicted.items()}


def plot_strengths(rows: Sequence[Mapping[str, object]], codes: Sequence[str], path: str | os.PathLike[str]) -> Path:
    """Write a PNG: per operator, fitted (y) against predicted (x) strength, one dot per image.

    ``rows`` are per-image rows with ``predicted_<code>`` and ``strength_<code>`` (fitted) keys;
    dots on the diagonal are images whose strength the predictor got right.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(codes), figsize=(3.2 * len(codes), 3.4), squeeze=False)
    for ax, code in zip(axes[0], codes):
        xs = [float(r[f"predicted_{code}"]) for r in rows]
        ys = [float(r[f"strength_{code}"]) for r in rows]
        ax.plot([-1, 1], [-1, 1], color="0.7", linewidth=1)
        ax.scatter(xs, ys, s=18)
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", title=code, xlabel="predicted strength")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fitted strength")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, dpi=90, format="png")
    plt.close(fig)
    atomic_write_bytes(Path(path), png.getvalue())
    return Path(path)
