"""``bno-synth audit``: check a synthesised dataset against its own manifests.

Every check is a small pure function ``(Dataset, FileFacts) -> CheckRow`` over the
records of ``manifest.jsonl``, the files found on disk and the resolved declaration in
``data_manifest.yaml``; a row names every offending file in ``details``. The dataset is
clean when every row is ``ok``.

| check             | fails when                                                                  |
|-------------------|-----------------------------------------------------------------------------|
| record-schema     | a record lacks a required field or has one of the wrong JSON type           |
| paths-inside-root | a record path is not a string, is absolute, has ``..`` or a backslash, or   |
|                   | resolves (symlinks followed) outside the root — such a file is not opened   |
| missing-files     | a recorded file does not exist                                              |
| orphan-files      | a file under the root is in no record (leftover temp files included)        |
| checksums         | a file's size or sha256 differs from its record                             |
| incomplete-scenes | a scene lacks an operator or level (pairs: the input or the target)         |
| values            | a value is outside the declared slider range or off the operator schedule   |
| split-leakage     | one scene id, FiveK id or source sha256 appears in both train and test      |
| duplicates        | a path or (op, scene, level, role) is recorded twice, or two scenes share bytes |
| decodable         | an image cannot be decoded or its size differs from the record              |
| manifest-hash     | ``manifest.jsonl``'s sha256 differs from ``data_manifest.yaml``             |
| generation-failures | ``data_manifest.yaml`` lists raws that failed to render                   |
"""

from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bno.synth.ops import get_operator
from bno.synth.temperature import WhitePoint

from bno.pipelines.data.fivek import fivek_id
from bno.pipelines.data.manifest import DATASET_MANIFEST, MANIFEST_JSONL, RECORDS_DIR, REQUIRED_FIELDS, read_manifest, sha256_file
from bno.pipelines.data.paths import DatasetRoot, lexical_problem

__all__ = [
    "CHECKS",
    "PAIR_FIELDS",
    "CheckRow",
    "Dataset",
    "FileFacts",
    "audit",
    "load_dataset",
]

#: Fields every pair record (``op == "pair"``) carries.
PAIR_FIELDS = ("path", "sha256", "bytes", "scene", "source", "source_sha256", "op", "role", "split", "width", "height")
#: Files and folders under a dataset root that are not data.
_BOOKKEEPING = {MANIFEST_JSONL, DATASET_MANIFEST, "pairs.jsonl"}
_SKIPPED_DIRS = {RECORDS_DIR, "preview"}
_VALUE_TOLERANCE = 1e-6  # relative, for schedule values
#: JSON type of each record field the checks read (``manifest.jsonl`` is user-editable text).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("path", "sha256", "scene", "source", "source_sha256", "op", "unit", "split", "role"), (str,)),
    **dict.fromkeys(("bytes", "level", "levels", "width", "height"), (int,)),
    **dict.fromkeys(("value", "as_shot_temperature", "as_shot_tint"), (int, float)),
}


@dataclass(frozen=True)
class CheckRow:
    """One audit row: check name, verdict, a one-line summary and the offending files."""

    name: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "details": list(self.details)}


@dataclass
class Dataset:
    """What an audit reads: records, files found, dataset manifest."""

    root: Path
    records: list[dict]
    files: list[str]  #: data files under ``root`` ('/'-separated, relative), bookkeeping excluded
    meta: dict | None  #: parsed ``data_manifest.yaml`` (None when missing or invalid)
    meta_error: str | None = None


@dataclass
class FileFacts:
    """Per recorded path: where it escapes the root; for the safe ones existence, size, sha256,
    decoded (H, W) or error."""

    escapes: dict[str, str] = field(default_factory=dict)  #: lexically safe path -> why it resolves outside
    exists: dict[str, bool] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    shape: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    decode_error: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading


def _list_files(root: Path) -> list[str]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        relative_dir = Path(dirpath).relative_to(root)
        if relative_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS]
        for name in filenames:
            relative = (relative_dir / name).as_posix()
            if relative_dir == Path(".") and name in _BOOKKEEPING:
                continue
            files.append(relative)
    return sorted(files)


def load_dataset(root: os.PathLike | str) -> Dataset:
    """Read a dataset folder (``OSError`` if it or its ``manifest.jsonl`` is missing/unreadable)."""
    import yaml

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    inside = DatasetRoot(root)
    records = read_manifest(inside.path(MANIFEST_JSONL))  # DatasetPathError (a ValueError) if it escapes
    meta, meta_error = None, None
    try:
        with open(inside.path(DATASET_MANIFEST), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle)
        if not isinstance(meta, dict):
            meta, meta_error = None, f"{DATASET_MANIFEST} is not a mapping"
    except OSError:
        meta_error = f"{DATASET_MANIFEST} is missing"
    except yaml.YAMLError as error:
        meta_error = f"{DATASET_MANIFEST} is not valid YAML ({type(error).__name__})"
    except ValueError as error:  # a symlink out of the root
        meta_error = f"{DATASET_MANIFEST}: {getattr(error, 'reason', error)}"
    return Dataset(root, records, _list_files(root), meta, meta_error)


