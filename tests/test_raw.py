"""Raw decoding (SPEC §3): LibRaw's linear pipeline, as-shot white, orientation, bad input."""

import logging

import numpy as np
import pytest
import rawpy
import tifffile

from raw_factory import BLACK, CANON_5D_COLOR_MATRIX, WHITE, make_scene_dng
from references import ADOBE_TEMPERATURE_TINT_XY, CIE_D50_XY, CIE_D65_XY, XYZ_of_xy
from bno.synth.dng import mosaic, write_dng
from bno.synth.ops import get_operator
from bno.synth.raw import RawDecodeError, decode_raw, is_raw_path, resize_long_edge
from bno.synth.ops.white_balance import white_balance


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_as_shot_white_and_grey_neutrality(tmp_path, pattern):
    path = make_scene_dng(tmp_path / f"a0001-{pattern}.dng", pattern=pattern, temperature=3800, tint=7)
    decoded = decode_raw(path, half_size=True)
    assert decoded.cfa_pattern == pattern
    assert decoded.as_shot.temperature == pytest.approx(3800, abs=1)
    assert decoded.as_shot.tint == pytest.approx(7, abs=0.05)
    # a grey patch is neutral (R = G = B within 0.5 %) when WB is set to the as-shot values
    balanced = white_balance(decoded.image, *decoded.as_shot, as_shot=decoded.as_shot)
    grey = balanced[20:30, 2:12].reshape(-1, 3).mean(0)
    assert np.ptp(grey) / grey.mean() < 0.005
    assert grey.mean() == pytest.approx(0.15, rel=0.02)
    # … and turns warmer as Temperature rises
    warmer = white_balance(decoded.image, 5500, decoded.as_shot.tint, decoded.as_shot)[20:30, 2:12]
    r, g, b = warmer.reshape(-1, 3).mean(0)
    assert r > g > b


#: Published whites: (CIE xy, Adobe temperature K, tint, tolerance K, tolerance tint) — SPEC §2.
PUBLISHED_WHITES = [
    (CIE_D65_XY, 6503, 9.8, 2.5, 0.3),
    (CIE_D50_XY, 5002, 9.6, 2.5, 0.3),
    *[(xy, t, tint, 0.5, 0.05) for (t, tint), xy in ADOBE_TEMPERATURE_TINT_XY.items()],
]


@pytest.mark.parametrize("xy, temperature, tint, tol_t, tol_tint", PUBLISHED_WHITES)
def test_as_shot_white_of_a_published_white(tmp_path, xy, temperature, tint, tol_t, tol_tint):
    """AsShotNeutral = ColorMatrix1 · XYZ(xy), normalised to G = 1 (DNG spec §6), for whites whose
    Adobe Temperature/Tint is published: decode_raw reads the white Camera Raw reads. The file is
    built from the xy alone, not through our Temperature/Tint code."""
    neutral = CANON_5D_COLOR_MATRIX @ XYZ_of_xy(xy)
    neutral /= neutral[1]
    cfa = np.round(BLACK + mosaic(np.full((32, 48, 3), 0.3) * neutral, "RGGB") * (WHITE - BLACK)).astype(np.uint16)
    path = write_dng(tmp_path / "a0012-white.dng", cfa, "RGGB", BLACK, WHITE, CANON_5D_COLOR_MATRIX, neutral)
    decoded = decode_raw(path, half_size=True)
    assert decoded.as_shot.temperature == pytest.approx(temperature, abs=tol_t)
    assert decoded.as_shot.tint == pytest.approx(tint, abs=tol_tint)
    grey = decoded.image.reshape(-1, 3).mean(0)  # a grey card shot at its own white decodes neutral
    assert np.ptp(grey) / grey.mean() < 0.005 and grey.mean() == pytest.approx(0.3, rel=0.02)


def test_plus_one_ev_equals_libraw_exp_shift(tmp_path):
    """+1 EV on our decode = LibRaw's exp_shift=2.0 rendering, in linear light, where unclipped."""
    path = make_scene_dng(tmp_path / "a0002-exp.dng", height=80, width=120)
    ours = get_operator("exposure").apply(decode_raw(path, half_size=True).image, 1.0)
    settings = dict(
        gamma=(1, 1), no_auto_bright=True, output_bps=16, use_camera_wb=True, half_size=True, exp_shift=2.0,
        adjust_maximum_thr=0.0,
    )
    with rawpy.imread(str(path)) as raw:
        libraw = raw.postprocess(output_color=rawpy.ColorSpace.ProPhoto, **settings).astype(np.float32) / 65535
    with rawpy.imread(str(path)) as raw:  # camera-space values, before the colour matrix mixes channels
        camera = raw.postprocess(output_color=rawpy.ColorSpace.raw, **settings).astype(np.float32) / 65535
    unclipped = (camera < 0.999).all(-1) & (libraw < 0.999).all(-1)
    assert unclipped.mean() > 0.5
    np.testing.assert_allclose(ours[unclipped], libraw[unclipped], atol=3 / 65535)


def test_full_size_half_size_and_long_edge(tmp_path):
    path = make_scene_dng(tmp_path / "a0003-size.dng", height=64, width=96)
    assert decode_raw(path).image.shape == (64, 96, 3)
    assert decode_raw(path, half_size=True).image.shape == (32, 48, 3)
    small = decode_raw(path, long_edge=48).image
    assert small.shape == (32, 48, 3) and small.dtype == np.float32
    assert resize_long_edge(small, 500) is small  # never upsizes


