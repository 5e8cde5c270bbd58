"""Optional fused CPU kernel: guide map + HDRNet slicing + affine in one pass.

A ~80-line C loop (OpenMP over rows), compiled with the system C compiler at first
use into a per-user cache and called through ``ctypes`` — no torch headers, so it
builds in about a second. Per row it interpolates the grid along y once (a
``GW × D × 12`` table), then each pixel computes its guide value and blends the 4
(x, z) corners it needs. It works in place and allocates nothing per pixel, so
memory stays at the input + output buffers.

It is an accelerator only: :func:`available` is False when no compiler is found or
the build fails (or ``BNO_NO_FUSED_KERNEL=1``), and the callers then use the
pure-torch banded path, which is the tested reference (``tests/test_model_slicing.py``
checks both agree to 1e-5).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

__all__ = ["available", "fused_bilateral_apply"]

_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <math.h>

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* img, out: (B,3,H,W) float32 (may alias); grid: (B,GH,GW,D,12) float32;
   gp: ccm[9], ccm_bias[3], shifts[3*n], slopes[3*n], proj[3], proj_bias[1];
   per_channel: 0 = one guide g = clamp(sum_i proj_i f_i + proj_bias), 1 = three guides
   g_i = clamp(proj_i f_i + proj_bias), output channel i sliced with g_i. */
int bno_bilateral_apply(const float *img, float *out, const float *grid, const float *gp,
                        int n, int per_channel, int64_t B, int64_t H, int64_t W, int64_t GH,
                        int64_t GW, int64_t D, int nthreads) {
    const int64_t C = 12, HW = H * W, cell = D * C, row_len = GW * D * C;
    int *x0 = (int *)malloc(sizeof(int) * W);
    int *x1 = (int *)malloc(sizeof(int) * W);
    float *wx = (float *)malloc(sizeof(float) * W);
    if (!x0 || !x1 || !wx) { free(x0); free(x1); free(wx); return 1; }
    for (int64_t c = 0; c < W; ++c) {
        float xn = (2.0f * (float)c + 1.0f) / (float)W - 1.0f;
        float fx = clampf(((xn + 1.0f) * (float)GW - 1.0f) * 0.5f, 0.0f, (float)(GW - 1));
        int i0 = (int)fx;
        x0[c] = i0; x1[c] = i0 + 1 < GW ? i0 + 1 : (int)GW - 1; wx[c] = fx - (float)i0;
    }
    const float *m = gp, *mb = gp + 9, *sh = gp + 12, *sl = gp + 12 + 3 * n, *pj = gp + 12 + 6 * n;
    const int guides = per_channel ? 3 : 1;
    int failed = 0;
    #pragma omp parallel num_threads(nthreads)
    {
        float *tab = (float *)malloc(sizeof(float) * (row_len + 5 * W));
        if (!tab) {
            #pragma omp atomic write
            failed = 1;
        }
        #pragma omp for schedule(static)
        for (int64_t br = 0; br < B * H; ++br) {
            if (!tab) continue;
            const int64_t b = br / H, r = br % H;
            float yn = (2.0f * (float)r + 1.0f) / (float)H - 1.0f;
            float fy = clampf(((yn + 1.0f) * (float)GH - 1.0f) * 0.5f, 0.0f, (float)(GH - 1));
            int64_t y0 = (int64_t)fy, y1 = y0 + 1 < GH ? y0 + 1 : GH - 1;
            float wy = fy - (float)y0;
            const float *g0 = grid + (b * GH + y0) * row_len, *g1 = grid + (b * GH + y1) * row_len;
            for (int64_t k = 0; k < row_len; ++k) tab[k] = g0[k] + wy * (g1[k] - g0[k]);
            const float *ip = img + b * 3 * HW + r * W;
            float *op = out + b * 3 * HW + r * W;
            /* guide map(s) for the whole row, in loops over pixels the compiler vectorises */
            float *gd = tab + row_len, *v = gd + 3 * W, *f = v + W;
            for (int g = 0; g < guides; ++g)
                for (int64_t c = 0; c < W; ++c) gd[g * W + c] = pj[3];
            for (int i = 0; i < 3; ++i) {
                const float m0 = m[3 * i], m1 = m[3 * i + 1], m2 = m[3 * i + 2], bi = mb[i];
                for (int64_t c = 0; c < W; ++c) { v[c] = m0 * ip[c] + m1 * ip[HW + c] + m2 * ip[2 * HW + c] + bi; f[c] = 0.0f; }
                for (int k = 0; k < n; ++k) {
                    const float s = sh[i * n + k], a = sl[i * n + k];
                    for (int64_t c = 0; c < W; ++c) { const float d = v[c] - s; f[c] += a * (d > 0.0f ? d : 0.0f); }
                }
                const float p = pj[i];
                float *gi = gd + (per_channel ? i * W : 0);
                for (int64_t c = 0; c < W; ++c) gi[c] += p * f[c];
            }
            for (int64_t c = 0; c < W; ++c) {
                const float R = ip[c], G = ip[HW + c], Bl = ip[2 * HW + c], w = wx[c];
                int64_t z0[3], z1[3];
                float wz[3];
                for (int g = 0; g < guides; ++g) {
                    const float guide = clampf(gd[g * W + c], 0.0f, 1.0f);
                    const float fz = clampf(guide * (float)D - 0.5f, 0.0f, (float)(D - 1));
                    z0[g] = (int64_t)fz; z1[g] = z0[g] + 1 < D ? z0[g] + 1 : D - 1; wz[g] = fz - (float)z0[g];
                }
                for (int i = 0; i < 3; ++i) {  /* output channel i reads coefficients 4i..4i+3 */
                    const int g = per_channel ? i : 0;
                    const float *a00 = tab + x0[c] * cell + z0[g] * C + 4 * i, *a01 = tab + x0[c] * cell + z1[g] * C + 4 * i;
                    const float *a10 = tab + x1[c] * cell + z0[g] * C + 4 * i, *a11 = tab + x1[c] * cell + z1[g] * C + 4 * i;
                    float A[4];
                    for (int k = 0; k < 4; ++k) {
                        const float lo = a00[k] + wz[g] * (a01[k] - a00[k]);
                        const float hi = a10[k] + wz[g] * (a11[k] - a10[k]);
                        A[k] = lo + w * (hi - lo);
                    }
                    op[i * HW + c] = A[0] * R + A[1] * G + A[2] * Bl + A[3];
                }
            }
        }
        free(tab);
    }
    free(x0); free(x1); free(wx);
    return failed;
}
"""