def _path_of(record: Mapping[str, Any]) -> str | None:
    """The record's path when it is a lexically safe string (usable as a key), else ``None``."""
    path = record.get("path")
    return path if lexical_problem(path) is None else None


def _safe_paths(dataset: Dataset) -> list[str]:
    return sorted({path for r in dataset.records if (path := _path_of(r)) is not None})


def _probe(root: Path, relative: str) -> tuple[str, bool, int, str, tuple[int, int] | None, str | None]:
    from bno.synth.io import read_image

    path = root / relative
    if not path.is_file():
        return relative, False, -1, "", None, None
    size = path.stat().st_size
    digest = sha256_file(path)
    try:
        pixels = read_image(path).pixels
        return relative, True, size, digest, tuple(pixels.shape[:2]), None
    except Exception as error:  # any decoder failure is a finding, not a crash
        return relative, True, size, digest, None, " ".join(str(getattr(error, "reason", error)).split())


def gather_facts(dataset: Dataset, threads: int | None = None) -> FileFacts:
    """Hash and decode every safely recorded file once (thread pool: hashlib and OpenCV release the GIL)."""
    facts = FileFacts()
    inside = DatasetRoot(dataset.root)
    readable = []
    for relative in _safe_paths(dataset):
        reason = inside.problem(relative)
        if reason is None:
            readable.append(relative)
        else:
            facts.escapes[relative] = reason
    with ThreadPoolExecutor(max_workers=threads or min(8, (os.cpu_count() or 1) * 2)) as pool:
        for relative, exists, size, digest, shape, error in pool.map(lambda p: _probe(dataset.root, p), readable):
            facts.exists[relative] = exists
            if exists:
                facts.size[relative], facts.sha256[relative], facts.shape[relative] = size, digest, shape
                if error is not None:
                    facts.decode_error[relative] = error
    return facts


# --------------------------------------------------------------------------- checks


def _row(name: str, problems: list[str], ok_summary: str, fail_summary: str) -> CheckRow:
    if problems:
        return CheckRow(name, False, fail_summary.format(n=len(problems)), tuple(problems))
    return CheckRow(name, True, ok_summary)


def _is_pair(record: Mapping[str, Any]) -> bool:
    return record.get("op") == "pair"


def _key(value: Any) -> Any:
    """``value`` when it can key a dict (JSON scalars), else its ``repr`` — a malformed record
    (say ``"scene": ["x"]``) fails the schema row instead of crashing the other checks."""
    return value if value is None or isinstance(value, (str, int, float)) else repr(value)


def _type_problems(record: Mapping[str, Any]) -> list[str]:
    """``"<field> is <type>, not <expected>"`` for each known field of the wrong JSON type."""
    problems = []
    for name, expected in _FIELD_TYPES.items():
        if name in record:
            value = record[name]
            if not isinstance(value, expected) or isinstance(value, bool):
                problems.append(f"{name} is {type(value).__name__}, not {'/'.join(t.__name__ for t in expected)}")
    return problems


