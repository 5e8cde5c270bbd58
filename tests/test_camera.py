"""Tests for bno.synth.camera (the camera pipeline run backwards) and its use by scripts/make_samples."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import rawpy

from bno.synth.camera import (
    CAMERAS,
    camera_neutral,
    illuminant_xyz,
    seed_from_name,
    sensor_readout,
    srgb_to_camera,
    to_sensor_orientation,
)
from bno.synth.dng import mosaic, write_dng

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.mark.parametrize("temperature,tint", [(2850.0, 0.0), (5000.0, 20.0), (7500.0, -10.0)])
def test_a_grey_photo_records_the_light_as_shot_neutral(temperature, tint):
    """Any sRGB grey re-lit by a light is that light's colour to the camera: ∝ AsShotNeutral."""
    matrix = CAMERAS["N14"].color_matrix
    rgb = srgb_to_camera(np.full((2, 3, 3), 0.6), matrix, temperature, tint, ev=0.0)
    neutral = camera_neutral(matrix, temperature, tint)
    np.testing.assert_allclose(rgb[0, 0] / rgb[0, 0, 1], neutral, rtol=1e-3)
    assert neutral[1] == 1.0


def test_exposure_is_a_linear_gain_and_white_sits_at_the_headroom():
    matrix = CAMERAS["C14"].color_matrix
    white = srgb_to_camera(np.ones((1, 1, 3)), matrix, 4000.0, 0.0, ev=0.0)
    dark = srgb_to_camera(np.ones((1, 1, 3)), matrix, 4000.0, 0.0, ev=-2.0)
    assert white.max() == pytest.approx(0.70, rel=2e-3)  # WHITE_HEADROOM, up to the sRGB matrix's rounding
    np.testing.assert_allclose(dark, white / 4.0, rtol=1e-12)


def test_illuminant_xyz_matches_the_adobe_table():
    """SPEC §2: 5000 K, tint 0 → xy (0.34510, 0.35162)."""
    xyz = illuminant_xyz(5000.0, 0.0)
    np.testing.assert_allclose(xyz[:2] / xyz.sum(), (0.34510, 0.35162), atol=2e-5)
    assert xyz[1] == pytest.approx(1.0)


@pytest.mark.parametrize("orientation,flip", [(1, 0), (3, 3), (6, 6), (8, 5)])
def test_sensor_orientation_is_undone_by_libraw(tmp_path, orientation, flip):
    """Store an upright picture for each Orientation; LibRaw's oriented decode gives it back upright."""
    upright = np.zeros((24, 40, 3))
    upright[:12, :20] = 0.5  # a bright top-left quarter, constant over 2×2 blocks
    stored = to_sensor_orientation(upright, orientation)
    cfa = np.round(mosaic(stored, "RGGB") * 4000).astype(np.uint16)
    path = write_dng(tmp_path / "o.dng", cfa, "RGGB", 0, 4000, np.eye(3), (1.0, 1.0, 1.0), orientation=orientation)
    with rawpy.imread(str(path)) as raw:
        assert raw.sizes.flip == flip
        out = raw.postprocess(half_size=True, gamma=(1, 1), no_auto_bright=True, output_color=rawpy.ColorSpace.raw)
    assert out.shape[:2] == (12, 20)
    assert out[:6, :10].mean() > 10 * out[6:, 10:].mean() + 1


def test_unsupported_orientation():
    with pytest.raises(ValueError, match="orientation"):
        to_sensor_orientation(np.zeros((2, 2, 3)), 5)


def test_sensor_readout_has_poisson_gaussian_statistics():
    """Mean = black + signal·range; variance = (signal·e_white + read²)·(range/e_white)²."""
    black, white, iso = 512, 15000, 400
    signal = np.full((400, 400), 0.25)
    dn = sensor_readout(signal, np.random.default_rng(0), iso, black, white).astype(np.float64)
    electrons_at_white = 40_000.0 * 100 / iso
    gain = (white - black) / electrons_at_white  # DN per electron
    assert dn.mean() == pytest.approx(black + 0.25 * (white - black), rel=2e-3)
    assert dn.var() == pytest.approx((0.25 * electrons_at_white + 4.0**2) * gain**2, rel=0.03)
    again = sensor_readout(signal, np.random.default_rng(0), iso, black, white)
    np.testing.assert_array_equal(dn.astype(np.uint16), again)
    assert sensor_readout(np.full((4, 4), 9.0), np.random.default_rng(0), 100, 0, 4095).max() == 4095


def test_seed_from_name_is_stable():
    assert seed_from_name("a") == seed_from_name("a") != seed_from_name("b")
    assert 0 <= seed_from_name("a0001-IMG_0001") < 2**64


def _sample_records() -> list[dict]:
    return json.loads((SAMPLES / "photos.json").read_text(encoding="utf-8"))


def test_make_samples_plans_the_bundled_samples():
    """scripts/make_samples.py's plan (split, FiveK ids, shots) from the recorded photos is the committed one."""
    from bno.pipelines.data.photoset import Photo
    from scripts.make_samples import SEED, plan_samples

    records = _sample_records()
    photos = [Photo(**record["source"], file="") for record in records]  # planning reads no pixels
    planned = {shot.name: shot for shot in plan_samples(photos, SEED)}
    assert {name: asdict(shot) for name, shot in planned.items()} == {
        r["shot"]["name"]: {**r["shot"], "split": r["split"]} for r in records
    }
    assert plan_samples(photos, SEED + 1) != list(planned.values())


@pytest.mark.parametrize("name", [r["shot"]["name"] for r in _sample_records() if r["source"]["package"] == "pypi:scikit-image"])
def test_make_samples_reproduces_a_bundled_sample_bit_exactly(tmp_path, name):
    """A sample made again from the installed scikit-image photo is the committed raw and target, byte for byte."""
    from bno.pipelines.data.photoset import Shot, make_shot, resolve_photos
    from scripts.make_samples import LONG_EDGE, RAWS, SEED

    record = next(r for r in _sample_records() if r["shot"]["name"] == name)
    photo = next(p for p in resolve_photos({}, ()) if p.key == record["source"]["key"])
    if photo.version != record["source"]["version"]:
        pytest.skip(f"scikit-image {photo.version} installed; the samples were made from {record['source']['version']}")
    result = make_shot(photo, Shot(**record["shot"], split=record["split"]), str(tmp_path), SEED, LONG_EDGE, raw_folder=RAWS)
    assert result["status"] == "ok", result
    for relative in (record["raw"], record["target"]):
        assert (tmp_path / relative).read_bytes() == (SAMPLES / relative).read_bytes(), relative