def test_orientation_is_honoured(tmp_path):
    reflectance = np.full((64, 96, 3), 0.1)
    reflectance[:8, :8] = 0.6  # bright marker top-left of the sensor
    path = make_scene_dng(tmp_path / "a0004-rot.dng", orientation=6, reflectance=reflectance)
    image = decode_raw(path, half_size=True).image
    assert image.shape == (48, 32, 3)  # rotated 90° for display
    assert image[:4, -4:].mean() > 0.4 > image[-4:, :4].mean()  # marker now top-right (90° CW)


def test_names_with_spaces_and_parentheses(tmp_path):
    path = make_scene_dng(tmp_path / "a1379-_DSC5348 (original).dng")
    assert is_raw_path(path)
    assert decode_raw(path, half_size=True).image.shape == (32, 48, 3)


# --- bad input: one-line errors naming the file and the reason --------------------------


def _assert_one_line(error: RawDecodeError, path, reason: str):
    message = str(error)
    assert "\n" not in message and str(path) in message and reason in message


def test_missing_file(tmp_path):
    with pytest.raises(RawDecodeError) as info:
        decode_raw(tmp_path / "a0005-missing.dng")
    _assert_one_line(info.value, tmp_path / "a0005-missing.dng", "no such file")


def test_truncated_raw(tmp_path):
    path = make_scene_dng(tmp_path / "a0006-trunc.dng")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "truncated")


def test_a_sample_raw_cut_short_is_one_line_and_tifffile_stays_quiet(tmp_path, caplog):
    """tifffile logs "invalid offset to first page" for this cut; the probe's one-line error says it all."""
    import bno

    sample = sorted(bno.resource_path("samples/raws").glob("*.dng"))[0]
    path = tmp_path / sample.name
    path.write_bytes(sample.read_bytes()[:5000])
    with caplog.at_level(logging.DEBUG), pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "truncated")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("tifffile")] == []


def test_non_raw_named_dng(tmp_path):
    path = tmp_path / "a0007-text.dng"
    path.write_text("this is not a raw file\n")
    with pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "not a DNG")


def test_plain_tiff_named_dng(tmp_path):
    path = tmp_path / "a0008-tiff.dng"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    with pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "DNGVersion")


def test_unsupported_raw_extension_file(tmp_path):
    path = tmp_path / "a0009-junk.nef"
    path.write_bytes(b"\x00" * 4096)
    with pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "LibRaw")


def write_linear_dng(path):
    """A LinearRaw (demosaiced, 3 samples per pixel) DNG: valid, but not a Bayer mosaic."""
    matrix = [6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649]
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),
        (50717, "I", 1, 65535, True),
        (50721, "2i", 9, [v for m in matrix for v in (m, 10000)], True),
        (50728, "2I", 3, [1, 2, 1, 1, 1, 2], True),
        (50708, "s", 0, "BNO Linear", True),
    ]
    pixels = np.full((64, 96, 3), 30000, np.uint16)
    tifffile.imwrite(path, pixels, photometric=34892, subfiletype=0, extratags=tags)
    return path


def test_non_bayer_raw(tmp_path):
    path = write_linear_dng(tmp_path / "a0010-linear.dng")
    with pytest.raises(RawDecodeError) as info:
        decode_raw(path)
    _assert_one_line(info.value, path, "not a 2×2 Bayer mosaic")


def write_subifd_dng(path, temperature=4500.0, tint=2.0):
    """A DNG laid out as Adobe DNG Converter writes FiveK's: an RGB preview in IFD0, the CFA in a SubIFD."""
    from raw_factory import BLACK, CANON_5D_COLOR_MATRIX, WHITE, camera_neutral
    from bno.synth.dng import mosaic

    neutral = camera_neutral(temperature, tint)
    cfa = np.round(BLACK + mosaic(np.full((64, 96, 3), 0.3) * neutral, "RGGB") * (WHITE - BLACK)).astype(np.uint16)
    matrix = [v for x in CANON_5D_COLOR_MATRIX.ravel() for v in (int(round(x * 10000)), 10000)]
    ifd0 = [
        (50706, "B", 4, (1, 4, 0, 0), True),
        (50708, "s", 0, "BNO SubIFD", True),
        (50721, "2i", 9, matrix, True),
        (50778, "H", 1, 21, True),
        (50728, "2I", 3, [v for x in neutral for v in (int(round(x * 1e6)), 1000000)], True),
    ]
    cfa_tags = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True), (50714, "I", 1, BLACK, True), (50717, "I", 1, WHITE, True)]
    with tifffile.TiffWriter(path) as writer:
        writer.write(np.zeros((8, 12, 3), np.uint8), photometric="rgb", subfiletype=1, subifds=1, extratags=ifd0, metadata=None)
        writer.write(cfa, photometric=32803, subfiletype=0, extratags=cfa_tags, metadata=None)
    return path


def test_raw_in_a_subifd_decodes_and_truncation_is_caught(tmp_path):
    path = write_subifd_dng(tmp_path / "a0011-subifd.dng")
    decoded = decode_raw(path, half_size=True)
    assert decoded.as_shot.temperature == pytest.approx(4500, abs=1) and decoded.cfa_pattern == "RGGB"
    assert np.ptp(decoded.image[10, 10]) < 0.003  # grey stays grey
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 3000])  # cut into the SubIFD's CFA strips
    with pytest.raises(RawDecodeError, match="truncated"):
        decode_raw(path)
