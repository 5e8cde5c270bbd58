"""Tests for bno.synth.dng (DNG writer, Bayer mosaic) and the bundled sample raws.

The round trip writes a known camera-RGB image as a DNG with tifffile and
decodes it with rawpy (LibRaw). Camera RGB is constant over each 2×2 Bayer
block, so a ``half_size`` decode (one pixel per block, no demosaicing) gives
it back exactly, up to the white-balance multipliers and 16-bit rounding.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import rawpy
import tifffile

from bno.synth.dng import CFA_PATTERNS, LJPEG_TILE, cfa_pattern_indices, ljpeg_precision, ljpeg_tiles, mosaic, preview_from_cfa, write_dng

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
BLACK, WHITE = 512, 15000
# Canon EOS 5D ColorMatrix (D65), dcraw adobe_coeff, x10000.
MATRIX = np.array([6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649]).reshape(3, 3) / 1e4
NEUTRAL = (0.5, 1.0, 0.7)
# LibRaw's Orientation -> sizes.flip codes.
FLIP = {1: 0, 3: 3, 6: 6, 8: 5}
FIVEK_NAME = re.compile(r"a(\d{4})-.*\.dng")


def _scene(seed: int = 0, h: int = 20, w: int = 30) -> np.ndarray:
    """(h, w, 3) camera RGB in [0.02, 0.4]: stays unclipped after wb gains <= 2.5."""
    return np.random.default_rng(seed).uniform(0.02, 0.4, (h, w, 3))


def _write(path: Path, small: np.ndarray, pattern: str, **kw) -> np.ndarray:
    rgb = small.repeat(2, axis=0).repeat(2, axis=1)  # constant 2x2 Bayer blocks
    cfa = np.round(BLACK + mosaic(rgb, pattern) * (WHITE - BLACK)).astype(np.uint16)
    write_dng(path, cfa, pattern, BLACK, WHITE, MATRIX, NEUTRAL, **kw)
    return cfa


def _pattern_of(raw: rawpy.RawPy) -> str:
    desc = raw.color_desc.decode()
    return "".join(desc[i] for i in raw.raw_pattern.ravel())


# --- mosaic -----------------------------------------------------------------------


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_mosaic_samples_the_pattern_colour(pattern):
    rgb = np.stack([np.full((4, 6), c, dtype=np.float32) for c in (10.0, 20.0, 30.0)], axis=-1)
    out = mosaic(rgb, pattern)
    assert out.shape == (4, 6) and out.dtype == np.float32
    expected = (cfa_pattern_indices(pattern).astype(np.float32) + 1) * 10
    np.testing.assert_array_equal(out, np.tile(expected, (2, 3)))


def test_mosaic_odd_sizes_and_bad_input():
    assert mosaic(np.zeros((5, 7, 3)), "RGGB").shape == (5, 7)
    with pytest.raises(ValueError):
        mosaic(np.zeros((4, 4)), "RGGB")
    with pytest.raises(ValueError):
        mosaic(np.zeros((4, 4, 3)), "RGBG")


# --- write_dng round trip through LibRaw --------------------------------------------


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_roundtrip_through_rawpy(tmp_path, pattern):
    small = _scene(seed=CFA_PATTERNS.index(pattern))
    path = tmp_path / "a0001-round trip (test).dng"
    cfa = _write(path, small, pattern)
    with rawpy.imread(str(path)) as raw:
        assert _pattern_of(raw) == pattern
        np.testing.assert_array_equal(raw.raw_image, cfa)
        assert list(raw.black_level_per_channel) == [BLACK] * 4
        assert raw.white_level == WHITE
        wb = np.asarray(raw.camera_whitebalance[:3])
        np.testing.assert_allclose(wb / wb[1], 1.0 / np.asarray(NEUTRAL), rtol=1e-6)
        assert raw.sizes.flip == 0
        out = raw.postprocess(
            half_size=True,
            gamma=(1, 1),
            no_auto_bright=True,
            output_bps=16,
            use_camera_wb=True,
            output_color=rawpy.ColorSpace.raw,
            user_flip=0,
            # LibRaw's default (0.75) replaces the white level by the data maximum
            # when that is above 75 % of it; switch that off for an exact scale.
            adjust_maximum_thr=0.0,
        )
    assert out.shape == small.shape and out.dtype == np.uint16
    # LibRaw scales by wb / min(wb) (highlight mode 0), 65535 / (white - black).
    gains = (1.0 / np.asarray(NEUTRAL)) / (1.0 / np.asarray(NEUTRAL)).min()
    np.testing.assert_allclose(out / 65535.0, small * gains, atol=2e-4)


@pytest.mark.parametrize("orientation", sorted(FLIP))
def test_orientation_is_honoured(tmp_path, orientation):
    path = tmp_path / "o.dng"
    small = _scene(h=12, w=16)  # raw 24 x 32: LibRaw refuses sides < 22 px
    _write(path, small, "GRBG", orientation=orientation)
    with rawpy.imread(str(path)) as raw:
        assert raw.sizes.flip == FLIP[orientation]
        out = raw.postprocess(half_size=True, use_camera_wb=True, no_auto_bright=True)
    assert out.shape[:2] == ((16, 12) if orientation in (6, 8) else (12, 16))


def test_tags_read_back_with_tifffile(tmp_path):
    path = tmp_path / "t.dng"
    _write(path, _scene(), "BGGR", orientation=6, make="BNO", model="Unit Test")
    with tifffile.TiffFile(path) as tif:
        tags = {t.code: t.value for t in tif.pages[0].tags}
    assert tags[262] == 32803 and tags[254] == 0 and tags[274] == 6
    assert tuple(tags[33421]) == (2, 2)
    assert bytes(tags[33422]) == bytes([2, 1, 1, 0])
    assert bytes(tags[50706]) == bytes([1, 4, 0, 0])
    assert tags[50708] == "BNO Unit Test" and tags[271] == "BNO" and tags[272] == "Unit Test"
    assert tags[50714] == BLACK and tags[50717] == WHITE and tags[50778] == 21
    cm = np.asarray(tags[50721], dtype=float).reshape(9, 2)
    np.testing.assert_allclose((cm[:, 0] / cm[:, 1]).reshape(3, 3), MATRIX, atol=1e-4)
    n = np.asarray(tags[50728], dtype=float).reshape(3, 2)
    np.testing.assert_allclose(n[:, 0] / n[:, 1], NEUTRAL, atol=1e-6)


def test_write_is_deterministic_atomic_and_overwrites(tmp_path):
    a, b = tmp_path / "a.dng", tmp_path / "b.dng"
    _write(a, _scene(), "RGGB")
    _write(b, _scene(), "RGGB")
    assert a.read_bytes() == b.read_bytes()
    _write(a, _scene(seed=5), "RGGB")  # overwrite in place
    assert a.read_bytes() != b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dng", "b.dng"]  # no temp files


@pytest.mark.parametrize(
    "kw",
    [
        {"cfa": np.zeros((4, 4), np.float32)},
        {"cfa": np.zeros((4, 4, 3), np.uint16)},
        {"pattern": "RGBW"},
        {"black_level": 5000, "white_level": 4000},
        {"color_matrix": np.eye(2)},
        {"as_shot_neutral": (1.0, 0.0, 1.0)},
        {"orientation": 9},
    ],
)
def test_bad_arguments_raise_and_write_nothing(tmp_path, kw):
    args = {
        "cfa": np.zeros((4, 4), np.uint16),
        "pattern": "RGGB",
        "black_level": 0,
        "white_level": 4095,
        "color_matrix": MATRIX,
        "as_shot_neutral": NEUTRAL,
        "orientation": 1,
    } | kw
    with pytest.raises(ValueError):
        write_dng(tmp_path / "x.dng", **args)
    assert list(tmp_path.iterdir()) == []


# --- LJ92 (lossless JPEG) tiled DNGs, FiveK's layout ---------------------------------

#: Sizes with partial edge tiles in both directions (odd, not multiples of 256), one exact tile,
#: and one tile column with a partial row of tiles below.
LJ92_SIZES = {"RGGB": (301, 517), "BGGR": (256, 256), "GRBG": (513, 257), "GBRG": (23, 777)}
#: (black, white) of real cameras: Canon EOS 5D (12-bit), 5D Mark II (14-bit), Nikon D700, a 16-bit range.
LJ92_LEVELS = {"RGGB": (128, 3692), "BGGR": (1024, 15600), "GRBG": (0, 15520), "GBRG": (0, 65535)}


def _noisy_cfa(shape: tuple[int, int], white: int, seed: int) -> np.ndarray:
    """Smooth scene + Poisson-like noise over the whole 0 … white range (the extremes included)."""
    rng = np.random.default_rng(seed)
    height, width = shape
    ramp = np.linspace(0.0, 1.0, width)[None, :] * np.linspace(0.3, 1.0, height)[:, None]
    values = np.round(ramp * white + rng.normal(0.0, 0.01 * white, shape))
    values.flat[:2] = (0, white)
    return np.clip(values, 0, white).astype(np.uint16)


@pytest.mark.parametrize("pattern", CFA_PATTERNS)
def test_ljpeg_dng_decodes_bit_exactly_with_libraw(tmp_path, pattern):
    black, white = LJ92_LEVELS[pattern]
    cfa = _noisy_cfa(LJ92_SIZES[pattern], white, seed=CFA_PATTERNS.index(pattern))
    path = tmp_path / "a0001-2004-07-29 14-30-22 CRW_3063 (original).dng"
    write_dng(path, cfa, pattern, black, white, MATRIX, NEUTRAL, orientation=8, compression="ljpeg")
    with rawpy.imread(str(path)) as raw:
        assert raw.raw_image.shape == cfa.shape
        np.testing.assert_array_equal(raw.raw_image, cfa)
        assert _pattern_of(raw) == pattern
        assert list(raw.black_level_per_channel) == [black] * 4 and raw.white_level == white
        wb = np.asarray(raw.camera_whitebalance[:3])
        np.testing.assert_allclose(wb / wb[1], 1.0 / np.asarray(NEUTRAL), rtol=1e-6)
        assert raw.sizes.flip == FLIP[8]
        rgb = raw.postprocess(half_size=True, use_camera_wb=True, no_auto_bright=True)
    assert rgb.shape[:2] == ((cfa.shape[1] + 1) // 2, (cfa.shape[0] + 1) // 2)  # rotated by Orientation 8


def test_ljpeg_dng_layout_is_fivek_like(tmp_path):
    """IFD0: RGB preview + colour tags; SubIFD: the CFA in 256×256 LJ92 tiles (tifffile decodes it too)."""
    cfa = _noisy_cfa((300, 600), 15600, seed=3)
    path = write_dng(tmp_path / "x.dng", cfa, "BGGR", 1024, 15600, MATRIX, NEUTRAL, orientation=6, compression="ljpeg")
    with tifffile.TiffFile(path) as tif:
        ifd0 = tif.pages[0]
        tags0 = {t.code: t.value for t in ifd0.tags}
        assert ifd0.subfiletype == 1 and ifd0.photometric == 2 and ifd0.dtype == np.uint8
        assert max(ifd0.shape[:2]) == 256 and ifd0.shape[2] == 3
        assert tags0[274] == 6 and bytes(tags0[50706]) == bytes([1, 4, 0, 0]) and 50721 in tags0 and 50728 in tags0
        (sub,) = ifd0.pages
        tags = {t.code: t.value for t in sub.tags}
        assert sub.subfiletype == 0 and tags[262] == 32803 and tags[259] == 7
        assert (sub.tilewidth, sub.tilelength) == (LJPEG_TILE, LJPEG_TILE)
        assert len(sub.dataoffsets) == 2 * 3  # ceil(300/256) × ceil(600/256) tiles
        assert tags[50714] == 1024 and tags[50717] == 15600 and bytes(tags[33422]) == bytes([2, 1, 1, 0])
        np.testing.assert_array_equal(sub.asarray(), cfa)


def test_ljpeg_preview_is_a_white_balanced_rendering():
    """A grey card under the as-shot light renders neutral; brighter raw -> brighter preview."""
    xyz_white = np.linalg.solve(MATRIX, np.asarray(NEUTRAL))  # the light whose camera response is NEUTRAL
    camera = MATRIX @ (xyz_white / xyz_white[1] * 0.18)  # an 18 % grey card under that light
    rgb = np.broadcast_to(camera, (64, 96, 3))
    cfa = np.round(BLACK + mosaic(rgb, "GRBG") * (WHITE - BLACK)).astype(np.uint16)
    preview = preview_from_cfa(cfa, "GRBG", BLACK, WHITE, MATRIX, NEUTRAL, long_edge=24)
    assert preview.shape == (16, 24, 3) and preview.dtype == np.uint8
    assert np.ptp(preview.reshape(-1, 3).mean(axis=0)) <= 2  # neutral
    brighter = preview_from_cfa(np.minimum(cfa * 2, WHITE).astype(np.uint16), "GRBG", BLACK, WHITE, MATRIX, NEUTRAL)
    assert brighter.mean() > preview.mean() + 20


def test_ljpeg_write_is_deterministic_and_smaller(tmp_path):
    cfa = _noisy_cfa((512, 512), 3692, seed=1)  # whole tiles; noise sigma 37 DN
    a = write_dng(tmp_path / "a.dng", cfa, "RGGB", 128, 3692, MATRIX, NEUTRAL, compression="ljpeg")
    b = write_dng(tmp_path / "b.dng", cfa, "RGGB", 128, 3692, MATRIX, NEUTRAL, compression="ljpeg")
    plain = write_dng(tmp_path / "c.dng", cfa, "RGGB", 128, 3692, MATRIX, NEUTRAL)
    assert a.read_bytes() == b.read_bytes()
    with tifffile.TiffFile(a) as tif:
        raw_bytes = sum(tif.pages[0].pages[0].databytecounts)  # the uncompressed preview aside
    assert raw_bytes < 0.6 * cfa.nbytes  # ~8.4 of 16 bits per pixel for this noise
    assert a.stat().st_size < plain.stat().st_size


def test_ljpeg_predicts_from_same_colour_pixels():
    """A Bayer mosaic whose four colours sit at very different levels compresses like plain noise
    (two tile rows per LJ92 row): well under the ~14 bits/pixel of left-neighbour prediction."""
    rng = np.random.default_rng(4)
    levels = np.array([[3000, 9000], [9100, 5000]], np.float64)  # R, G / G, B at 14 bits
    cfa = np.clip(np.tile(levels, (128, 128)) + rng.normal(0, 40, (256, 256)), 0, 15600).astype(np.uint16)
    tile = next(ljpeg_tiles(cfa, 14))
    bits_per_pixel = 8 * len(tile) / cfa.size
    assert bits_per_pixel < 10.0, bits_per_pixel  # noise sigma 40 DN alone needs ~8.6


def test_ljpeg_precision():
    assert [ljpeg_precision(w) for w in (255, 3692, 4095, 15600, 16383, 65535)] == [8, 12, 12, 14, 14, 16]
    assert ljpeg_precision(4095, max_value=5000) == 13  # values above the white level still fit


@pytest.mark.parametrize("kw", [{"compression": "zip"}, {"compression": "ljpeg", "cfa": np.zeros((300, 255), np.uint16)}])
def test_ljpeg_bad_arguments_raise_and_write_nothing(tmp_path, kw):
    args = {"cfa": np.zeros((300, 300), np.uint16), "pattern": "RGGB", "black_level": 0, "white_level": 4095,
            "color_matrix": MATRIX, "as_shot_neutral": NEUTRAL} | kw
    with pytest.raises(ValueError, match="compression|width"):
        write_dng(tmp_path / "x.dng", **args)
    assert list(tmp_path.iterdir()) == []


# --- bundled samples ---------------------------------------------------------------


def _sample_raws() -> list[Path]:
    return sorted((SAMPLES / "raws").glob("*.dng"))


def _sample_records() -> dict[str, dict]:
    """``samples/photos.json`` by raw name: each sample's shot, source photo and checksums."""
    return {record["shot"]["name"]: record for record in json.loads((SAMPLES / "photos.json").read_text(encoding="utf-8"))}


