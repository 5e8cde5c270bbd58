"""Bilateral-grid slicing and per-pixel affine colour transforms (HDRNet convention).

Gharbi et al., "Deep Bilateral Learning for Real-Time Image Enhancement" (HDRNet,
SIGGRAPH 2017), §3.3: a grid of ``D`` luma bins × ``GH × GW`` cells holds a 3×4 affine
colour transform per cell; each full-resolution pixel reads its transform by trilinear
("tent") interpolation at

    gx = (col + 0.5) · GW / W,   gy = (row + 0.5) · GH / H,   gz = guide · D

with cell centres at ``index + 0.5`` and indices clamped to the grid. A guide may also
have one channel per output channel (``(B, 3, H, W)``): output channel ``i`` then reads
its 4 coefficients at ``gz = guide_i · D``, so each channel gets its own tonal axis (a
per-channel curve such as a black-point toe needs it; one scalar guide ties all three
channels of a pixel to one luma bin). With
``F.grid_sample`` (5-D "bilinear" is trilinear) this is the normalised coordinate
``(x, y, z) = ((2col+1)/W − 1, (2row+1)/H − 1, 2·guide − 1)``, ``align_corners=False``
and ``padding_mode="border"`` (SPEC §5).

Grid layout: ``(B, 12, D, GH, GW)``; coefficient ``k = 4·i + j`` multiplies input
channel ``j`` (``j = 3`` is the offset) into output channel ``i``::

    out_i = A[4i]·r + A[4i+1]·g + A[4i+2]·b + A[4i+3]

Slicing is per pixel, so a band of rows sliced with its global row offset is exact:
:func:`slice_and_apply_banded` keeps memory flat in the image size. Coordinates are
always computed in float32, also under autocast (fp16 ``grid_sample`` is inaccurate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_shape

__all__ = [
    "AFFINE_COEFFS",
    "slice_grid",
    "apply_affine",
    "slice_and_apply",
    "slice_and_apply_banded",
    "SliceAndApply",
]

AFFINE_COEFFS = 12  # a 3×4 affine colour matrix per grid cell


def _check_inputs(grid: torch.Tensor, guide: torch.Tensor, full_height: int | None) -> tuple[int, int]:
    check_shape(grid, f"B,{AFFINE_COEFFS},D,GH,GW", "grid")
    g = check_shape(guide, "B,3,H,W" if guide.ndim == 4 else "B,H,W", "guide")
    if grid.shape[0] != guide.shape[0]:
        raise ValueError(f"grid batch {grid.shape[0]} != guide batch {guide.shape[0]}")
    height = g["H"] if full_height is None else full_height
    return height, g["W"]


def slice_grid(
    grid: torch.Tensor,
    guide: torch.Tensor,
    *,
    row_offset: int = 0,
    full_height: int | None = None,
) -> torch.Tensor:
    """Trilinearly slice per-pixel affine coefficients out of a bilateral grid.

    Args:
        grid: ``(B, 12, D, GH, GW)`` affine coefficients.
        guide: ``(B, h, W)`` guide map, range [0, 1] (values outside read the border bins),
            or ``(B, 3, h, W)``: one guide per output channel.
        row_offset: global row of ``guide[:, 0]`` when ``guide`` is a band of a taller image.
        full_height: height ``H`` of the whole image (default: ``h``).

    Returns:
        ``(B, 12, h, W)`` coefficients, float32 (float64 for a float64 grid).
    """
    height, width = _check_inputs(grid, guide, full_height)
    if guide.ndim == 3:
        return _sample(grid, guide, row_offset, height, width)
    # Per-channel guides: output row i of every 3×4 matrix is sliced with guide i.
    rows_of_grid = grid.unflatten(1, (3, 4)).flatten(0, 1)  # (3B, 4, D, GH, GW)
    coeffs = _sample(rows_of_grid, guide.flatten(0, 1), row_offset, height, width)  # (3B, 4, h, W)
    return coeffs.unflatten(0, (-1, 3)).flatten(1, 2)  # (B, 12, h, W)


def _sample(grid: torch.Tensor, guide: torch.Tensor, row_offset: int, height: int, width: int) -> torch.Tensor:
    """``grid (N, C, D, GH, GW)`` read trilinearly at every pixel of ``guide (N, h, W)`` → ``(N, C, h, W)``."""
    batch, rows = guide.shape[0], guide.shape[1]
    device = guide.device
    # fp32 coordinates (fp64 for fp64 grids, e.g. gradcheck), also under autocast.
    dtype = torch.float64 if grid.dtype == torch.float64 else torch.float32
    with torch.autocast(device.type, enabled=False):
        # Normalised coordinates, last dim ordered (x, y, z) as grid_sample wants.
        ys = (2 * torch.arange(row_offset, row_offset + rows, device=device, dtype=dtype) + 1) / height - 1
        xs = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
        zs = guide.to(dtype) * 2 - 1  # (N, h, W)
        coords = torch.stack(
            (xs.expand(batch, rows, width), ys[:, None].expand(batch, rows, width), zs), dim=-1
        )  # (N, h, W, 3)
        coeffs = F.grid_sample(
            grid.to(dtype), coords[:, None], mode="bilinear", padding_mode="border", align_corners=False
        )  # (N, C, 1, h, W)
    return coeffs[:, :, 0]


def apply_affine(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Apply per-pixel 3×4 affine colour transforms.

    Args:
        coeffs: ``(B, 12, H, W)``, coefficient ``4·i + j`` (see module docstring).
        image: ``(B, 3, H, W)``.

    Returns:
        ``(B, 3, H, W)`` in the dtype of ``coeffs``.
    """
    c = check_shape(coeffs, f"B,{AFFINE_COEFFS},H,W", "coeffs")
    i = check_shape(image, "B,3,H,W", "image")
    if c != i:
        raise ValueError(f"coeffs {tuple(coeffs.shape)} and image {tuple(image.shape)} disagree")
    a = coeffs.unflatten(1, (3, 4))  # (B, 3 out, 4 in, H, W)
    x = image.to(coeffs.dtype)
    return a[:, :, 0] * x[:, 0:1] + a[:, :, 1] * x[:, 1:2] + a[:, :, 2] * x[:, 2:3] + a[:, :, 3]