_LIB: ctypes.CDLL | None = None
_TRIED = False


def _cache_dir() -> Path:
    root = os.environ.get("BNO_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "bno"
    )
    return Path(root)


def _build() -> ctypes.CDLL | None:
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return None
    flags = ["-O3", "-fPIC", "-shared", "-fopenmp", "-fno-math-errno"]
    key = hashlib.sha256((_SOURCE + " ".join(flags) + platform.machine() + compiler).encode()).hexdigest()[:16]
    target = _cache_dir() / f"bno_fused_{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            src = Path(tmp) / "kernel.c"
            src.write_text(_SOURCE)
            built = Path(tmp) / "kernel.so"
            result = subprocess.run(
                [compiler, *flags, str(src), "-o", str(built)], capture_output=True, text=True, timeout=120
            )
            if result.returncode != 0:
                return None
            os.replace(built, target)  # atomic: concurrent builders agree on the result
    lib = ctypes.CDLL(str(target))
    fn = lib.bno_bilateral_apply
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int] * 2 + [ctypes.c_int64] * 6 + [ctypes.c_int]
    return lib


def available() -> bool:
    """Whether the fused CPU kernel can be used (builds it on first call)."""
    global _LIB, _TRIED
    if os.environ.get("BNO_NO_FUSED_KERNEL") == "1":
        return False
    if not _TRIED:
        _TRIED = True
        try:
            _LIB = _build()
        except (OSError, subprocess.SubprocessError):
            _LIB = None
    return _LIB is not None


def fused_bilateral_apply(
    image: torch.Tensor,
    grid: torch.Tensor,
    guide_params: torch.Tensor,
    n_points: int,
    out: torch.Tensor,
    per_channel: bool = False,
) -> torch.Tensor:
    """Guide map + slice + affine for CPU float32 tensors, no autograd.

    Args:
        image: ``(B, 3, H, W)`` contiguous float32.
        grid: ``(B, 12, D, GH, GW)`` float32 (HDRNet layout of :mod:`bno.model.slicing`).
        guide_params: flat float32, see :meth:`bno.model.bilateral.GuideMap.flat_parameters`.
        n_points: curve control points per channel.
        per_channel: one guide per output channel (``GuideMap(per_channel=True)``).
        out: ``(B, 3, H, W)`` contiguous float32; may be ``image`` (in place).
    """
    if not available():
        raise RuntimeError("the fused CPU kernel is not available")
    for name, t in (("image", image), ("out", out)):
        if t.device.type != "cpu" or t.dtype != torch.float32 or not t.is_contiguous():
            raise ValueError(f"{name} must be a contiguous float32 CPU tensor")
    B, _, H, W = image.shape
    _, _, D, GH, GW = grid.shape
    table = grid.detach().float().permute(0, 3, 4, 2, 1).contiguous()  # (B, GH, GW, D, 12)
    params = guide_params.detach().float().contiguous()
    rc = _LIB.bno_bilateral_apply(  # type: ignore[union-attr]
        image.data_ptr(), out.data_ptr(), table.data_ptr(), params.data_ptr(), n_points, int(per_channel),
        B, H, W, GH, GW, D, torch.get_num_threads(),
    )
    if rc != 0:
        raise MemoryError("the fused CPU kernel could not allocate its row buffers")
    return out
