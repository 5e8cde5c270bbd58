"""Slicing: HDRNet convention against a naive per-pixel reference, gradcheck, bands, fused kernel."""

from __future__ import annotations

import math

import pytest
import torch

from bno.model import _fused_cpu
from bno.model.bilateral import BilateralConfig, BilateralOperator, GuideMap
from bno.model.slicing import SliceAndApply, apply_affine, slice_and_apply, slice_and_apply_banded, slice_grid


def naive_slice(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Per-pixel HDRNet slicing written from the paper: tent weights, clamped indices."""
    B, C, D, GH, GW = grid.shape
    _, H, W = guide.shape
    out = torch.zeros(B, C, H, W, dtype=torch.float64)
    tent = lambda d: max(1.0 - abs(d), 0.0)  # noqa: E731
    for b in range(B):
        for r in range(H):
            for c in range(W):
                gx, gy, gz = (c + 0.5) * GW / W, (r + 0.5) * GH / H, float(guide[b, r, c]) * D
                acc = torch.zeros(C, dtype=torch.float64)
                for yy in range(math.floor(gy - 0.5), math.floor(gy - 0.5) + 2):
                    for xx in range(math.floor(gx - 0.5), math.floor(gx - 0.5) + 2):
                        for zz in range(math.floor(gz - 0.5), math.floor(gz - 0.5) + 2):
                            w = tent(xx + 0.5 - gx) * tent(yy + 0.5 - gy) * tent(zz + 0.5 - gz)
                            xi, yi, zi = min(max(xx, 0), GW - 1), min(max(yy, 0), GH - 1), min(max(zz, 0), D - 1)
                            acc += w * grid[b, :, zi, yi, xi].double()
                out[b, :, r, c] = acc
    return out


@pytest.mark.parametrize("shape", [(1, 4, 3, 5, 9, 7), (2, 3, 5, 4, 6, 11)])
def test_slice_matches_naive_reference(shape):
    B, D, GH, GW, H, W = shape
    g = torch.Generator().manual_seed(0)
    grid = torch.randn(B, 12, D, GH, GW, generator=g)
    guide = torch.rand(B, H, W, generator=g) * 1.2 - 0.1  # also outside [0, 1]: border bins
    ours = slice_grid(grid, guide.clamp(0, 1))
    ref = naive_slice(grid, guide.clamp(0, 1))
    torch.testing.assert_close(ours.double(), ref, atol=1e-5, rtol=1e-5)


def test_per_channel_guides_slice_each_output_row_with_its_own_guide():
    g = torch.Generator().manual_seed(4)
    grid = torch.randn(2, 12, 5, 4, 6, generator=g)
    guides = torch.rand(2, 3, 9, 11, generator=g)
    ours = slice_grid(grid, guides).double()
    for i in range(3):  # coefficients 4i..4i+3 (output channel i) are read at guide i
        ref = naive_slice(grid, guides[:, i])[:, 4 * i : 4 * i + 4]
        torch.testing.assert_close(ours[:, 4 * i : 4 * i + 4], ref, atol=1e-5, rtol=1e-5)
    same = guides[:, :1].expand(-1, 3, -1, -1)
    torch.testing.assert_close(slice_grid(grid, same), slice_grid(grid, guides[:, 0]))


def test_apply_affine_convention():
    coeffs = torch.zeros(1, 12, 1, 1)
    coeffs[0, :, 0, 0] = torch.arange(12.0)
    image = torch.tensor([1.0, 10.0, 100.0]).view(1, 3, 1, 1)
    out = apply_affine(coeffs, image).flatten().tolist()
    assert out == [0 + 10 + 200 + 3, 4 + 50 + 600 + 7, 8 + 90 + 1000 + 11]


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(1)
    grid = torch.randn(1, 12, 3, 3, 4, dtype=torch.float64, generator=g).requires_grad_()
    guide = (torch.rand(1, 5, 6, dtype=torch.float64, generator=g) * 0.8 + 0.1).requires_grad_()
    image = torch.rand(1, 3, 5, 6, dtype=torch.float64, generator=g).requires_grad_()
    assert torch.autograd.gradcheck(slice_and_apply, (grid, guide, image), eps=1e-6, atol=1e-5)
    guides = (torch.rand(1, 3, 5, 6, dtype=torch.float64, generator=g) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(slice_and_apply, (grid, guides, image), eps=1e-6, atol=1e-5)


def naive_slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-pixel reference: naive slicing, then out_i = Σ_j A[4i+j]·in_j + A[4i+3], written out."""
    coeffs = naive_slice(grid, guide)
    x = image.double()
    return torch.stack([sum(coeffs[:, 4 * i + j] * x[:, j] for j in range(3)) + coeffs[:, 4 * i + 3] for i in range(3)], dim=1)


def test_module_twin_and_shape_errors():
    g = torch.Generator().manual_seed(6)
    grid, guide, image = torch.randn(2, 12, 4, 3, 3, generator=g), torch.rand(2, 7, 8, generator=g), torch.rand(2, 3, 7, 8, generator=g)
    ref = naive_slice_and_apply(grid, guide, image)
    torch.testing.assert_close(SliceAndApply()(grid, guide, image).double(), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(slice_and_apply(grid, guide, image).double(), ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="grid"):
        slice_and_apply(torch.randn(2, 11, 4, 3, 3), guide, image)
    with pytest.raises(ValueError, match="coeffs"):
        slice_and_apply(grid, guide, torch.rand(2, 3, 7, 9))
    with pytest.raises(ValueError, match="batch"):
        slice_and_apply(grid, guide[:1], image)


@pytest.mark.parametrize("band_rows", [1, 7, 64])
def test_banded_equals_unbanded(band_rows):
    g = torch.Generator().manual_seed(2)
    grid, guide, image = torch.randn(2, 12, 8, 16, 16, generator=g), torch.rand(2, 45, 70, generator=g), torch.rand(2, 3, 45, 70, generator=g)
    full = slice_and_apply(grid, guide, image)
    torch.testing.assert_close(slice_and_apply_banded(grid, guide, image, band_rows), full, atol=1e-5, rtol=0)
    guides = torch.rand(2, 3, 45, 70, generator=g)
    full = slice_and_apply(grid, guides, image)
    torch.testing.assert_close(slice_and_apply_banded(grid, guides, image, band_rows), full, atol=1e-5, rtol=0)


def _trained_like_operator(per_channel_guide: bool = False) -> BilateralOperator:
    torch.manual_seed(3)
    op = BilateralOperator(BilateralConfig(lowres_size=32, per_channel_guide=per_channel_guide)).eval()
    with torch.no_grad():
        for p in op.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return op


@pytest.mark.parametrize("per_channel_guide", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_operator_full_resolution_paths_equal_forward(fused, per_channel_guide):
    if fused and not _fused_cpu.available():
        pytest.skip("no C compiler for the fused CPU kernel")
    op = _trained_like_operator(per_channel_guide)
    image, strength = torch.rand(2, 3, 61, 83), torch.tensor([0.3, -0.7])
    with torch.no_grad():
        ref = op(image, strength)
    out = op.apply_full(image, strength, band_rows=16, fused=fused)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    inplace = image.clone()
    op.apply_full(inplace, strength, out=inplace, band_rows=16, fused=fused)
    torch.testing.assert_close(inplace, ref, atol=1e-5, rtol=0)


def test_fused_kernel_guide_params_layout():
    guide = GuideMap(4)
    assert guide.flat_parameters().numel() == 9 + 3 + 4 * 3 * 2 + 3 + 1
    assert sum(p.numel() for p in GuideMap(16).parameters()) == 112
    assert sum(p.numel() for p in GuideMap(16, per_channel=True).parameters()) == 112


def test_per_channel_guide_starts_as_the_image():
    image = torch.rand(2, 3, 5, 7)
    torch.testing.assert_close(GuideMap(16, per_channel=True)(image), image)


@pytest.mark.parametrize("grid_dtype", [torch.float32, torch.bfloat16])
def test_autocast_keeps_coordinates_fp32(grid_dtype):
    """Under bf16 autocast, with a bf16 guide (and grid), the result is the float64 per-pixel
    reference on those same bf16 values: coordinates are not rounded to bf16 (8-bit mantissa)."""
    g = torch.Generator().manual_seed(7)
    grid, guide, image = torch.randn(1, 12, 8, 4, 4, generator=g).to(grid_dtype), torch.rand(1, 9, 9, generator=g).bfloat16(), torch.rand(1, 3, 9, 9, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = slice_and_apply(grid, guide, image)
    assert out.dtype == torch.float32
    ref = naive_slice_and_apply(grid.double(), guide.double(), image)
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def _with_threads(n: int, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_deterministic_on_cpu_whatever_the_thread_count():
    """Slicing gives the same bytes with 1 and 2 CPU threads: the torch path and the fused OpenMP
    kernel (rows split over threads). (The grid-predicting convolutions are torch's own business.)"""
    g = torch.Generator().manual_seed(8)
    grid, guide, image = torch.randn(2, 12, 8, 8, 8, generator=g), torch.rand(2, 97, 131, generator=g), torch.rand(2, 3, 97, 131, generator=g)
    one, two = (_with_threads(n, lambda: slice_and_apply(grid, guide, image)) for n in (1, 2))
    assert torch.equal(one, two)
    if _fused_cpu.available():
        op = _trained_like_operator()
        params, points = op.guide.flat_parameters(), op.config.guide_points
        one, two = (
            _with_threads(n, lambda: _fused_cpu.fused_bilateral_apply(image, grid, params, points, torch.empty_like(image)))
            for n in (1, 2)
        )
        assert torch.equal(one, two)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    op = _trained_like_operator()
    image, strength = torch.rand(2, 3, 61, 83), torch.tensor([0.3, -0.7])
    ref = op.apply_full(image, strength, fused=False)
    out = op.cuda().apply_full(image.cuda(), strength.cuda(), band_rows=16)
    torch.testing.assert_close(out.cpu(), ref, atol=1e-4, rtol=0)
