"""``bno-synth generate``: layout, records, manifests, determinism, resume, bad inputs, kill -9."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import BAD_FILES, GOOD_SCENES, make_good_raws, tree_bytes
from bno.pipelines.data.executor import clean_temp_files
from bno.pipelines.data.generate import SceneSettings, discover_raws, output_name, render_scene, scene_seed
from bno.pipelines.data.manifest import (
    REQUIRED_FIELDS,
    RenderSettings,
    load_declaration,
    read_manifest,
    sha256_file,
)
from bno.pipelines.data.fivek import SplitRule, fivek_id, split_of
from bno.pipelines.cli.synth import main
from bno.files import TEMP_SUFFIX
from bno.synth.io import read_image
from bno.synth.ops import OPERATORS, WhitePoint

LEVELS = 3
ALL_CODES = sorted(op.code for op in OPERATORS.values())


def run(*args: str) -> "object":
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, good_raws) -> Path:
    """All four operators × 3 levels of the good raws, one local Dask worker."""
    out = tmp_path_factory.mktemp("generate") / "data"
    result = run("generate", "--op", "all", "--raws", str(good_raws), "--out", str(out), "--levels", str(LEVELS), "--workers", "1")
    assert result.exit_code == 0, result.output
    return out


# --------------------------------------------------------------------------- pure helpers


def test_fivek_id_and_split_rule(tmp_path):
    rule = SplitRule()
    assert fivek_id("a0007-2004-07-29 14-30-22 CRW_3063 (original)") == 7
    assert fivek_id("IMG_1.dng") is None
    assert split_of("a4500-x", rule) == "train" and split_of("a4501-x", rule) == "test"
    assert split_of("IMG_1", rule) == "train"
    assert split_of("IMG_1", SplitRule(unmatched="skip")) is None
    listing = tmp_path / "test.txt"
    listing.write_text("# test scenes\na0007\nIMG_9.dng\n")
    listed = SplitRule(test_list=str(listing))
    assert split_of("a0007-whatever", listed) == "test"
    assert split_of("IMG_9", listed) == "test"
    assert split_of("a4999-x", listed) == "train"


def test_scene_seed_depends_on_scene_only():
    assert scene_seed("a0001-x") == scene_seed("a0001-x") != scene_seed("a0002-x")


def test_declaration_is_strict(tmp_path):
    declaration = load_declaration()
    assert declaration.render == RenderSettings(True, 500, "png8")
    assert {spec.code for spec in declaration.operators} == set(ALL_CODES)
    assert declaration.expected_files == 5000
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrender: {half_size: true, colour: 3}\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_declaration(bad)
    bad.write_text("operators:\n  exposure: {slider_range: [-9, 9]}\n")
    with pytest.raises(ValueError, match="registry"):
        load_declaration(bad)


def test_render_scene_returns_small_records(tmp_path, good_raws):
    raw = sorted(good_raws.glob("*.dng"))[0]
    settings = SceneSettings((("EX", 2), ("WB", 2)), RenderSettings(True, 40, "png8"))
    result = render_scene(str(raw), "train", str(tmp_path), settings)
    assert result["status"] == "ok" and len(result["records"]) == 4
    assert len(json.dumps(result)) < 10_000  # small dicts, never image arrays
    again = render_scene(str(raw), "train", str(tmp_path), settings)
    assert again["status"] == "skipped" and again["records"] == result["records"]


# --------------------------------------------------------------------------- the dataset


def test_layout_and_records(dataset):
    records = read_manifest(dataset / "manifest.jsonl")
    assert len(records) == len(GOOD_SCENES) * len(ALL_CODES) * LEVELS
    for name, _, _ in GOOD_SCENES:
        for code in ALL_CODES:
            for level in range(LEVELS):
                assert (dataset / output_name(name, code, level, "png8")).is_file()
    for record in records:
        assert set(REQUIRED_FIELDS) <= set(record)
        assert not Path(record["path"]).is_absolute() and "\\" not in record["path"]
        assert sha256_file(dataset / record["path"]) == record["sha256"]
        assert record["bytes"] == (dataset / record["path"]).stat().st_size
        assert record["source"] == f"{record['scene']}.dng"
        assert record["split"] == ("test" if record["scene"].startswith("a4603") else "train")
        assert max(record["width"], record["height"]) == 48  # half-size of 64×96, below long edge 500
    spaced = [r for r in records if "(original)" in r["scene"]]
    assert spaced and all((dataset / r["path"]).is_file() for r in spaced)
    # the manifest is sorted by (op, scene, level)
    keys = [(r["op"], r["scene"], r["level"]) for r in records]
    assert keys == sorted(keys)


def test_values_follow_the_schedules(dataset):
    records = read_manifest(dataset / "manifest.jsonl")
    for record in records:
        op = next(op for op in OPERATORS.values() if op.code == record["op"])
        as_shot = WhitePoint(record["as_shot_temperature"], record["as_shot_tint"])
        assert record["value"] == pytest.approx(op.level_values(LEVELS, as_shot)[record["level"]])
        assert record["unit"] == op.unit
    wb = [r for r in records if r["op"] == "WB" and r["level"] == LEVELS // 2]
    assert all(r["value"] == pytest.approx(r["as_shot_temperature"], rel=1e-6) for r in wb)


def test_dataset_manifest(dataset):
    meta = yaml.safe_load((dataset / "data_manifest.yaml").read_text())
    assert meta["manifest"]["sha256"] == sha256_file(dataset / "manifest.jsonl")
    assert meta["failures"] == []
    assert meta["counts"]["files_per_op"] == {code: len(GOOD_SCENES) * LEVELS for code in ALL_CODES}
    assert meta["counts"]["scenes_per_split"] == {"test": 1, "train": 3}
    assert meta["declaration"]["render"] == {"half_size": True, "long_edge": 500, "format": "png8"}
    assert meta["declaration"]["split"]["train_ids"] == [1, 4500]
    assert {spec["levels"] for spec in meta["declaration"]["operators"].values()} == {LEVELS}
    for key in ("bno", "python", "numpy", "rawpy", "libraw", "colour_science", "opencv"):
        assert meta["provenance"][key]


def test_images_differ_across_levels_and_are_srgb8(dataset):
    for code in ALL_CODES:
        name = GOOD_SCENES[0][0]
        low = read_image(dataset / output_name(name, code, 0, "png8"))
        high = read_image(dataset / output_name(name, code, LEVELS - 1, "png8"))
        assert low.bit_depth == 8 and low.pixels.shape == high.pixels.shape
        assert np.abs(low.pixels - high.pixels).mean() > 1e-3, code


def test_same_bytes_with_any_number_of_workers(dataset, good_raws, tmp_path):
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}"
        result = run("generate", "--op", "all", "--raws", str(good_raws), "--out", str(out), "--levels", str(LEVELS), "--workers", workers)
        assert result.exit_code == 0, result.output
        assert tree_bytes(out, skip=()) == tree_bytes(dataset, skip=())


def test_rerun_skips_complete_scenes_and_redoes_damaged_ones(dataset, good_raws, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    damaged = out / output_name(GOOD_SCENES[1][0], "VB", 1, "png8")
    damaged.write_bytes(b"garbage")
    (out / "EX" / f".a0007-IMG_0007-1.png.abc123{TEMP_SUFFIX}").write_bytes(b"partial")  # a killed run's temp file
    result = run("generate", "--op", "all", "--raws", str(good_raws), "--out", str(out), "--levels", str(LEVELS), "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "1 rendered, 3 already complete" in result.output
    assert tree_bytes(out, skip=()) == tree_bytes(dataset, skip=())
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))


def test_changed_settings_rerender_and_remove_stale_files(dataset, good_raws, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    result = run("generate", "--op", "exposure", "--raws", str(good_raws), "--out", str(out), "--levels", "2", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "4 rendered" in result.output
    records = read_manifest(out / "manifest.jsonl")
    assert {r["op"] for r in records} == {"EX"} and len(records) == 2 * len(GOOD_SCENES)
    assert not list((out / "VB").iterdir()) and not (out / output_name(GOOD_SCENES[0][0], "EX", 2, "png8")).exists()


def test_split_limit_and_formats(good_raws, tmp_path):
    out = tmp_path / "test16"
    result = run("generate", "--op", "EX", "--raws", str(good_raws), "--out", str(out), "--levels", "2", "--split", "test", "--format", "png16", "--workers", "0")
    assert result.exit_code == 0, result.output
    records = read_manifest(out / "manifest.jsonl")
    assert {r["scene"] for r in records} == {"a4603-IMG_4603"} and {r["split"] for r in records} == {"test"}
    assert read_image(out / records[0]["path"]).bit_depth == 16
    out = tmp_path / "tiff"
    result = run("generate", "--op", "blacks", "--raws", str(good_raws), "--out", str(out), "--levels", "2", "--limit", "2", "--format", "tiff16", "--long-edge", "20", "--workers", "0")
    assert result.exit_code == 0, result.output
    records = read_manifest(out / "manifest.jsonl")
    assert len({r["scene"] for r in records}) == 2 and all(r["path"].endswith(".tif") for r in records)
    image = read_image(out / records[0]["path"])
    assert image.bit_depth == 16 and max(image.pixels.shape[:2]) == 20


def test_bad_inputs_are_listed_and_others_go_on(raw_folder, tmp_path):
    out = tmp_path / "bad"
    result = CliRunner().invoke(main, ["generate", "--op", "EX", "--raws", str(raw_folder), "--out", str(out), "--levels", "2", "--workers", "1"])
    assert result.exit_code == 1, result.output
    meta = yaml.safe_load((out / "data_manifest.yaml").read_text())
    failed = {f["source"]: f["reason"] for f in meta["failures"]}
    assert set(failed) == set(BAD_FILES)
    assert "RawDecodeError" in failed["a0500-corrupt.dng"] and "truncated" in failed["a0600-truncated.dng"]
    assert "not a camera raw" in failed["notes.txt"]
    for name in BAD_FILES:
        assert f"error: {name}:" in result.output  # one line per failure on stderr
    assert {r["scene"] for r in read_manifest(out / "manifest.jsonl")} == {name for name, _, _ in GOOD_SCENES}


def test_max_failures_stops_early(raw_folder, tmp_path):
    out = tmp_path / "stop"
    result = CliRunner().invoke(main, ["generate", "--op", "EX", "--raws", str(raw_folder), "--out", str(out), "--levels", "2", "--workers", "0", "--max-failures", "1"])
    assert result.exit_code == 1
    assert "stopped after 1 failures" in result.output
    assert len(read_manifest(out / "manifest.jsonl")) < 2 * len(GOOD_SCENES)


def test_missing_raw_folder_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--raws", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--workers", "0"])
    assert result.exit_code == 2 and "error:" in result.output


def test_plain_progress_lines(good_raws, tmp_path):
    result = CliRunner().invoke(main, ["generate", "--op", "EX", "--raws", str(good_raws), "--out", str(tmp_path / "p"), "--levels", "2", "--workers", "0", "--progress-interval", "0"])
    assert result.exit_code == 0
    assert "generate: 4/4 scenes" in result.output and "scenes/s" in result.output


def test_preview_contact_sheets(dataset, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(dataset, out)
    result = run("preview", str(out), "--scenes", "2", "--columns", "3")
    assert result.exit_code == 0, result.output
    for code in ALL_CODES:
        sheet = read_image(out / "preview" / f"{code}.png")
        assert sheet.pixels.shape[0] > 2 * 48 and sheet.pixels.std() > 0.05
    assert run("audit", str(out)).exit_code == 0  # previews are not orphans


# --------------------------------------------------------------------------- kill -9 and resume


@pytest.mark.timeout(120)
def test_kill_and_resume_gives_the_uninterrupted_bytes(tmp_path):
    raws = make_good_raws(tmp_path / "raws", height=256, width=384)
    args = ["--op", "all", "--raws", str(raws), "--levels", "9", "--workers", "1"]
    reference = tmp_path / "reference"
    assert run("generate", *args[:-2], "--workers", "0", "--out", str(reference)).exit_code == 0
    out = tmp_path / "killed"
    command = [sys.executable, "-c", "from bno.pipelines.cli.synth import main; main()", "generate", *args, "--out", str(out)]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any((out / ".records").glob("*.json")):
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (out / "manifest.jsonl").exists()  # killed mid-run
    result = subprocess.run(command, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert "already complete" in result.stdout
    assert tree_bytes(out, skip=()) == tree_bytes(reference, skip=())
    assert not list(out.rglob(f"*{TEMP_SUFFIX}"))


# --------------------------------------------------------------------------- the user's files and odd raw folders


def test_temp_file_cleanup_touches_only_its_own_temp_files(good_raws, tmp_path):
    """A user's ``.*.tmp`` files anywhere under --out survive; the tool's own leftovers go."""
    out = tmp_path / "u"
    mine = [out / ".notes.tmp", out / "EX" / ".keep.tmp", out / "drafts" / ".draft.tmp", out / "drafts" / f".x.png.abc{TEMP_SUFFIX}"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"the user's")
    leftovers = [out / "EX" / f".a0007-IMG_0007-0.png.k2j4h1{TEMP_SUFFIX}", out / ".records" / f".a0007-IMG_0007.json.q9z8{TEMP_SUFFIX}"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    result = run("generate", "--op", "EX", "--raws", str(good_raws), "--out", str(out), "--levels", "2", "--workers", "0", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert all(path.read_bytes() == b"the user's" for path in mine)
    assert not any(path.exists() for path in leftovers)


def test_clean_temp_files_does_not_follow_symlinks(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / f".precious{TEMP_SUFFIX}"
    victim.write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "EX").symlink_to(elsewhere, target_is_directory=True)
    (out / f".link{TEMP_SUFFIX}").symlink_to(victim)
    assert clean_temp_files(out, ["EX"]) == 0
    assert victim.exists() and (out / f".link{TEMP_SUFFIX}").is_symlink()


def test_output_inside_the_raws_folder_is_not_read_as_raws(good_raws, tmp_path):
    raws = tmp_path / "raws"
    shutil.copytree(good_raws, raws)
    out = raws / "u"
    for attempt in range(2):
        result = run("generate", "--op", "EX", "--raws", str(raws), "--out", str(out), "--levels", "2", "--workers", "0")
        assert result.exit_code == 0, (attempt, result.output)
        assert yaml.safe_load((out / "data_manifest.yaml").read_text())["failures"] == []
    assert "4 already complete" in result.output


def test_the_raws_folder_as_output_is_a_one_line_error(good_raws, tmp_path):
    raws = tmp_path / "raws"
    shutil.copytree(good_raws, raws)
    result = CliRunner().invoke(main, ["generate", "--op", "EX", "--raws", str(raws), "--out", str(raws), "--workers", "0"])
    assert result.exit_code == 2 and result.output.startswith("error:") and "output folder" in result.output


def test_odd_raw_entries_are_failures_with_reasons(good_raws, tmp_path):
    raws = tmp_path / "raws"
    shutil.copytree(good_raws, raws)
    (raws / "a0800-folder.dng").mkdir()
    shutil.copy(raws / f"{GOOD_SCENES[0][0]}.dng", raws / "a0800-folder.dng" / "a0801-inside.dng")
    (raws / "a0900-loop.dng").symlink_to("a0900-loop.dng")
    (raws / "a0901-gone.dng").symlink_to(tmp_path / "missing.dng")
    (raws / "back").symlink_to(raws, target_is_directory=True)  # a folder loop
    found, failures = discover_raws(raws)
    reasons = {f["source"]: f["reason"] for f in failures}
    assert reasons["a0800-folder.dng"] == "a folder, not a raw file"
    assert reasons["a0900-loop.dng"] == "symlink loop"
    assert reasons["a0901-gone.dng"].startswith("broken symlink")
    assert reasons["back"].startswith("symlink to a folder already searched")
    assert {path.stem for path in found} == {name for name, _, _ in GOOD_SCENES} | {"a0801-inside"}


def test_symlinked_raw_folders_are_searched(good_raws, tmp_path):
    raws = tmp_path / "raws"
    raws.mkdir()
    (raws / "HQa1to700").symlink_to(good_raws, target_is_directory=True)
    found, failures = discover_raws(raws)
    assert failures == [] and len(found) == len(GOOD_SCENES)


def test_preview_labels_read_as_lightroom_settings():
    from bno.pipelines.data.preview import column_label

    assert column_label({"op": "EX", "level": 0, "value": -2.0, "unit": "EV"}) == "Exposure -2.0 EV"
    assert column_label({"op": "WB", "level": 3, "value": 5499.98, "unit": "K"}) == "Temperature 5500 K"
    assert column_label({"op": "BC", "level": 0, "value": -100.0, "unit": "slider"}) == "Blacks -100"
    assert column_label({"op": "VB", "level": 20, "value": 100.0, "unit": "slider"}) == "Vibrance +100"
