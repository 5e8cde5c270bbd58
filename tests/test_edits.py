"""Interpretable edits: slider mapping, `--set` overrides, XMP sidecars (Camera Raw settings)."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from bno.model import BilateralConfig, BilateralNeuralOperators, BNOConfig, save_checkpoint
from bno.pipelines.cli.enhance import main as enhance
from bno.pipelines.edit.sliders import camera_raw_settings, parse_overrides, resolve_overrides, SliderChange, warmer_temperature
from bno.synth.ops import slider_mapping
from bno.pipelines.edit.xmp import CameraRawSettings, parse_xmp, xmp_packet
from raw_factory import make_scene_dng
from bno.synth.io import write_image
from bno.synth.ops import WhitePoint

MAPPING = slider_mapping(["BC", "EX", "WB", "VB"])


def test_slider_mapping_comes_from_the_schedules():
    assert MAPPING == {"BC": (-200.0, 200.0), "EX": (-4.0, 4.0), "WB": (-200.0, 200.0), "VB": (-200.0, 200.0)}
    assert slider_mapping(["EX"], {"EX": 11})["EX"] == (-4.0, 4.0)  # span does not depend on the level count


def test_overrides_set_nudge_and_strength_units():
    predicted = {"BC": -0.1, "EX": 0.2, "WB": 0.05, "VB": 0.3}
    as_shot = WhitePoint(5000.0, 4.0)
    chosen = resolve_overrides(parse_overrides("exposure=+0.3, VB=0, blacks=0.25v, EX+=0.1"), predicted, MAPPING, as_shot)
    assert chosen["EX"] == pytest.approx(0.4 / 4)  # set to +0.3 EV, then nudged by +0.1 EV
    assert chosen["VB"] == 0.0 and chosen["BC"] == 0.25
    chosen = resolve_overrides(parse_overrides("white-balance=6000"), predicted, MAPPING, as_shot)
    assert warmer_temperature(as_shot, chosen["WB"] * 200) == pytest.approx(6000)
    chosen = resolve_overrides(parse_overrides("white-balance-=500"), predicted, MAPPING, as_shot)
    assert warmer_temperature(as_shot, chosen["WB"] * 200) == pytest.approx(warmer_temperature(as_shot, 0.05 * 200) - 500)


@pytest.mark.parametrize(
    "text, message",
    [("contrast=1", "valid: blacks (BC), exposure (EX), white-balance (WB), vibrance (VB)"),
     ("exposure=9", "outside [-1, 1] (slider change [-4, +4] EV)"),
     ("exposure=1.5v", "outside [-1, 1]"),
     ("exposure", "must look like NAME=VALUE")],
)
def test_bad_overrides_name_the_valid_names_and_ranges(text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        resolve_overrides(parse_overrides(text), {"BC": 0, "EX": 0, "WB": 0, "VB": 0}, MAPPING, None)


def test_xmp_is_well_formed_and_round_trips():
    changes = [SliderChange("BC", -0.06, -12.0), SliderChange("EX", 0.21, 0.85), SliderChange("WB", 0.1, 20.0), SliderChange("VB", 0.11, 22.0)]
    raw_settings = camera_raw_settings(changes, WhitePoint(5000.0, 4.0))
    packet = xmp_packet(raw_settings)
    root = ElementTree.fromstring(packet.encode("utf-8"))  # the whole packet parses as XML
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    values = parse_xmp(packet)
    assert values["Exposure2012"] == "+0.85" and values["Blacks2012"] == "-12" and values["Vibrance"] == "+22"
    assert values["WhiteBalance"] == "Custom" and values["Tint"] == "+4" and values["ProcessVersion"] == "11.0"
    assert int(values["Temperature"]) == round(1e6 / (1e6 / 5000 - 20))
    rendered = parse_xmp(xmp_packet(camera_raw_settings(changes, None)))
    assert rendered["IncrementalTemperature"] == "+10" and rendered["IncrementalTint"] == "+0" and "Temperature" not in rendered
    assert parse_xmp(xmp_packet(CameraRawSettings(blacks=-250)))["Blacks2012"] == "-100"  # clamped to the slider


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_exiftool_reads_the_sidecar(tmp_path):
    path = tmp_path / "a.xmp"
    path.write_text(xmp_packet(CameraRawSettings(exposure=0.85, blacks=-12, temperature=5600, tint=4, vibrance=22)), encoding="utf-8")
    tags = json.loads(subprocess.run(["exiftool", "-j", "-n", "-XMP-crs:all", str(path)], capture_output=True, text=True, check=True).stdout)[0]
    numbers = {key: float(tags[key]) for key in ("Exposure2012", "Blacks2012", "Vibrance", "ColorTemperature", "Tint")}
    assert numbers["Exposure2012"] == 0.85 and numbers["Blacks2012"] == -12 and numbers["Vibrance"] == 22
    assert numbers["ColorTemperature"] == 5600 and numbers["Tint"] == 4 and tags["WhiteBalance"] == "Custom"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = BilateralNeuralOperators(BNOConfig(bilateral=BilateralConfig(lowres_size=32), sliders=MAPPING))
    return save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "ckpt", provenance={"stage": "stage1"})


def _enhance(*args):
    return CliRunner().invoke(enhance, [str(a) for a in args])


def test_enhance_set_and_xmp_on_a_raw(tmp_path, checkpoint):
    raw = make_scene_dng(tmp_path / "a4600-IMG_4600.dng", temperature=4300, tint=3)
    result = _enhance(raw, "--checkpoint", checkpoint, "--out", tmp_path / "plain", "--xmp")
    assert result.exit_code == 0, result.output
    assert "Temperature" in result.output and "≈" not in result.output  # a stage-1 checkpoint: exact mapping
    result = _enhance(raw, "--checkpoint", checkpoint, "--out", tmp_path / "set", "--xmp", "--set", "exposure=+1.2,white-balance=5000")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "set" / "a4600-IMG_4600.json").read_text())
    assert record["strengths"]["EX"] == pytest.approx(0.3, abs=1e-6) and record["sliders"]["EX"] == pytest.approx(1.2, abs=1e-5)
    assert record["overridden"] == ["EX", "WB"] and record["as_shot"]["temperature"] == pytest.approx(4300, abs=1)
    sidecar = parse_xmp((tmp_path / "set" / "a4600-IMG_4600.xmp").read_text(encoding="utf-8"))
    assert sidecar["Exposure2012"] == "+1.20" and sidecar["Temperature"] == "5000" and sidecar["Tint"] == "+3"
    edited = tifffile.imread(tmp_path / "set" / "a4600-IMG_4600.tif")
    plain = tifffile.imread(tmp_path / "plain" / "a4600-IMG_4600.tif")
    assert edited.shape == plain.shape and not np.array_equal(edited, plain)  # the override reached the pixels


def test_read_outs_are_approximate_only_after_operators_were_fine_tuned(tmp_path):
    raw = make_scene_dng(tmp_path / "a4601-IMG_4601.dng")
    model = BilateralNeuralOperators(BNOConfig(bilateral=BilateralConfig(lowres_size=32), sliders=MAPPING))
    for trained, marked in ((True, True), (False, False)):
        checkpoint = save_checkpoint(model, tmp_path / f"ckpt-{trained}", provenance={"stage": "stage2", "operators_trained": trained})
        result = _enhance(raw, "--checkpoint", checkpoint, "--out", tmp_path / f"out-{trained}")
        assert result.exit_code == 0, result.output
        assert ("≈" in result.output) is marked


def test_enhance_bad_set_and_unwritable_output_fail_before_work(tmp_path, checkpoint):
    image = tmp_path / "photo.png"
    write_image(image, np.full((40, 60, 3), 0.4, np.float32))
    result = _enhance(image, "--checkpoint", checkpoint, "--out", tmp_path / "o", "--set", "saturation=3")
    assert result.exit_code == 2 and "valid: blacks (BC)" in result.output and not (tmp_path / "o").exists()
    result = _enhance(image, "--checkpoint", checkpoint, "--out", tmp_path / "o", "--set", "vibrance=+300")
    assert result.exit_code == 2 and "slider change [-200, +200]" in result.output and not (tmp_path / "o" / "photo.png").exists()
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = _enhance(image, "--checkpoint", checkpoint, "--out", blocker / "out")
    assert result.exit_code == 2 and "cannot create the output folder" in result.output


def test_no_slider_mapping_means_no_edit_text():
    from bno.pipelines.edit.sliders import describe_changes

    assert describe_changes([], None, approximate=True) == ""


# --------------------------------------------------------------------------- bno-enhance you can trust


def _lines(result) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def _photo(path, value=0.4, size=(40, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(int(value * 1000))
    write_image(path, np.clip(value + 0.2 * rng.random((*size, 3)), 0, 1).astype(np.float32), 8)
    return path


def test_an_output_never_replaces_an_input(tmp_path, checkpoint):
    photo = _photo(tmp_path / "d" / "photo.jpg")
    original = photo.read_bytes()
    result = _enhance(photo, "--checkpoint", checkpoint, "--out", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert photo.read_bytes() == original
    assert "-> " + str(tmp_path / "d" / "photo.bno.jpg") + " (not photo.jpg: an input)" in result.stdout
    record = json.loads((tmp_path / "d" / "photo.bno.json").read_text())
    assert record["output"] == str(tmp_path / "d" / "photo.bno.jpg") and record["input"] == str(photo)


def test_an_output_never_replaces_a_users_file(tmp_path, checkpoint):
    folder = tmp_path / "shoot"
    folder.mkdir()
    raw = make_scene_dng(folder / "shot.dng")
    (folder / "shot.tif").write_bytes(b"the user's own TIFF")
    result = _enhance(raw, "--checkpoint", checkpoint, "--out", folder)
    assert result.exit_code == 0, result.output
    assert (folder / "shot.tif").read_bytes() == b"the user's own TIFF"
    assert "(not shot.tif: exists)" in result.stdout and tifffile.imread(folder / "shot.bno.tif").dtype == np.uint16
    # a sidecar name taken is enough to move the whole group: image, JSON and XMP keep one base name
    photo = _photo(tmp_path / "in" / "photo.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "photo.xmp").write_text("the user's Lightroom edits")
    result = _enhance(photo, "--checkpoint", checkpoint, "--out", tmp_path / "out", "--xmp")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo.bno.json", "photo.bno.png", "photo.bno.xmp", "photo.xmp"]
    assert (tmp_path / "out" / "photo.xmp").read_text() == "the user's Lightroom edits"


def test_two_inputs_with_one_stem_and_reruns_get_their_own_names(tmp_path, checkpoint):
    a, b = _photo(tmp_path / "a" / "photo.jpg", 0.3), _photo(tmp_path / "b" / "photo.jpg", 0.6)
    out = tmp_path / "out"
    result = _enhance(a, b, "--checkpoint", checkpoint, "--out", out)
    assert result.exit_code == 0, result.output
    assert "(not photo.jpg: written earlier in this run)" in result.stdout
    assert json.loads((out / "photo.json").read_text())["input"] == str(a)
    assert json.loads((out / "photo.bno.json").read_text())["input"] == str(b)
    first = (out / "photo.jpg").read_bytes()
    result = _enhance(a, "--checkpoint", checkpoint, "--out", out)  # a second run keeps the first run's files
    assert result.exit_code == 0, result.output
    assert (out / "photo.jpg").read_bytes() == first and (out / "photo.bno-2.jpg").read_bytes() == first
    assert json.loads((out / "photo.bno-2.json").read_text())["output"] == str(out / "photo.bno-2.jpg")


def test_bad_photos_get_one_line_each_and_the_batch_goes_on(tmp_path, checkpoint):
    from test_apply_cli import write_singular_dng
    from test_io import png_claiming

    huge = tmp_path / "huge.png"
    huge.write_bytes(png_claiming(100000, 100000))
    narrow = _photo(tmp_path / "narrow.png", size=(300, 1))  # 1×300: the strength predictor's input would be 0 px wide
    tall = _photo(tmp_path / "tall.png", size=(30000, 20))
    singular = write_singular_dng(tmp_path / "singular.dng")
    good = _photo(tmp_path / "good.png")
    out = tmp_path / "out"
    result = _enhance(huge, narrow, singular, good, tall, "--checkpoint", checkpoint, "--out", out)
    assert result.exit_code == 1, result.output
    errors = [line for line in _lines(result) if line.startswith("error:")]
    assert len(errors) == 4 and "Traceback" not in result.output
    for path, reason in ((huge, "too large"), (narrow, "cannot process this 1×300 image"), (singular, "singular ColorMatrix"), (tall, "20×30000")):
        assert any(line.startswith(f"error: {path}: ") and reason in line for line in errors), (path, errors)
    assert sorted(p.name for p in out.iterdir()) == ["good.json", "good.png"]


def test_an_unreachable_set_value_fails_only_its_photo(tmp_path, checkpoint):
    photos = [_photo(tmp_path / f"p{i}.png", value) for i, value in enumerate((0.05, 0.35, 0.6, 0.75))]
    result = _enhance(*photos, "--checkpoint", checkpoint, "--out", tmp_path / "plain")
    assert result.exit_code == 0, result.output
    predicted = [json.loads((tmp_path / "plain" / f"p{i}.json").read_text())["strengths"]["EX"] for i in range(4)]
    ranked = sorted(range(4), key=predicted.__getitem__)
    ordered = [photos[i] for i in (ranked[0], ranked[1], ranked[3], ranked[2])]  # the highest prediction third
    nudge_ev = 4 * (1.0 - (predicted[ranked[3]] + predicted[ranked[2]]) / 2)  # takes only the highest past +4 EV
    result = _enhance(*ordered, "--checkpoint", checkpoint, "--out", tmp_path / "set", "--set", f"exposure+={nudge_ev:.6f}")
    assert result.exit_code == 1, result.output
    errors = [line for line in _lines(result) if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {ordered[2]}: --set exposure: strength +1.0")
    assert "slider change [-4, +4] EV" in errors[0]
    done = sorted(p.name for p in (tmp_path / "set").iterdir() if p.suffix == ".png")
    assert done == sorted(p.name for p in (ordered[0], ordered[1], ordered[3]))


def test_temperatures_outside_the_slider_are_refused(tmp_path, checkpoint):
    photo = _photo(tmp_path / "photo.png")
    result = _enhance(photo, "--checkpoint", checkpoint, "--out", tmp_path / "o", "--set", "white-balance=1000000")
    assert result.exit_code == 2 and "Temperature 1000000 K is outside [2000, 50000] K" in result.output
    assert not (tmp_path / "o").exists()
    result = _enhance(photo, "--checkpoint", checkpoint, "--out", tmp_path / "o", "--set", "white-balance+=60000")  # per photo
    assert result.exit_code == 1 and f"error: {photo}: --set white-balance: Temperature" in result.output
    assert not list((tmp_path / "o").iterdir())


def test_overlong_output_names_fail_alone_and_254_characters_work(tmp_path, checkpoint):
    fits = _photo(tmp_path / ("f" * 250 + ".png"))  # outputs: 254-character image, 255-character JSON
    too_long = _photo(tmp_path / ("t" * 251 + ".png"))  # its JSON name would be 256 characters
    out = tmp_path / "out"
    result = _enhance(too_long, fits, "--checkpoint", checkpoint, "--out", out)
    assert result.exit_code == 1, result.output
    assert f"error: {too_long}: output name" in result.output and "longer than the file system allows" in result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(["f" * 250 + ".json", "f" * 250 + ".png"])


def test_a_full_disk_leaves_no_image_without_its_json_and_sidecar(tmp_path, checkpoint):
    """A real write failure (a file-size limit: EFBIG, as ENOSPC would be) on the image of the first photo."""
    big = tmp_path / "big.png"
    write_image(big, np.random.default_rng(0).random((200, 200, 3)).astype(np.float32), 16)  # ~240 KB output
    small = _photo(tmp_path / "small.png", size=(8, 8))
    out = tmp_path / "out"
    out.mkdir()
    limit = 60_000  # bytes: above the JSON, XMP and small image, below the big image

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "bno.pipelines.cli.enhance", str(big), str(small), "--checkpoint", str(checkpoint), "--out", str(out), "--xmp"]
    env = {**os.environ, "BNO_NO_FUSED_KERNEL": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit_file_size, env=env)
    assert process.returncode == 1, process.stderr
    assert f"error: {big}: cannot write {out / 'big.png'}: File too large" in process.stderr and "Traceback" not in process.stderr
    assert sorted(p.name for p in out.iterdir()) == ["small.json", "small.png", "small.xmp"]  # nothing of big, no temp files