def check_schema(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Every record has the required fields (operator or pair records), each of its JSON type."""
    problems = []
    for number, record in enumerate(dataset.records, 1):
        required = PAIR_FIELDS if _is_pair(record) else REQUIRED_FIELDS
        missing = [name for name in required if name not in record]
        found = ([f"missing {', '.join(missing)}"] if missing else []) + _type_problems(record)
        if found:
            problems.append(f"{record.get('path', f'record {number}')!s}: {'; '.join(found)}")
    return _row("record-schema", problems, f"{len(dataset.records)} records have all fields", "{n} records lack fields or have wrong types")


def check_paths(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """No record path escapes the dataset root: lexically (absolute, ``..``, backslashes, not a
    string) or once resolved (a symlink, of the file or a folder, to outside the root)."""
    problems = [f"{r.get('path')!s}: {reason}" for r in dataset.records if (reason := lexical_problem(r.get("path"))) is not None]
    problems += [f"{path}: {reason}" for path, reason in sorted(facts.escapes.items())]
    return _row("paths-inside-root", problems, "all paths are relative and inside the root", "{n} paths escape the root")


def check_missing(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Every recorded file exists."""
    problems = sorted(path for path, exists in facts.exists.items() if not exists)
    return _row("missing-files", problems, "every recorded file exists", "{n} recorded files are missing")


def check_orphans(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Every data file under the root is recorded (leftover temp files count as orphans)."""
    recorded = {_path_of(r) for r in dataset.records}
    problems = [path for path in dataset.files if path not in recorded]
    return _row("orphan-files", problems, f"{len(dataset.files)} files, none unrecorded", "{n} files are in no record")


def check_checksums(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Each existing file has its recorded size and sha256."""
    problems = []
    for record in dataset.records:
        path = _path_of(record)
        if path not in facts.sha256:
            continue
        if facts.sha256[path] != record.get("sha256"):
            problems.append(f"{path}: sha256 {facts.sha256[path][:12]}… != recorded {str(record.get('sha256'))[:12]}…")
        elif facts.size[path] != record.get("bytes"):
            problems.append(f"{path}: {facts.size[path]} bytes != recorded {record.get('bytes')}")
    return _row("checksums", problems, "sizes and sha256 match", "{n} files differ from their records")


def _declared_levels(dataset: Dataset) -> dict[str, int]:
    """Operator code -> level count from ``data_manifest.yaml`` (falls back to the records)."""
    declared: dict[str, int] = {}
    operators = ((dataset.meta or {}).get("declaration") or {}).get("operators") or {}
    for name, spec in operators.items():
        try:
            declared[get_operator(spec.get("code", name)).code] = int(spec["levels"])
        except (KeyError, TypeError, ValueError):
            continue
    if not declared:
        for record in dataset.records:
            if not _is_pair(record) and isinstance(record.get("levels"), int):
                declared[str(record.get("op"))] = int(record["levels"])
    return declared


def check_incomplete(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Every scene has every declared operator at every level 0…N−1 (pairs: an input and a target)."""
    have: dict[str, set] = defaultdict(set)
    for record in dataset.records:
        key = (_key(record.get("op")), _key(record.get("role") if _is_pair(record) else record.get("level")))
        have[str(record.get("scene"))].add(key)
    levels = _declared_levels(dataset)
    problems = []
    for scene in sorted(have):
        if any(op == "pair" for op, _ in have[scene]):
            expected = {("pair", "input"), ("pair", "target")}
        else:
            expected = {(code, level) for code, count in levels.items() for level in range(count)}
        missing = sorted(expected - have[scene], key=str)
        if missing:
            shown = ", ".join(f"{op}/{level}" for op, level in missing[:12]) + (" …" if len(missing) > 12 else "")
            problems.append(f"{scene}: missing {shown}")
    return _row("incomplete-scenes", problems, f"{len(have)} scenes complete", "{n} scenes are incomplete")


def check_values(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Values lie in the declared slider range and on the operator's schedule at their level."""
    declared = ((dataset.meta or {}).get("declaration") or {}).get("operators") or {}
    ranges = {}
    for name, spec in declared.items():
        try:
            ranges[get_operator(spec.get("code", name)).code] = tuple(float(v) for v in spec["slider_range"])
        except (KeyError, TypeError, ValueError):
            continue
    levels = _declared_levels(dataset)
    schedules: dict[tuple, Any] = {}
    problems = []
    for record in dataset.records:
        if _is_pair(record):
            continue
        path = record.get("path")
        try:
            op = get_operator(str(record.get("op")))
            value, level = float(record["value"]), int(record["level"])
            count = levels.get(op.code, int(record.get("levels", op.default_levels)))
            as_shot = WhitePoint(float(record.get("as_shot_temperature", 6504.0)), float(record.get("as_shot_tint", 0.0)))
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"{path}: unreadable op/level/value ({error})")
            continue
        low, high = ranges.get(op.code, op.slider_range)
        if not low <= value <= high:
            problems.append(f"{path}: value {value:g} outside [{low:g}, {high:g}] {op.unit}")
            continue
        key = (op.code, count, as_shot if op.identity is None else None)
        if key not in schedules:
            schedules[key] = op.level_values(count, as_shot)
        schedule = schedules[key]
        if not 0 <= level < count:
            problems.append(f"{path}: level {level} outside 0…{count - 1}")
        elif abs(schedule[level] - value) > _VALUE_TOLERANCE * max(1.0, abs(schedule[level])):
            problems.append(f"{path}: value {value:g} is off the schedule (level {level} is {schedule[level]:g} {op.unit})")
    return _row("values", problems, "all values in range and on schedule", "{n} values out of range or off schedule")


def check_leakage(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """No scene id, FiveK id or source sha256 appears in both train and test."""
    splits: dict[tuple[str, str], set] = defaultdict(set)
    examples: dict[tuple[str, str], list] = defaultdict(list)
    for record in dataset.records:
        split = _key(record.get("split"))
        keys = [("scene", _key(record.get("scene"))), ("source sha256", _key(record.get("source_sha256")))]
        number = fivek_id(str(record.get("scene", "")))
        if number is not None:
            keys.append(("FiveK id", f"a{number:04d}"))
        for key in keys:
            splits[key].add(split)
            examples[(key, split)].append(record.get("path"))
    problems = []
    for (kind, value), seen in sorted(splits.items(), key=str):
        if {"train", "test"} <= seen:
            train, test = sorted(examples[((kind, value), "train")])[0], sorted(examples[((kind, value), "test")])[0]
            problems.append(f"{kind} {value} in train ({train}) and test ({test})")
    return _row("split-leakage", problems, "train and test share no scene or source", "{n} keys are in both splits")


def check_duplicates(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """No path or (op, scene, level, role) is recorded twice; no two scenes share identical output bytes."""
    by_path: dict[str, int] = defaultdict(int)
    by_key: dict[tuple, list] = defaultdict(list)
    by_hash: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for record in dataset.records:
        by_path[str(record.get("path"))] += 1
        by_key[tuple(_key(record.get(name)) for name in ("op", "scene", "level", "role"))].append(record.get("path"))
        by_hash[str(record.get("sha256"))][str(record.get("scene"))].append(str(record.get("path")))
    problems = [f"{path}: recorded {count} times" for path, count in sorted(by_path.items()) if count > 1]
    problems += [
        f"{key[0]} {key[1]} level {key[2]}{'' if key[3] is None else ' ' + str(key[3])}: {len(paths)} records ({', '.join(sorted(map(str, set(paths))))})"
        for key, paths in sorted(by_key.items(), key=str)
        if len(paths) > 1 and len(set(paths)) > 1
    ]
    for digest, scenes in sorted(by_hash.items()):
        if len(scenes) > 1:
            paths = sorted(p for ps in scenes.values() for p in ps)
            problems.append(f"identical bytes in {len(scenes)} scenes: {', '.join(paths)}")
    return _row("duplicates", problems, "no duplicate paths, keys or outputs", "{n} duplicates")


def check_decodable(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """Every existing image decodes, at the width × height its record states."""
    problems = [f"{path}: {error}" for path, error in sorted(facts.decode_error.items())]
    for record in dataset.records:
        path = _path_of(record)
        shape = facts.shape.get(path)
        if shape is not None and shape != (record.get("height"), record.get("width")):
            problems.append(f"{path}: decodes as {shape[1]}×{shape[0]}, recorded {record.get('width')}×{record.get('height')}")
    return _row("decodable", problems, f"{len(facts.shape)} images decode at their recorded size", "{n} images are undecodable or mis-sized")


def check_manifest_hash(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """``manifest.jsonl``'s sha256 equals the one in ``data_manifest.yaml``."""
    if dataset.meta is None:
        return CheckRow("manifest-hash", False, dataset.meta_error or "no data_manifest.yaml", (DATASET_MANIFEST,))
    recorded = ((dataset.meta.get("manifest") or {}).get("sha256")) if isinstance(dataset.meta.get("manifest"), dict) else None
    actual = sha256_file(dataset.root / MANIFEST_JSONL)
    if recorded != actual:
        return CheckRow("manifest-hash", False, "manifest.jsonl differs from the hash in data_manifest.yaml", (f"{MANIFEST_JSONL}: sha256 {actual[:12]}… != recorded {str(recorded)[:12]}…",))
    return CheckRow("manifest-hash", True, "manifest.jsonl matches data_manifest.yaml")


def check_failures(dataset: Dataset, facts: FileFacts) -> CheckRow:
    """``data_manifest.yaml`` lists no failed raws."""
    failures = (dataset.meta or {}).get("failures") or []
    problems = [f"{f.get('source')}: {f.get('reason')}" for f in failures if isinstance(f, dict)]
    return _row("generation-failures", problems, "no raw failed to render", "{n} raws failed to render")


#: The checks in report order.
CHECKS: tuple[Callable[[Dataset, FileFacts], CheckRow], ...] = (
    check_schema,
    check_paths,
    check_missing,
    check_orphans,
    check_checksums,
    check_incomplete,
    check_values,
    check_leakage,
    check_duplicates,
    check_decodable,
    check_manifest_hash,
    check_failures,
)


def audit(root: os.PathLike | str) -> list[CheckRow]:
    """Run every check on the dataset at ``root``; ``OSError``/``ValueError`` if it cannot be read."""
    dataset = load_dataset(root)
    facts = gather_facts(dataset)
    return [check(dataset, facts) for check in CHECKS]