def test_bundled_samples():
    raws = _sample_raws()
    records = _sample_records()
    assert len(raws) >= 28 and {p.stem for p in raws} == set(records)
    assert sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file()) <= 15 * 1024 * 1024
    patterns, ids, flips = set(), [], set()
    for path in raws:
        match = FIVEK_NAME.fullmatch(path.name)
        assert match, path.name
        ids.append(int(match.group(1)))
        record = records[path.stem]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == record["raw_sha256"], path.name
        with tifffile.TiffFile(path) as tif:  # FiveK's layout: LJ92 tiles in a SubIFD, a preview in IFD0
            assert tif.pages[0].subfiletype == 1 and tif.pages[0].pages[0].compression == 7, path.name
        with rawpy.imread(str(path)) as raw:
            patterns.add(_pattern_of(raw))
            flip = raw.sizes.flip
            h, w = raw.sizes.raw_height, raw.sizes.raw_width
            assert raw.raw_image.shape == (h, w) and raw.raw_image.max() > 0
        flips.add(flip)
        expert = SAMPLES / "expert" / f"{path.stem}.jpg"
        assert expert.is_file(), expert
        assert hashlib.sha256(expert.read_bytes()).hexdigest() == record["target_sha256"], expert.name
        jpg = cv2.imread(str(expert), cv2.IMREAD_COLOR)
        assert jpg is not None and jpg.dtype == np.uint8
        assert jpg.shape[:2] == ((w, h) if flip in (5, 6) else (h, w)) == (record["height"], record["width"]), path.name
        assert record["split"] == ("test" if int(match.group(1)) > 4500 else "train")  # FiveK's split rule
    assert patterns == set(CFA_PATTERNS)
    assert len(set(ids)) == len(ids)
    assert sum(i <= 4500 for i in ids) >= 16 and sum(i > 4500 for i in ids) >= 8  # FiveK split
    assert any(" " in p.name and "(" in p.name for p in raws)
    assert {FLIP[6], FLIP[8]} <= flips, "portraits stored sideways: Orientation 6 and 8"
    experts = {p.stem for p in (SAMPLES / "expert").glob("*.jpg")}
    assert experts == {p.stem for p in raws}


def test_every_bundled_sample_is_a_different_photograph_with_its_licence():
    records = list(_sample_records().values())
    sources = [(r["source"]["package"], r["source"]["path"]) for r in records]
    assert len(set(sources)) == len(records)  # no photo twice, so no photo in both splits
    assert len({r["source"]["package"] for r in records}) >= 8
    for split in ("train", "test"):  # both splits draw on several packages
        assert len({r["source"]["package"] for r in records if r["split"] == split}) >= 5
    licences = (SAMPLES / "LICENSES.md").read_text(encoding="utf-8")
    for r in records:
        row = next(line for line in licences.splitlines() if line.startswith(f"| `{r['shot']['name']}` | {r['split']} |"))
        for value in (r["source"]["path"], r["source"]["author"], r["source"]["licence"], r["source"]["version"]):
            assert value.replace("|", "/") in row, (r["shot"]["name"], value)
