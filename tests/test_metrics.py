"""bno.synth.metrics: PSNR/SSIM/ΔE76/ΔE2000 as SPEC §6 defines them, against known values; LPIPS's availability."""

from __future__ import annotations

import math

import colour
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from skimage.color import lab2rgb

from references import LINDBLOOM_SRGB_LAB
from bno.pipelines.evaluate.metrics import lpips_status
from bno.synth import metrics

# CIEDE2000 test data, Sharma, Wu & Dalal (2005), Table 1: (Lab1, Lab2, ΔE00) — pairs in the sRGB gamut.
SHARMA = [
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),  # pair 7
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),  # pair 25
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),  # pair 26
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),  # pair 27
]


def _rgb_of_lab(lab) -> np.ndarray:
    return lab2rgb(np.array(lab, dtype=np.float64)[None, None]).repeat(4, 0).repeat(5, 1)


def test_psnr_of_a_known_mse():
    target = np.full((8, 9, 3), 0.5)
    assert metrics.psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01
    noisy = target.copy()
    noisy[0, 0, 0] += 0.3  # MSE = 0.09 / 216
    assert metrics.psnr(noisy, target) == pytest.approx(10 * math.log10(216 / 0.09), abs=1e-9)
    assert metrics.psnr(target, target) == metrics.PSNR_CAP


def test_identical_images_score_perfectly():
    image = np.random.default_rng(0).random((32, 40, 3))
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.delta_e76(image, image) == pytest.approx(0.0, abs=1e-9)
    assert metrics.delta_e2000(image, image) == pytest.approx(0.0, abs=1e-9)


def naive_ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """SSIM written from Wang, Bovik, Sheikh & Simoncelli (2004), eq. 13, as SPEC §6 fixes it:
    data range L = 1, K1 = 0.01, K2 = 0.03, a win × win uniform window over every position where
    it fits inside the image, unbiased (N − 1) variances and covariance, mean over windows, then
    over the three channels."""
    c1, c2 = 0.01**2, 0.03**2
    scores = []
    for channel in range(3):
        wa = sliding_window_view(a[..., channel], (win, win)).reshape(-1, win * win)
        wb = sliding_window_view(b[..., channel], (win, win)).reshape(-1, win * win)
        mu_a, mu_b = wa.mean(1), wb.mean(1)
        var_a, var_b = wa.var(1, ddof=1), wb.var(1, ddof=1)
        cov = ((wa - mu_a[:, None]) * (wb - mu_b[:, None])).sum(1) / (win * win - 1)
        ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        scores.append(ssim_map.mean())
    return float(np.mean(scores))


def test_ssim_matches_a_naive_wang_2004_ssim():
    rng = np.random.default_rng(1)
    a = rng.random((24, 30, 3))
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1)
    assert metrics.ssim(a, b) == pytest.approx(naive_ssim(a, b), abs=1e-9)
    a, b = rng.random((24, 30, 3)), rng.random((24, 30, 3))
    assert metrics.ssim(a, b) == pytest.approx(naive_ssim(a, b), abs=1e-9)
    assert metrics.ssim(a, b) < 0.2


def test_ssim_of_two_flat_images_is_the_luminance_term():
    """No structure, no contrast: SSIM = (2 μa μb + C1) / (μa² + μb² + C1) (Wang et al. 2004, eq. 13)."""
    c1 = 0.01**2
    a, b = np.full((16, 20, 3), 0.5), np.full((16, 20, 3), 0.6)
    assert metrics.ssim(a, b) == pytest.approx((2 * 0.5 * 0.6 + c1) / (0.5**2 + 0.6**2 + c1), abs=1e-12)


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_delta_e2000_matches_sharma_2005(lab1, lab2, expected):
    assert metrics.delta_e2000(_rgb_of_lab(lab1), _rgb_of_lab(lab2)) == pytest.approx(expected, abs=2e-3)


def test_delta_e76_is_euclidean_lab_distance():
    a, b = _rgb_of_lab((50.0, 0.0, 0.0)), _rgb_of_lab((50.0, -1.0, 2.0))
    assert metrics.delta_e76(a, b) == pytest.approx(math.sqrt(5.0), abs=2e-3)


@pytest.mark.parametrize("rgb1", sorted(LINDBLOOM_SRGB_LAB))
@pytest.mark.parametrize("rgb2", sorted(LINDBLOOM_SRGB_LAB))
def test_delta_e76_between_srgb_primaries_matches_published_lab(rgb1, rgb2):
    """sRGB primaries, white and black: ΔE76 is the distance of their published CIELAB (D65)
    coordinates (Lindbloom), i.e. sRGB is decoded and the Lab white is D65, as NeurOp's rgb2lab does."""
    flat = lambda rgb: np.ones((4, 5, 3)) * np.array(rgb)  # noqa: E731
    expected = math.dist(LINDBLOOM_SRGB_LAB[rgb1], LINDBLOOM_SRGB_LAB[rgb2])
    assert metrics.delta_e76(flat(rgb1), flat(rgb2)) == pytest.approx(expected, abs=0.02)


def test_delta_e_matches_colour_science_on_random_images():
    """An independent sRGB → XYZ → Lab chain (colour-science, D65) and its CIE 1976 / CIEDE2000."""
    rng = np.random.default_rng(3)
    a, b = rng.random((16, 20, 3)), rng.random((16, 20, 3))
    d65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    lab_a, lab_b = (colour.XYZ_to_Lab(colour.sRGB_to_XYZ(x), d65) for x in (a, b))
    assert metrics.delta_e76(a, b) == pytest.approx(np.mean(colour.delta_E(lab_a, lab_b, method="CIE 1976")), rel=1e-3)
    assert metrics.delta_e2000(a, b) == pytest.approx(np.mean(colour.delta_E(lab_a, lab_b, method="CIE 2000")), rel=1e-3)


def test_shape_errors():
    a = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(a, np.zeros((8, 9, 3)))


def test_lpips_is_skipped_with_a_one_line_notice_without_local_weights(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    ok, reason = lpips_status()
    assert not ok
    assert reason.startswith("LPIPS skipped") and "\n" not in reason
