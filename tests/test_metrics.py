"""bno.synth.metrics: PSNR/SSIM/ΔE76/ΔE2000 as SPEC §6 defines them, against known values; LPIPS's availability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import lab2rgb

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


def test_ssim_is_skimage_with_data_range_1_and_channel_axis():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a, b = rng.random((24, 30, 3)), rng.random((24, 30, 3))
    assert metrics.ssim(a, b) == structural_similarity(a, b, data_range=1.0, channel_axis=-1)
    assert metrics.ssim(a, b) < 0.2


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_delta_e2000_matches_sharma_2005(lab1, lab2, expected):
    assert metrics.delta_e2000(_rgb_of_lab(lab1), _rgb_of_lab(lab2)) == pytest.approx(expected, abs=2e-3)


def test_delta_e76_is_euclidean_lab_distance():
    a, b = _rgb_of_lab((50.0, 0.0, 0.0)), _rgb_of_lab((50.0, -1.0, 2.0))
    assert metrics.delta_e76(a, b) == pytest.approx(math.sqrt(5.0), abs=2e-3)


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
