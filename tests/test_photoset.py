"""The photo benchmark builder (bno.pipelines.data.photoset) on a tiny photoset of local images.

The package-fetching step is bypassed: the photos are small synthetic "photographs" written
into tmp_path, with licence records as a package would state them. The built set must be
deterministic, laid out as FiveK is, and work unchanged with generate, pairs and audit.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import rawpy
import yaml
from click.testing import CliRunner

from bno.pipelines.cli.synth import main
from bno.pipelines.data.manifest import load_declaration
from bno.pipelines.data.photoset import (
    CURATED,
    Photo,
    assign_splits,
    build_photoset,
    dep5_licence,
    fetch_packages,
    fivek_folder,
    kphotoalbum_angles,
    plan_shots,
    resolve_photos,
)
from bno.synth.camera import CAMERAS
from bno.synth.dng import CFA_PATTERNS

FIVEK_RAW = re.compile(r"raw_photos/HQa(\d+)to(\d+)/photos/a(\d{4})-[^/]+\.dng")


def _photo_pixels(seed: int, height: int, width: int) -> np.ndarray:
    """A smooth colourful 'photograph' (uint8 BGR) with an edge, so crops and rotations are visible."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(30, 225, (4, 6, 3)).astype(np.float32)
    pixels = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    pixels[: height // 3, : width // 4] = (20, 200, 240)  # a yellow-ish block top-left (BGR)
    return np.clip(pixels, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Photo]:
    """Four local photos from three 'packages': a portrait, a grey one, one stored rotated 90°, a PNG."""
    folder = tmp_path_factory.mktemp("sources")
    specs = [
        ("pkg-a", "land.jpg", (300, 420), 0, "Ann Author", "CC0-1.0"),
        ("pkg-a", "portrait.jpg", (400, 300), 0, "Ann Author", "CC-BY-4.0"),
        ("pkg-b", "sideways.png", (280, 380), 90, "Bo Bee", "GPL-2+"),
        ("pkg-c", "grey.png", (300, 400), 0, "Cy See", "public domain"),
    ]
    found = []
    for index, (package, name, (height, width), rotate, author, licence) in enumerate(specs):
        pixels = _photo_pixels(index, height, width)
        if name == "grey.png":
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        path = folder / package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), pixels)
        found.append(Photo(f"{package}-{Path(name).stem}", package, "1.0-1", f"usr/share/{name}", str(path), author, licence,
                           f"usr/share/doc/{package}/copyright", rotate))
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory, photos):
    out = tmp_path_factory.mktemp("photoset")
    result = build_photoset(out, seed=7, photos=photos, long_edge=400, workers=0)
    return out, result


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_is_fivek_like_and_every_raw_has_its_target(built, photos):
    out, result = built
    assert not result.failures and len(result.records) == len(photos)
    raws = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.dng"))
    assert len(raws) == len(photos)
    for raw in raws:
        match = FIVEK_RAW.fullmatch(raw)
        assert match, raw
        low, high, fid = (int(g) for g in match.groups())
        assert low <= fid <= high and raw.startswith(fivek_folder(fid))
        assert (out / "expert" / f"{Path(raw).stem}.jpg").is_file()
    for name in ("data_manifest.yaml", "photos.json", "LICENSES.md", "splits/test.txt", "splits/validation.txt", "stage2-validation.yaml"):
        assert (out / name).is_file(), name


