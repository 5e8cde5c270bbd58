"""Interpretable edits: slider mapping, `--set` overrides, XMP sidecars (Camera Raw settings)."""

import json
import shutil
import subprocess
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
