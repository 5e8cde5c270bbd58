"""Image readers and writers: bit depths, channel order, atomic writes, one-line errors, ICC profiles."""

import io
import logging
import struct
import subprocess
import sys
import zlib
from datetime import datetime

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from bno.synth.colour_spaces import prophoto_to_srgb, prophoto_to_srgb8, srgb_decode, srgb_encode, srgb_to_prophoto
from bno.synth.icc import PROFILE_DATE, linear_prophoto_profile, srgb_profile
from bno.synth.io import (
    ImageReadError,
    atomic_write_bytes,
    encode_image,
    encode_prophoto_tiff,
    encode_srgb,
    read_image,
    write_image,
    write_prophoto_tiff,
    write_srgb,
)


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

    monkeypatch.setattr("bno.files.os.replace", broken_replace)
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


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda png, idat: png[: idat + 20], "truncated PNG: chunk IDAT at byte {idat} ends past the end of the file"),
        (lambda png, idat: png[:-12], "truncated PNG: the file ends before its IEND chunk"),
        (lambda png, idat: png[: idat + 10] + bytes([png[idat + 10] ^ 0xFF]) + png[idat + 11 :], "corrupt PNG: chunk IDAT at byte {idat} fails its CRC check"),
    ],
    ids=["cut-in-IDAT", "no-IEND", "flipped-byte"],
)
def test_broken_png_is_one_line_and_nothing_else_on_stderr(tmp_path, capfd, damage, reason):
    """libpng prints its own message to stderr (file descriptor 2) for a broken PNG; the reader checks the chunks first."""
    path = tmp_path / "photo.png"
    write_image(path, np.random.default_rng(0).random((24, 32, 3), dtype=np.float32), bit_depth=16)
    intact = path.read_bytes()
    idat = intact.index(b"IDAT") - 4  # the chunk starts with its 4-byte length
    assert read_image(path).pixels.shape == (24, 32, 3)
    path.write_bytes(damage(intact, idat))
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(info.value) == f"{path}: {reason.format(idat=idat)}"
    assert capfd.readouterr().err == ""


def test_a_tiff_cut_short_is_one_line_and_tifffile_stays_quiet(tmp_path, caplog):
    """tifffile logs "corrupted tag list" for this cut (a bundled raw's first 5,000 bytes named .tif)."""
    import bno

    sample = sorted(bno.resource_path("samples/raws").glob("*.dng"))[0]
    path = tmp_path / "cut.tif"
    path.write_bytes(sample.read_bytes()[:5000])
    with caplog.at_level(logging.DEBUG), pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: unreadable TIFF (") and "\n" not in str(info.value)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("tifffile")] == []


def test_a_jpeg_named_png_is_still_read(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))[1].tobytes())
    assert read_image(path).pixels.shape == (8, 8, 3)


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


# --------------------------------------------------------------------------- colour management

#: ROMM RGB / ProPhoto primaries and white, CIE xy (ANSI/I3A IT10.7666, ISO 22028-2), typed in here.
ROMM_PRIMARIES = {"red": (0.7347, 0.2653), "green": (0.1596, 0.8404), "blue": (0.0366, 0.0001)}
D50_XY = (0.3457, 0.3585)
#: The ICC PCS illuminant (ICC.1:2022 §7.2.16), to which every colorant tag is adapted.
ICC_D50_XYZ = np.array([0.9642, 1.0, 0.8249])


def _profile(data: bytes) -> ImageCms.core.CmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(data)).profile


def _embedded_profile(data: bytes, suffix: str) -> bytes | None:
    if suffix == ".tif":
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            return tif.pages[0].iccprofile
    return Image.open(io.BytesIO(data)).info.get("icc_profile")


@pytest.mark.parametrize("suffix, bits", [(".png", 8), (".png", 16), (".jpg", 8), (".tif", 8), (".tif", 16)])
def test_srgb_outputs_carry_an_srgb_profile(ramp, suffix, bits):
    data = encode_image(ramp, suffix, bits)
    assert _embedded_profile(data, suffix) == srgb_profile()
    assert _embedded_profile(encode_srgb(ramp, suffix, bits), suffix) == srgb_profile()
    assert _embedded_profile(encode_image(ramp, suffix, bits, profile=None), suffix) is None
    assert _profile(srgb_profile()).profile_description == "sRGB built-in"


