"""``bno-synth pairs``: raws + expert targets → FiveK-Dark layout (by id), and indexing existing pairs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from conftest import GOOD_SCENES
from bno.pipelines.data.audit import audit
from bno.pipelines.data.manifest import read_manifest
from bno.pipelines.data.fivek import match_by_key, pair_key
from bno.synth.colour_spaces import romm_decode
from bno.pipelines.cli.synth import main
from bno.synth.io import read_image, write_image

#: Scene -> flat target colour (sRGB) so a mis-pairing is visible in the pixels.
COLOURS = {GOOD_SCENES[0][0]: (0.8, 0.2, 0.2), GOOD_SCENES[1][0]: (0.2, 0.8, 0.2), GOOD_SCENES[3][0]: (0.2, 0.2, 0.8)}


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> Path:
    """Expert targets for three of the four good raws (one as a 16-bit ProPhoto TIFF), plus a stray one.

    Names differ from the raws' (FiveK id + another suffix) and a stray ``a0100`` target sits
    between them in sorted order, so pairing by sort order would mis-pair.
    """
    folder = tmp_path_factory.mktemp("expert")
    for scene, colour in COLOURS.items():
        fid = scene[:5]
        pixels = np.ones((96, 144, 3), np.float32) * np.float32(colour)  # 2:3 like the 64×96 raws
        if scene == GOOD_SCENES[1][0]:
            # FiveK tiff16_c style: 16-bit ProPhoto, ROMM-encoded; a mid grey encodes as ~0.5
            pixels = np.full((96, 144, 3), 0.5, np.float32)
            tifffile.imwrite(folder / f"{fid}-expert.tif", np.rint(pixels * 65535).astype(np.uint16), photometric="rgb")
        else:
            write_image(folder / f"{fid}-expert.jpg", pixels)
    write_image(folder / "a0100-stray.jpg", np.zeros((96, 144, 3), np.float32))
    return folder


def test_pair_key_and_matching():
    assert pair_key("a0899-_DSC5348 (original).dng") == "a0899"
    assert pair_key("4521_input.jpg") == "a4521"
    assert pair_key("IMG_1.png") == "IMG_1"
    pairs, lost_in, lost_tg = match_by_key([Path("a0002-x.dng"), Path("a0001-y.dng"), Path("b.dng")], [Path("a0001.jpg"), Path("a0002.jpg"), Path("a0003.jpg")])
    assert [(k, i.name, t.name) for k, i, t in pairs] == [("a0001", "a0001-y.dng", "a0001.jpg"), ("a0002", "a0002-x.dng", "a0002.jpg")]
    assert lost_in == ["b.dng"] and lost_tg == ["a0003.jpg"]


def test_romm_decode_matches_colour_science():
    """An independent implementation of the ROMM RGB transfer function (ISO 22028-2)."""
    colour = pytest.importorskip("colour")
    encoded = np.concatenate([np.linspace(0, 1, 1001), [16 / 512 - 1e-6, 16 / 512, 16 / 512 + 1e-6]])
    expected = colour.models.cctf_decoding_ProPhotoRGB(encoded)
    np.testing.assert_allclose(romm_decode(encoded), expected, rtol=2e-6, atol=1e-7)


def test_pairs_from_raws_and_targets(good_raws, targets, tmp_path):
    out = tmp_path / "pairs"
    result = CliRunner().invoke(main, ["pairs", "--raws", str(good_raws), "--targets", str(targets), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "raw without a target: a1379-_DSC5348.dng" in result.output
    assert "target without a raw: a0100-stray.jpg" in result.output
    records = read_manifest(out / "manifest.jsonl")
    assert {(r["scene"], r["role"]) for r in records} == {(s, role) for s in COLOURS for role in ("input", "target")}
    for scene, colour in COLOURS.items():
        split = "test" if scene.startswith("a4") else "train"
        folder_a, folder_b = ("testA", "testB") if split == "test" else ("trainA", "trainB")
        source = read_image(out / folder_a / f"{scene}.tif")
        target = read_image(out / folder_b / f"{scene}.jpg")
        assert source.bit_depth == 16 and target.bit_depth == 8
        assert source.pixels.shape == target.pixels.shape
        mean = target.pixels.reshape(-1, 3).mean(axis=0)
        if scene == GOOD_SCENES[1][0]:  # ProPhoto grey 0.5 (ROMM) -> linear 0.287 -> sRGB ~0.57, neutral
            assert mean == pytest.approx([0.57, 0.57, 0.57], abs=0.02)
        else:
            assert mean == pytest.approx(colour, abs=0.03)  # paired by id, not by sorted order
    assert all(row.ok for row in audit(out)), [r for r in audit(out) if not r.ok]
    again = CliRunner().invoke(main, ["pairs", "--raws", str(good_raws), "--targets", str(targets), "--out", str(out), "--workers", "0", "--strict"])
    assert again.exit_code == 1 and "3 already complete" in again.output  # --strict: unmatched files fail


def test_pairs_with_a_bad_raw_and_a_rotated_target(good_raws, targets, tmp_path):
    raws = tmp_path / "raws"
    shutil.copytree(good_raws, raws)
    (raws / f"{GOOD_SCENES[0][0]}.dng").write_bytes(b"not a raw")
    expert = tmp_path / "expert"
    shutil.copytree(targets, expert)
    write_image(expert / "a4603-expert.jpg", np.zeros((144, 96, 3), np.float32))  # portrait target for a landscape raw
    result = CliRunner().invoke(main, ["pairs", "--raws", str(raws), "--targets", str(expert), "--out", str(tmp_path / "p"), "--workers", "0"])
    assert result.exit_code == 1
    assert f"error: {GOOD_SCENES[0][0]}.dng:" in result.output and "aspect ratios differ" in result.output


def _dark_layout(root: Path) -> Path:
    pixels = np.full((8, 12, 3), 0.5, np.float32)
    for folder, names in {
        "trainA": ["a0001.tif", "a0002.tif", "a0003.tif"],
        "trainB": ["a0003.jpg", "a0001.jpg", "a0009.jpg"],  # no a0002 target, a stray a0009
        "testA": ["a4501.tif"],
        "testB": ["a4501.jpg"],
    }.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            write_image(root / folder / name, pixels, 16 if name.endswith(".tif") else 8)
    return root


def test_index_existing_dark_layout(tmp_path):
    root = _dark_layout(tmp_path / "fivek_dark")
    result = CliRunner().invoke(main, ["pairs", "--index", str(root)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (root / "pairs.jsonl").read_text().splitlines()]
    assert lines == [
        {"id": "a4501", "input": "testA/a4501.tif", "split": "test", "target": "testB/a4501.jpg"},
        {"id": "a0001", "input": "trainA/a0001.tif", "split": "train", "target": "trainB/a0001.jpg"},
        {"id": "a0003", "input": "trainA/a0003.tif", "split": "train", "target": "trainB/a0003.jpg"},
    ]
    assert "unmatched input" in result.output and "a0002.tif" in result.output
    assert "unmatched target" in result.output and "a0009.jpg" in result.output
    assert CliRunner().invoke(main, ["pairs", "--index", str(root), "--strict"]).exit_code == 1


def test_index_inputs_and_targets_folders(tmp_path):
    root = _dark_layout(tmp_path / "d")
    index = tmp_path / "idx" / "pairs.jsonl"
    index.parent.mkdir()
    result = CliRunner().invoke(main, ["pairs", "--inputs", str(root / "trainA"), "--targets", str(root / "trainB"), "--index-file", str(index)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in index.read_text().splitlines()]
    assert [(p["id"], p["input"], p["target"], p["split"]) for p in lines] == [
        ("a0001", "../d/trainA/a0001.tif", "../d/trainB/a0001.jpg", "train"),
        ("a0003", "../d/trainA/a0003.tif", "../d/trainB/a0003.jpg", "train"),
    ]
    assert CliRunner().invoke(main, ["pairs", "--inputs", str(root / "trainA")]).exit_code == 2
