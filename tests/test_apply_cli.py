"""``bno-synth apply``: one operator, one value, full resolution; bad input -> one line, exit 2."""

import re
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

from raw_factory import make_scene_dng
from bno.synth.dng import write_dng
from bno.synth.icc import linear_prophoto_profile, srgb_profile
from bno.files import TEMP_SUFFIX
from bno.synth.io import read_image, write_image
from bno.pipelines.cli.synth import main
from test_io import png_claiming
from test_raw import write_linear_dng


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def write_singular_dng(path):
    """A DNG whose ColorMatrix1 has rank 1: LibRaw decodes it, but no as-shot white solves it."""
    cfa = np.full((32, 48), 4000, np.uint16)
    return write_dng(path, cfa, "RGGB", 512, 15000, np.array([[1.0, 1.0, 1.0]] * 3), [0.5, 1.0, 0.7])


@pytest.fixture
def raw(tmp_path):
    return make_scene_dng(tmp_path / "a0042-2004-07-29 14-30-22 CRW_3063 (original).dng", temperature=3600, tint=-4)


def test_exposure_on_raw_writes_full_resolution_tiff_and_png(raw, tmp_path):
    result = run("apply", raw, "--op", "exposure", "--value", "0.5", "--out", tmp_path / "out.tif")
    assert result.exit_code == 0, result.output
    match = re.search(r"as-shot: (\d+) K, tint ([+-][\d.]+)", result.output)
    assert match and abs(int(match[1]) - 3600) <= 1 and abs(float(match[2]) + 4) < 0.1
    linear = tifffile.imread(tmp_path / "out.tif")
    assert linear.shape == (64, 96, 3) and linear.dtype == np.uint16

    result = run("apply", raw, "--op", "exposure", "--value", "0", "--out", tmp_path / "zero.tif")
    zero = tifffile.imread(tmp_path / "zero.tif").astype(float)
    unclipped = linear < 65000
    ratio = linear[unclipped] / np.maximum(zero[unclipped], 1)
    assert np.median(ratio) == pytest.approx(2**0.5, rel=0.01)

    result = run("apply", raw, "--op", "vibrance", "--value", "40", "--out", tmp_path / "out.png")
    assert result.exit_code == 0, result.output
    png = read_image(tmp_path / "out.png")
    assert png.bit_depth == 16 and png.pixels.shape == (64, 96, 3)


def test_white_balance_with_tint_on_raw(raw, tmp_path):
    result = run("apply", raw, "--op", "white-balance", "--value", "6500", "--tint", "10", "--out", tmp_path / "wb.png")
    assert result.exit_code == 0, result.output
    grey = read_image(tmp_path / "wb.png").pixels[20:30, 2:12].reshape(-1, 3).mean(0)
    assert grey[0] > grey[2] and grey[1] < grey[0]  # warmer and magenta-ish


def test_rendered_image_is_relative(tmp_path):
    path = tmp_path / "photo.jpg"
    write_image(path, np.full((20, 30, 3), 0.5, np.float32), 8)
    result = run("apply", path, "--op", "white-balance", "--value", "9000", "--out", tmp_path / "warm.jpg")
    assert result.exit_code == 0, result.output
    assert "assumed as-shot" in result.output
    r, g, b = read_image(tmp_path / "warm.jpg").pixels.reshape(-1, 3).mean(0)
    assert r > g > b


@pytest.mark.parametrize(
    "case, args, reason",
    [
        ("missing", ["{tmp}/a0001-missing.dng", "--op", "exposure", "--value", "1"], "no such file"),
        ("truncated", ["{trunc}", "--op", "exposure", "--value", "1"], "truncated"),
        ("not raw", ["{text}", "--op", "exposure", "--value", "1"], "not a DNG"),
        ("non-Bayer", ["{linear}", "--op", "exposure", "--value", "1"], "Bayer"),
        ("out of range", ["{raw}", "--op", "exposure", "--value", "6"], "outside [-5, 5] EV"),
        ("bad tint", ["{raw}", "--op", "white-balance", "--value", "5000", "--tint", "400"], "tint 400"),
        ("just out of range", ["{raw}", "--op", "exposure", "--value", "5.0000001"], "value 5.0000001 is outside [-5, 5] EV"),
        ("huge header", ["{huge}", "--op", "exposure", "--value", "1"], "huge.png: image too large"),
        ("singular matrix", ["{singular}", "--op", "exposure", "--value", "1"], "a0005-singular.dng: singular ColorMatrix"),
    ],
)
def test_bad_input_one_line_exit_2_no_output(raw, tmp_path, case, args, reason):
    truncated = tmp_path / "a0002-trunc.dng"
    truncated.write_bytes(raw.read_bytes()[:5000])
    text = tmp_path / "a0003-text.dng"
    text.write_text("not a raw")
    linear = write_linear_dng(tmp_path / "a0004-linear.dng")
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_claiming(100000, 100000))
    singular = write_singular_dng(tmp_path / "a0005-singular.dng")
    names = dict(tmp=tmp_path, trunc=truncated, text=text, linear=linear, raw=raw, huge=huge, singular=singular)
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "bno.pipelines.cli.synth", "apply", *(a.format(**names) for a in args), "--out", str(out)]
    process = subprocess.run(command, capture_output=True, text=True)
    assert process.returncode == 2, process
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "Traceback" not in process.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(f".*{TEMP_SUFFIX}"))


def test_debug_shows_traceback(tmp_path):
    command = [sys.executable, "-m", "bno.pipelines.cli.synth", "--debug", "apply", str(tmp_path / "a0001-x.dng")]
    process = subprocess.run([*command, "--op", "exposure", "--value", "1", "--out", str(tmp_path / "o.png")], capture_output=True, text=True)
    assert process.returncode != 0 and "Traceback" in process.stderr


def test_outputs_carry_their_colour_profile(raw, tmp_path):
    """apply: .tif is linear ProPhoto, .png/.jpg sRGB; generate --format tiff16 is linear ProPhoto."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for name, profile in (("x.tif", linear_prophoto_profile()), ("x.png", srgb_profile()), ("x.jpg", srgb_profile())):
        result = run("apply", raw, "--op", "exposure", "--value", "0.5", "--out", outputs / name)
        assert result.exit_code == 0, result.output
        assert Image.open(outputs / name).info.get("icc_profile") == profile, name
    out, raws = tmp_path / "data", tmp_path / "raws"
    raws.mkdir()
    make_scene_dng(raws / "a0042-IMG_0042.dng")
    result = run("generate", "--op", "EX", "--raws", raws, "--out", out, "--levels", "2", "--format", "tiff16", "--long-edge", "20", "--workers", "0")
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(next((out / "EX").glob("*.tif"))) as tif:
        assert tif.pages[0].iccprofile == linear_prophoto_profile()


def test_operator_codes_and_names_in_any_case_are_accepted_alike(make_dng, tmp_path):
    """``apply --op ex`` works as ``generate --op ex`` does; a wrong name is one line listing the valid ones."""
    from click.testing import CliRunner

    from bno.pipelines.cli.synth import main

    raw = make_dng(tmp_path / "a0001-x.dng")
    outputs = []
    for name in ("ex", "EXPOSURE", "Exposure"):
        out = tmp_path / f"{name}.png"
        result = CliRunner().invoke(main, ["apply", str(raw), "--op", name, "--value", "1", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    result = CliRunner().invoke(main, ["apply", str(raw), "--op", "brightness", "--value", "1", "--out", str(tmp_path / "b.png")])
    assert result.exit_code == 2 and "exposure (EX)" in result.output and not (tmp_path / "b.png").exists()