def slice_and_apply(
    grid: torch.Tensor,
    guide: torch.Tensor,
    image: torch.Tensor,
    *,
    row_offset: int = 0,
    full_height: int | None = None,
) -> torch.Tensor:
    """Slice a bilateral grid with a guide map and apply the affine transforms (HDRNet).

    Args:
        grid: ``(B, 12, D, GH, GW)`` affine coefficients.
        guide: ``(B, H, W)`` guide map in [0, 1].
        image: ``(B, 3, H, W)`` image to transform (usually in [0, 1]).
        row_offset, full_height: see :func:`slice_grid` (for bands of a taller image).

    Returns:
        ``(B, 3, H, W)`` float32 (float64 for a float64 grid), not clamped.
    """
    return apply_affine(
        slice_grid(grid, guide, row_offset=row_offset, full_height=full_height), image
    )


def slice_and_apply_banded(
    grid: torch.Tensor,
    guide: torch.Tensor,
    image: torch.Tensor,
    band_rows: int = 128,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`slice_and_apply` over bands of ``band_rows`` rows: same result, flat memory.

    Temporaries are ``O(band_rows · W)`` instead of ``O(H · W · 12)``. ``out`` may be
    ``image`` itself (each pixel is read before it is written).
    """
    if band_rows < 1:
        raise ValueError(f"band_rows must be >= 1, got {band_rows}")
    height = image.shape[-2]
    if out is None:
        out = torch.empty(image.shape, dtype=torch.float32, device=image.device)
    for top in range(0, height, band_rows):
        rows = slice(top, min(top + band_rows, height))
        out[:, :, rows] = slice_and_apply(
            grid, guide[..., rows, :], image[:, :, rows], row_offset=top, full_height=height
        )
    return out


class SliceAndApply(nn.Module):
    """Module twin of :func:`slice_and_apply` (no parameters)."""

    def forward(self, grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return slice_and_apply(grid, guide, image)