def test_prophoto_tiff_carries_a_linear_prophoto_profile(tmp_path, ramp):
    write_prophoto_tiff(tmp_path / "p.tif", ramp)
    embedded = _embedded_profile((tmp_path / "p.tif").read_bytes(), ".tif")
    assert embedded == linear_prophoto_profile() == _embedded_profile(encode_prophoto_tiff(ramp), ".tif")
    profile = _profile(embedded)
    assert profile.profile_description == "RGB built-in"  # what LittleCMS names every cmsCreateRGBProfile
    assert profile.xcolor_space == "RGB " and profile.connection_space == "XYZ "
    # rXYZ/gXYZ/bXYZ: the ROMM primaries with Y scaled so that R + G + B is the PCS white (D50)
    xy = np.array(list(ROMM_PRIMARIES.values()))
    xyz = np.column_stack([xy[:, 0] / xy[:, 1], np.ones(3), (1 - xy.sum(1)) / xy[:, 1]])  # rows: X, Y=1, Z
    white = np.array([D50_XY[0] / D50_XY[1], 1.0, (1 - sum(D50_XY)) / D50_XY[1]])
    expected = xyz * np.linalg.solve(xyz.T, white)[:, None]  # rows: XYZ of each primary
    for row, name in zip(expected, ROMM_PRIMARIES):
        np.testing.assert_allclose(getattr(profile, f"{name}_colorant")[0], row * ICC_D50_XYZ / white, atol=2e-4)
        np.testing.assert_allclose(getattr(profile, f"{name}_primary")[1][:2], ROMM_PRIMARIES[name], atol=2e-4)
    np.testing.assert_allclose(profile.media_white_point[1][:2], D50_XY, atol=2e-4)


def test_linear_prophoto_profile_is_linear_and_agrees_with_our_srgb_maths():
    """LittleCMS, reading only the embedded profiles, converts linear ProPhoto to sRGB as synth.colour_spaces does."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(20, 200, (16, 16, 3), dtype=np.uint8)
    pixels[0, :, :] = np.arange(0, 256, 16, dtype=np.uint8)[:, None]  # a grey ramp: gamma 1 means it maps like ours
    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(linear_prophoto_profile())),
        ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile())),
        "RGB", "RGB", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    converted = np.asarray(ImageCms.applyTransform(Image.fromarray(pixels), transform)).astype(int)
    ours = prophoto_to_srgb(pixels.astype(np.float32) / 255)
    inside = (ours > 0.01).all(-1) & (ours < 0.99).all(-1)  # clipping is where CMMs may differ
    assert inside.mean() > 0.5
    assert np.abs(converted - np.rint(ours * 255))[inside].max() <= 2


def test_profiles_carry_no_timestamp():
    for profile in (srgb_profile(), linear_prophoto_profile()):
        assert struct.unpack(">6H", profile[24:36]) == PROFILE_DATE
        assert _profile(profile).creation_date == datetime(*PROFILE_DATE)
    script = "from bno.synth.icc import srgb_profile, linear_prophoto_profile; import sys; sys.stdout.buffer.write(srgb_profile() + linear_prophoto_profile())"
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout  # built at another time
    assert other == srgb_profile() + linear_prophoto_profile()


def test_jpeg_quality(ramp):
    sizes = [len(encode_image(ramp, ".jpg", quality=q)) for q in (30, 95, 100)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    with pytest.raises(ValueError, match="quality"):
        encode_image(ramp, ".jpg", quality=101)


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_png_header_claiming_too_many_pixels_is_one_line(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(100000, 100000))
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "too large" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("length", [254, 255])
def test_longest_names_can_be_written(tmp_path, length):
    target = tmp_path / ("n" * (length - 4) + ".png")
    write_image(target, np.zeros((2, 2, 3), np.float32))
    assert read_image(target).pixels.shape == (2, 2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_exclusive_write_never_replaces(tmp_path):
    target = tmp_path / "mine.png"
    target.write_bytes(b"the user's")
    with pytest.raises(FileExistsError):
        atomic_write_bytes(target, b"new", exclusive=True)
    assert target.read_bytes() == b"the user's" and sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]
    atomic_write_bytes(tmp_path / "new.png", b"new", exclusive=True)
    assert (tmp_path / "new.png").read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 2
