"""Image readers and writers: bit depths, channel order, atomic writes, one-line errors."""

import cv2
import numpy as np
import pytest
import tifffile

from bno.synth.colour_spaces import prophoto_to_srgb, prophoto_to_srgb8, srgb_decode, srgb_encode, srgb_to_prophoto
from bno.synth.io import ImageReadError, atomic_write_bytes, encode_image, read_image, write_image, write_prophoto_tiff, write_srgb


@pytest.fixture
def ramp():
    y, x = np.mgrid[0:12, 0:16] / np.array([12, 16])[:, None, None]
    return np.stack([x, y, 1 - x], -1).astype(np.float32)


@pytest.mark.parametrize("suffix, bits, tolerance", [(".png", 8, 0.5 / 255), (".png", 16, 0.5 / 65535), (".tif", 8, 0.5 / 255), (".tif", 16, 0.5 / 65535), (".jpg", 8, None)])
def test_round_trip(tmp_path, ramp, suffix, bits, tolerance):
    path = tmp_path / f"img{suffix}"
    write_image(path, ramp, bits)
    loaded = read_image(path)
    assert loaded.bit_depth == bits and loaded.pixels.dtype == np.float32 and loaded.pixels.shape == ramp.shape
    if tolerance is None:  # lossy: 4:2:0 chroma subsampling on a tiny image
        assert np.abs(loaded.pixels - ramp).mean() < 0.03
    else:
        np.testing.assert_allclose(loaded.pixels, ramp, atol=tolerance + 1e-7)


def test_rgb_order_against_opencv(tmp_path):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    np.testing.assert_array_equal(read_image(tmp_path / "red.png").pixels[0, 0], [1, 0, 0])
    write_image(tmp_path / "ours.png", read_image(tmp_path / "red.png").pixels)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "ours.png")), bgr)


def test_grey_and_rgba_inputs(tmp_path):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((3, 3), 128, np.uint8))
    assert read_image(tmp_path / "grey.png").pixels.shape == (3, 3, 3)
    tifffile.imwrite(tmp_path / "rgba.tif", np.full((3, 3, 4), 1000, np.uint16))
    rgba = read_image(tmp_path / "rgba.tif")
    assert rgba.bit_depth == 16 and rgba.pixels.shape == (3, 3, 3)


def test_same_pixels_same_bytes(ramp):
    for suffix in (".png", ".tif", ".jpg"):
        assert encode_image(ramp, suffix) == encode_image(ramp.copy(), suffix)


def test_writers_encode_prophoto(tmp_path, ramp):
    write_srgb(tmp_path / "a.png", ramp, 16)
    np.testing.assert_allclose(read_image(tmp_path / "a.png").pixels, prophoto_to_srgb(ramp), atol=1e-4)
    write_prophoto_tiff(tmp_path / "a.tif", ramp)
    assert tifffile.imread(tmp_path / "a.tif").dtype == np.uint16
    np.testing.assert_allclose(read_image(tmp_path / "a.tif").pixels, ramp, atol=1e-4)


def test_srgb_round_trips_and_white_stays_neutral():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(srgb_decode(srgb_encode(x)), x, atol=1e-6)
    np.testing.assert_allclose(prophoto_to_srgb(np.ones(3, np.float32)), [1, 1, 1], atol=1e-6)
    grey = srgb_to_prophoto(np.full(3, 0.5, np.float32))
    assert np.ptp(grey) < 1e-6


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("bno.synth.io.os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("name, content, reason", [("bad.png", b"garbage", "unreadable"), ("bad.tif", b"garbage", "unreadable TIFF"), ("x.bmp", b"BM", "unsupported image type")])
def test_unreadable_images_one_line(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(path) in str(info.value) and reason in str(info.value) and "\n" not in str(info.value)


def test_missing_image(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "none.png")


def test_srgb8_lookup_matches_exact_encoding():
    rng = np.random.default_rng(1)
    prophoto = np.concatenate([rng.random((5000, 3), dtype=np.float32), rng.random((5000, 3), dtype=np.float32) * 0.01, [[0, 0, 0], [1, 1, 1], [2, -1, 0.5]]]).astype(np.float32)
    exact = np.rint(prophoto_to_srgb(prophoto) * 255)
    fast = prophoto_to_srgb8(prophoto)
    assert fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - exact).max() <= 1
    assert (fast == exact).mean() > 0.99