def test_raws_decode_to_the_target_geometry_with_lj92_tiles(built):
    """Each raw is LJ92-tiled, its decode (orientation applied) has the target's size, and colours are sane."""
    out, result = built
    for record in result.records:
        camera = CAMERAS[record["camera"]]
        with rawpy.imread(str(out / record["raw"])) as raw:
            desc = raw.color_desc.decode()
            assert "".join(desc[i] for i in raw.raw_pattern.ravel()) == record["pattern"]
            assert raw.white_level == camera.white and raw.raw_image.max() <= camera.white
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, no_auto_bright=True, output_bps=8)
        target = cv2.imread(str(out / record["target"]))
        assert target.shape[:2] == (record["height"], record["width"])
        assert rgb.shape[:2] == (record["height"] // 2, record["width"] // 2)  # upright, like the target
        assert max(target.shape[:2]) <= 400 and target.shape[0] % 2 == 0 == target.shape[1] % 2
        assert -3.0 <= record["ev"] <= 0.0 and abs(record["as_shot_temperature"] - record["temperature"]) <= 500
    portrait = next(r for r in result.records if r["source"]["key"] == "pkg-a-portrait")
    assert portrait["orientation"] in (6, 8) and portrait["height"] > portrait["width"]


def test_rotated_source_is_made_upright(built):
    """KPhotoAlbum-style angle 90: the stored 280×380 picture becomes a 380×280 upright target."""
    out, result = built
    record = next(r for r in result.records if r["source"]["key"] == "pkg-b-sideways")
    target = cv2.imread(str(out / record["target"]))
    assert target.shape[:2] == (380, 280)
    source = _photo_pixels(2, 280, 380)
    # the source's yellow top-left block is now at the top-right
    np.testing.assert_allclose(target[:40, -40:].mean(axis=(0, 1)), source[:40, :40].mean(axis=(0, 1)), atol=6)


def test_targets_are_the_photos_as_published(built, photos):
    out, result = built
    record = next(r for r in result.records if r["source"]["key"] == "pkg-a-land")
    target = cv2.imread(str(out / record["target"])).astype(np.float32)
    source = cv2.resize(_photo_pixels(0, 300, 420), (400, 286), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert target.shape == source.shape
    assert np.abs(target - source).mean() < 2.0  # JPEG q95 of the same pixels


def test_same_seed_same_bytes_other_seed_differs(tmp_path, built, photos):
    out, _ = built
    again = tmp_path / "again"
    build_photoset(again, seed=7, photos=photos, long_edge=400, workers=0)
    first, second = _files(out), _files(again)
    documents = {"data_manifest.yaml", "stage2-validation.yaml"}  # hold absolute output paths
    assert {k for k in first} == {k for k in second}
    assert all(first[k] == second[k] for k in first if k not in documents)
    other = tmp_path / "other"
    build_photoset(other, seed=8, photos=photos, long_edge=400, workers=0)
    assert sorted(p.name for p in other.rglob("*.dng")) != sorted(p.name for p in out.rglob("*.dng"))


def test_licence_records_and_credits_table(built, photos):
    out, result = built
    records = json.loads((out / "photos.json").read_text(encoding="utf-8"))
    assert len(records) == len(photos)
    by_key = {photo.key: photo for photo in photos}
    table = (out / "LICENSES.md").read_text(encoding="utf-8")
    for record in records:
        source = record["source"]
        photo = by_key[source["key"]]
        assert (source["package"], source["version"], source["path"], source["author"], source["licence"]) == (
            photo.package, photo.version, photo.path, photo.author, photo.licence)
        assert f"a{record['fivek_id']:04d}" in table and photo.author in table and photo.licence in table
        assert "file" not in source  # no machine-local paths in the records


def test_declaration_and_splits_work_with_generate_pairs_and_audit(built, tmp_path, monkeypatch):
    out, result = built
    declaration = load_declaration(out / "data_manifest.yaml")
    assert Path(declaration.raws) == out / "raw_photos" and Path(declaration.pairs_targets) == out / "expert"
    test_ids = (out / "splits" / "test.txt").read_text().split()
    validation = (out / "splits" / "validation.txt").read_text().split()
    assert test_ids and validation and not set(test_ids) & set(validation)
    recipe = yaml.safe_load((out / "stage2-validation.yaml").read_text())
    assert recipe["stage2"]["val_ids"] == validation and Path(recipe["base"]).is_file()

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    manifest = str(out / "data_manifest.yaml")
    gen = runner.invoke(main, ["generate", "--manifest", manifest, "--op", "all", "--levels", "3", "--long-edge", "64", "--workers", "0", "--out", "init"])
    assert gen.exit_code == 0, gen.output
    pairs = runner.invoke(main, ["pairs", "--manifest", manifest, "--long-edge", "64", "--workers", "0", "--out", "pairs"])
    assert pairs.exit_code == 0, pairs.output
    for folder in ("init", "pairs"):
        audit = runner.invoke(main, ["audit", folder])
        assert audit.exit_code == 0, audit.output
    test_inputs = sorted(p.stem[:5] for p in (tmp_path / "pairs" / "testA").glob("*.tif"))
    train_inputs = sorted(p.stem[:5] for p in (tmp_path / "pairs" / "trainA").glob("*.tif"))
    assert test_inputs == sorted(test_ids) and set(validation) <= set(train_inputs)
    assert len(test_inputs) + len(train_inputs) == len(result.records)


def test_plan_and_split_on_a_hundred_photos():
    """~100 photos from several packages: distinct ids over 1…5000, all CFA layouts, ≥ 30 test photos
    stratified by package, groups kept together."""
    photos = [Photo(f"p{i:03d}", f"pkg{i % 7}", "1", f"x/{i}.jpg", f"/nonexistent/{i}.jpg", "a", "CC0", "c", 0,
                    f"g{i // 2}" if i < 20 else f"p{i:03d}") for i in range(100)]
    shots = plan_shots(photos, seed=3)
    assert len({s.fivek_id for s in shots}) == 100 and all(1 <= s.fivek_id <= 5000 for s in shots)
    assert {s.pattern for s in shots} == set(CFA_PATTERNS)
    assert len({fivek_folder(s.fivek_id) for s in shots}) >= 5
    assert all(re.fullmatch(r"a\d{4}-.+", s.name) for s in shots)
    assert plan_shots(photos, seed=3) == shots and plan_shots(photos, seed=4) != shots
    split = assign_splits(photos, seed=3)
    counts = {name: sum(v == name for v in split.values()) for name in ("train", "validation", "test")}
    assert counts["test"] >= 30 and counts["validation"] >= 8 and counts["train"] >= 45
    for package in {p.package for p in photos}:
        members = [split[p.key] for p in photos if p.package == package]
        assert "test" in members and "train" in members  # every package on both sides
    for i in range(0, 20, 2):  # a group's photos share a split
        assert split[f"p{i:03d}"] == split[f"p{i + 1:03d}"]


def test_plan_with_given_ids_keeps_them_and_draws_the_rest_as_without():
    """Fixed ids (the bundled samples put their test photos in a4501…a5000): kept, layouts in id order,
    each photo's camera, light and exposure as drawn without them; bad ids refused."""
    photos = [Photo(f"p{i}", f"pkg{i % 3}", "1", f"x/{i}.jpg", f"/nonexistent/{i}.jpg", "a", "CC0", "c") for i in range(9)]
    ids = {f"p{i}": 4900 - 37 * i for i in range(9)}
    shots = plan_shots(photos, seed=5, ids=ids)
    assert {s.key: s.fivek_id for s in shots} == ids
    by_id = sorted(shots, key=lambda s: s.fivek_id)
    assert [s.pattern for s in by_id] == [CFA_PATTERNS[i % 4] for i in range(9)]
    drawn = {s.key: s for s in plan_shots(photos, seed=5)}
    for shot in shots:
        other = drawn[shot.key]
        assert (shot.camera, shot.temperature, shot.as_shot_tint, shot.ev, shot.iso) == (other.camera, other.temperature, other.as_shot_tint, other.ev, other.iso)
        assert shot.name.startswith(f"a{shot.fivek_id:04d}-")
    for bad in ({**ids, "p0": ids["p1"]}, {k: v for k, v in ids.items() if k != "p3"}, {**ids, "p2": 5001}):
        with pytest.raises(ValueError, match="distinct FiveK id"):
            plan_shots(photos, seed=5, ids=bad)


def test_tiny_split_keeps_train_and_test():
    photos = [Photo(f"k{i}", "pkg", "1", "p", "f", "a", "l", "s") for i in range(3)]
    split = assign_splits(photos, seed=0)
    assert sorted(split.values()).count("test") == 1 and "train" in split.values()


# --- package metadata, as Debian packages state it --------------------------------


DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: wallpapers

Files: *
Copyright: 2004, Someone <some@example.org>
License: GPL-2+

Files: 16.04/Bridge_by_Sander.jpg
Copyright: 2018, Sander <s@example.org>
License: CC-BY-SA-4.0
 Long licence text here.

Files: nature/Aqua.jpg
       nature/Garden.jpg
Copyright: 2008, Charles
License: GPL-2+

Files: external/wesaturate/*
Copyright: none
License: CC0
"""


def test_dep5_licence_matches_installed_paths(tmp_path):
    copyright_file = tmp_path / "copyright"
    copyright_file.write_text(DEP5, encoding="utf-8")
    assert dep5_licence(copyright_file, "usr/share/backgrounds/Bridge_by_Sander.jpg") == ("2018, Sander", "CC-BY-SA-4.0")
    assert dep5_licence(copyright_file, "usr/share/backgrounds/mate/nature/Garden.jpg") == ("2008, Charles", "GPL-2+")
    assert dep5_licence(copyright_file, "usr/share/x/external/wesaturate/500px/a.png") == ("none", "CC0")
    assert dep5_licence(copyright_file, "usr/share/other/thing.png") == ("2004, Someone", "GPL-2+")


def test_kphotoalbum_angles(tmp_path):
    index = tmp_path / "index.xml"
    index.write_text('<KPhotoAlbum><images><image file="a.jpg" angle="90"/><image file="b.jpg"/>'
                     '<image file="c.jpg" angle="270"/></images></KPhotoAlbum>', encoding="utf-8")
    assert kphotoalbum_angles(index) == {"a.jpg": 90, "b.jpg": 0, "c.jpg": 270}


def test_resolve_photos_reads_each_packages_metadata(tmp_path):
    """Fake extracted packages with the real metadata formats (DEP-5, plasma metadata.json, palapeli .desktop, kphotoalbum index.xml)."""
    roots = {}

    def package(name: str, files: dict[str, str | bytes]) -> None:
        root = tmp_path / name
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        roots[name] = (root, "9.9-1")

    jpg = cv2.imencode(".jpg", _photo_pixels(0, 8, 8))[1].tobytes()
    package("mate-backgrounds", {"usr/share/backgrounds/mate/nature/Aqua.jpg": jpg, "usr/share/doc/mate-backgrounds/copyright": DEP5})
    package("plasma-workspace-wallpapers", {
        "usr/share/wallpapers/Kite/contents/images/2560x1600.jpg": jpg,
        "usr/share/wallpapers/Kite/metadata.json": json.dumps({"KPlugin": {"Authors": [{"Name": "Risto S", "Email": "r@example.org"}], "License": "LGPLv3"}}),
    })
    package("palapeli-data", {
        "usr/share/palapeli/collection/citrus-fruits.jpg": jpg,
        "usr/share/palapeli/collection/citrus-fruits.desktop": "[Desktop Entry]\nName=Citrus\nX-KDE-PluginInfo-Author=USDA\n"
                                                               "X-KDE-PluginInfo-License=Public Domain\n\n[Job]\nImage=citrus-fruits.jpg\n",
    })
    package("kphotoalbum", {"usr/share/kphotoalbum/demo/wayne.jpg": jpg,
                            "usr/share/kphotoalbum/demo/index.xml": '<KPhotoAlbum><images><image file="wayne.jpg" angle="90"/></images></KPhotoAlbum>'})
    chosen = [c for c in CURATED if c.key in {"mate-Aqua", "plasma-Kite", "palapeli-citrus-fruits", "kpa-wayne"}]
    photos = {p.key: p for p in resolve_photos(roots, chosen, pypi=False)}
    assert (photos["mate-Aqua"].author, photos["mate-Aqua"].licence) == ("2008, Charles", "GPL-2+")
    assert (photos["plasma-Kite"].author, photos["plasma-Kite"].licence) == ("Risto S", "LGPLv3")
    assert photos["plasma-Kite"].licence_source == "usr/share/wallpapers/Kite/metadata.json"
    assert (photos["palapeli-citrus-fruits"].author, photos["palapeli-citrus-fruits"].licence) == ("USDA", "Public Domain")
    assert photos["kpa-wayne"].rotate == 90 and photos["kpa-wayne"].licence == "GPL-2+"
    assert all(p.version == "9.9-1" for p in photos.values())
    (tmp_path / "mate-backgrounds/usr/share/backgrounds/mate/nature/Aqua.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="Aqua.jpg is missing"):
        resolve_photos(roots, chosen, pypi=False)


def test_fetch_packages_uses_the_cache_and_extracts_once(tmp_path):
    """apt-get and dpkg-deb are replaced by a recorder: a cached .deb is not downloaded again."""
    calls = []

    class Done:
        def __init__(self, stdout: str = ""):
            self.stdout = stdout

    def runner(command, cwd=None):
        calls.append(command[:2])
        if command[:2] == ["apt-get", "download"]:
            (Path(cwd) / f"{command[2]}_1.2-3_all.deb").write_bytes(gzip.compress(b"deb"))
        elif command[:2] == ["dpkg-deb", "-f"]:
            return Done("1:1.2-3\n")
        elif command[:2] == ["dpkg-deb", "-x"]:
            (Path(command[3]) / "usr").mkdir(parents=True)
        return Done()

    roots = fetch_packages(["pkg-one"], tmp_path, runner)
    root, version = roots["pkg-one"]
    assert version == "1:1.2-3" and (root / "usr").is_dir() and ":" not in root.name
    assert calls == [["apt-get", "download"], ["dpkg-deb", "-f"], ["dpkg-deb", "-x"]]
    calls.clear()
    fetch_packages(["pkg-one"], tmp_path, runner)
    assert calls == [["dpkg-deb", "-f"]]  # cached .deb, already extracted


def test_cli_rejects_a_file_as_output_folder(tmp_path):
    existing = tmp_path / "a-file"
    existing.write_text("x")
    result = CliRunner().invoke(main, ["photoset", "--out", str(existing)])
    assert result.exit_code == 2 and "is a file" in result.output
