"""``bno-synth audit``: a clean dataset passes; each way of breaking it fails the right row, naming the file."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest
import yaml
from click.testing import CliRunner

from bno.pipelines.data.audit import audit
from bno.pipelines.data.generate import generate
from bno.pipelines.data.manifest import dump_record_lines, load_declaration, read_manifest, sha256_bytes
from bno.pipelines.cli.synth import main

LEVELS = 3


@pytest.fixture(scope="module")
def clean(tmp_path_factory, good_raws) -> Path:
    """A clean dataset: EX and WB × 3 levels of the good raws (three train scenes, one test)."""
    out = tmp_path_factory.mktemp("audit") / "clean"
    declaration = replace(load_declaration(), raws=str(good_raws))
    result = generate(declaration, ["exposure", "white-balance"], out, levels=LEVELS, workers=0)
    assert not result.failures
    return out


@pytest.fixture
def dataset(clean, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(clean, copy)
    return copy


def records_of(root: Path) -> list[dict]:
    return read_manifest(root / "manifest.jsonl")


def rewrite(root: Path, records: list[dict], fix_hash: bool = True) -> None:
    """Write ``records`` as the manifest (and, with ``fix_hash``, update data_manifest.yaml's sha256)."""
    data = dump_record_lines(records)
    (root / "manifest.jsonl").write_bytes(data)
    if fix_hash:
        meta = yaml.safe_load((root / "data_manifest.yaml").read_text())
        meta["manifest"]["sha256"] = sha256_bytes(data)
        (root / "data_manifest.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


def first(root: Path, op: str = "EX", split: str = "train") -> dict:
    return next(r for r in records_of(root) if r["op"] == op and r["split"] == split)


# --------------------------------------------------------------------------- breakers: (check that must fail, file it must name)


def delete_file(root: Path) -> tuple[str, str]:
    record = first(root)
    (root / record["path"]).unlink()
    return "missing-files", record["path"]


def add_orphan(root: Path) -> tuple[str, str]:
    shutil.copy(root / first(root)["path"], root / "EX" / "stray.png")
    return "orphan-files", "EX/stray.png"


def leave_temp_file(root: Path) -> tuple[str, str]:
    (root / "WB" / ".x.png.1234.tmp").write_bytes(b"partial")
    return "orphan-files", "WB/.x.png.1234.tmp"


def flip_a_byte(root: Path) -> tuple[str, str]:
    path = root / first(root)["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return "checksums", first(root)["path"]


def remove_a_level(root: Path) -> tuple[str, str]:
    record = first(root, "WB")
    (root / record["path"]).unlink()
    rewrite(root, [r for r in records_of(root) if r["path"] != record["path"]])
    return "incomplete-scenes", record["scene"]


def value_out_of_range(root: Path) -> tuple[str, str]:
    records = records_of(root)
    target = next(r for r in records if r["op"] == "EX")
    target["value"] = 7.5
    rewrite(root, records)
    return "values", target["path"]


def value_off_schedule(root: Path) -> tuple[str, str]:
    records = records_of(root)
    target = next(r for r in records if r["op"] == "WB" and r["level"] == 1)
    target["value"] += 50.0
    rewrite(root, records)
    return "values", target["path"]


def leak_scene_into_test(root: Path) -> tuple[str, str]:
    records = records_of(root)
    test_scene = next(r for r in records if r["split"] == "test")
    copied = {**test_scene, "split": "train", "path": "EX/leaked.png"}
    shutil.copy(root / test_scene["path"], root / "EX" / "leaked.png")
    rewrite(root, records + [copied])
    return "split-leakage", test_scene["scene"]


def leak_source_hash(root: Path) -> tuple[str, str]:
    records = records_of(root)
    test_hash = next(r for r in records if r["split"] == "test")["source_sha256"]
    train = next(r for r in records if r["split"] == "train")
    for record in records:
        if record["scene"] == train["scene"]:
            record["source_sha256"] = test_hash
    rewrite(root, records)
    return "split-leakage", test_hash


def duplicate_record(root: Path) -> tuple[str, str]:
    records = records_of(root)
    rewrite(root, records + [dict(records[0])])
    return "duplicates", records[0]["path"]


def duplicate_output(root: Path) -> tuple[str, str]:
    records = records_of(root)
    a = next(r for r in records if r["op"] == "EX" and r["level"] == 1)
    b = next(r for r in records if r["op"] == "EX" and r["level"] == 1 and r["scene"] != a["scene"])
    shutil.copy(root / a["path"], root / b["path"])
    b.update(sha256=a["sha256"], bytes=a["bytes"])
    rewrite(root, records)
    return "duplicates", b["path"]


def corrupt_png(root: Path) -> tuple[str, str]:
    records = records_of(root)
    target = records[-1]
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    (root / target["path"]).write_bytes(data)
    target.update(sha256=sha256_bytes(data), bytes=len(data))
    rewrite(root, records)
    return "decodable", target["path"]


def wrong_size(root: Path) -> tuple[str, str]:
    records = records_of(root)
    records[0]["width"] += 1
    rewrite(root, records)
    return "decodable", records[0]["path"]


def stale_manifest_hash(root: Path) -> tuple[str, str]:
    records = records_of(root)
    rewrite(root, records[:-1] + [{**records[-1], "note": "edited"}], fix_hash=False)
    return "manifest-hash", "manifest.jsonl"


def escape_dotdot(root: Path) -> tuple[str, str]:
    records = records_of(root)
    rewrite(root, records + [{**records[0], "path": "../x.png", "scene": "zz", "level": 0}])
    return "paths-inside-root", "../x.png"


def escape_absolute(root: Path) -> tuple[str, str]:
    records = records_of(root)
    rewrite(root, records + [{**records[0], "path": "/etc/passwd", "scene": "zz", "level": 0}])
    return "paths-inside-root", "/etc/passwd"


def drop_field(root: Path) -> tuple[str, str]:
    records = records_of(root)
    del records[0]["sha256"]
    rewrite(root, records)
    return "record-schema", records[0]["path"]


def record_failure(root: Path) -> tuple[str, str]:
    meta = yaml.safe_load((root / "data_manifest.yaml").read_text())
    meta["failures"] = [{"source": "a0500-corrupt.dng", "reason": "RawDecodeError: not a raw"}]
    (root / "data_manifest.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return "generation-failures", "a0500-corrupt.dng"


def symlink_file_outside(root: Path) -> tuple[str, str]:
    """A recorded file replaced by a link to a file outside the root with the same bytes and hash."""
    record = first(root)
    outside = root.parent / "outside.png"
    shutil.copy(root / record["path"], outside)
    (root / record["path"]).unlink()
    (root / record["path"]).symlink_to(outside)
    return "paths-inside-root", record["path"]


def symlink_folder_outside(root: Path) -> tuple[str, str]:
    """An operator folder replaced by a link to a copy of it outside the root."""
    outside = root.parent / "outside-WB"
    shutil.move(root / "WB", outside)
    (root / "WB").symlink_to(outside, target_is_directory=True)
    return "paths-inside-root", first(root, "WB")["path"]


def symlink_loop(root: Path) -> tuple[str, str]:
    record = first(root)
    path = root / record["path"]
    path.unlink()
    path.symlink_to(path.name)  # points at itself
    return "paths-inside-root", record["path"]


def path_is_a_list(root: Path) -> tuple[str, str]:
    records = records_of(root)
    records.append({**records[0], "path": ["a"], "scene": "zz", "level": 0})
    rewrite(root, records)
    return "paths-inside-root", "['a']"


BREAKERS: list[Callable[[Path], tuple[str, str]]] = [
    delete_file, add_orphan, leave_temp_file, flip_a_byte, remove_a_level, value_out_of_range, value_off_schedule,
    leak_scene_into_test, leak_source_hash, duplicate_record, duplicate_output, corrupt_png, wrong_size,
    stale_manifest_hash, escape_dotdot, escape_absolute, drop_field, record_failure,
    symlink_file_outside, symlink_folder_outside, symlink_loop, path_is_a_list,
]


def test_clean_dataset_passes(clean):
    rows = audit(clean)
    assert all(row.ok for row in rows), [r for r in rows if not r.ok]
    assert len(rows) == 12
    result = CliRunner().invoke(main, ["audit", str(clean)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda b: b.__name__)
def test_each_break_fails_its_row_and_names_the_file(dataset, breaker):
    check, name = breaker(dataset)
    result = CliRunner().invoke(main, ["audit", str(dataset), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    rows = {row["name"]: row for row in report["checks"]}
    assert not report["ok"]
    assert not rows[check]["ok"], rows[check]
    assert any(name in line for line in rows[check]["details"]), rows[check]["details"]


def test_unrelated_rows_stay_clean_for_a_single_deleted_file(dataset):
    delete_file(dataset)
    failing = {row.name for row in audit(dataset) if not row.ok}
    assert failing == {"missing-files"}


def test_text_report_names_files(dataset):
    _, name = flip_a_byte(dataset)
    result = CliRunner().invoke(main, ["audit", str(dataset)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and name in result.output


def test_missing_dataset_is_exit_2(tmp_path):
    assert CliRunner().invoke(main, ["audit", str(tmp_path / "nope")]).exit_code == 2
    assert CliRunner().invoke(main, ["audit", str(tmp_path)]).exit_code == 2  # no manifest.jsonl


def test_missing_yaml_fails_the_hash_row(dataset):
    (dataset / "data_manifest.yaml").unlink()
    rows = {row.name: row for row in audit(dataset)}
    assert not rows["manifest-hash"].ok
    assert rows["incomplete-scenes"].ok  # falls back to the records' level counts


def test_a_symlink_inside_the_root_is_fine(dataset):
    record = first(dataset)
    moved = dataset / "EX" / "real-file.png"
    (dataset / record["path"]).rename(moved)
    (dataset / record["path"]).symlink_to(moved.name)
    rows = {row.name: row for row in audit(dataset)}
    assert rows["paths-inside-root"].ok and rows["checksums"].ok
    assert not rows["orphan-files"].ok and rows["orphan-files"].details == ("EX/real-file.png",)


def test_a_manifest_linked_from_outside_is_refused(dataset):
    outside = dataset.parent / "elsewhere.jsonl"
    (dataset / "manifest.jsonl").rename(outside)
    (dataset / "manifest.jsonl").symlink_to(outside)
    result = CliRunner().invoke(main, ["audit", str(dataset)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "manifest.jsonl" in result.output and "outside the root" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("field", ["scene", "op", "level", "split", "sha256", "role"])
def test_fields_of_the_wrong_type_fail_rows_instead_of_crashing(dataset, field):
    records = records_of(dataset)
    records[0][field] = ["x"]
    (dataset / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))  # as a user's editor would
    result = CliRunner().invoke(main, ["audit", str(dataset), "--json"])
    assert result.exit_code == 1, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["checks"]}
    assert not rows["record-schema"]["ok"]
    assert any(f"{field} is list" in line for line in rows["record-schema"]["details"]), rows["record-schema"]
