"""Dataset declarations, per-file records, ``manifest.jsonl`` and ``data_manifest.yaml``.

Three documents describe a synthesised dataset:

* the **declaration** (top-level ``data_manifest.yaml``): where the raws are, the
  split rule, render settings and the operators with their slider ranges and level
  counts — :class:`Declaration`, loaded with strict keys by :func:`load_declaration`;
* ``<out>/manifest.jsonl``: one JSON object (a **record**) per written file, sorted by
  ``(op, scene, level, role)`` so the same data always gives the same bytes;
* ``<out>/data_manifest.yaml``: the resolved declaration, provenance (versions, git
  commit), counts per operator and split, the sha256 of ``manifest.jsonl`` and the
  failures — :func:`write_dataset_manifest`.

Split rule (FiveK convention, SPEC §4): the FiveK id is the ``a<NNNN>`` prefix of the
file name; ids ``train_ids[0] … train_ids[1]`` are train and ``test_ids`` test, unless a
``test_list`` file (one FiveK id or scene name per line, ``#`` comments) names the test
scenes, everything else being train. Names without a FiveK id go to ``unmatched``
(``train``, ``test`` or ``skip``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

import bno
from bno.pipelines.data.provenance import code_version, package_version
from bno.pipelines.data.fivek import FIVEK_ID_PATTERN, SplitRule
from bno.synth.io import atomic_write_bytes
from bno.synth.ops import OPERATORS, get_operator

__all__ = [
    "DATASET_MANIFEST",
    "DECLARATION_VERSION",
    "FORMATS",
    "MANIFEST_JSONL",
    "RECORDS_DIR",
    "REQUIRED_FIELDS",
    "Declaration",
    "OperatorSpec",
    "RenderSettings",
    "check_render",
    "count_records",
    "declaration_from_dict",
    "default_declaration_path",
    "dump_record_lines",
    "load_declaration",
    "provenance",
    "read_dataset_manifest",
    "read_manifest",
    "sha256_bytes",
    "sha256_file",
    "with_overrides",
    "write_dataset_manifest",
]

DECLARATION_VERSION = 1
MANIFEST_JSONL = "manifest.jsonl"
DATASET_MANIFEST = "data_manifest.yaml"
#: Per-scene record files (``<out>/.records/<scene>.json``): a scene is complete when its file exists.
RECORDS_DIR = ".records"
#: Output formats: suffix, bit depth, colour encoding.
FORMATS: dict[str, tuple[str, int, str]] = {
    "png8": (".png", 8, "display sRGB"),
    "png16": (".png", 16, "display sRGB"),
    "tiff16": (".tif", 16, "linear ProPhoto"),
}
#: Fields every record of ``manifest.jsonl`` carries.
REQUIRED_FIELDS = (
    "path", "sha256", "bytes", "scene", "source", "source_sha256", "op", "level", "value", "unit", "split", "width", "height",
)
_SPLITS = ("train", "test")
_HASH_CHUNK = 1 << 20


# --------------------------------------------------------------------------- declaration


@dataclass(frozen=True)
class RenderSettings:
    """How raws are decoded and images encoded."""

    half_size: bool = True  #: LibRaw half-size decode (2×2 Bayer binning, no demosaic)
    long_edge: int | None = 500  #: area-resize so the long edge is this many pixels (None: keep)
    format: str = "png8"  #: one of :data:`FORMATS`


@dataclass(frozen=True)
class OperatorSpec:
    """One declared operator: its registry name and code, slider unit/range and level count."""

    name: str
    code: str
    unit: str
    slider_range: tuple[float, float]
    levels: int


@dataclass(frozen=True)
class Declaration:
    """The dataset declaration (top-level ``data_manifest.yaml``), paths resolved."""

    raws: str  #: folder of camera raws (searched recursively)
    id_pattern: str  #: regex whose group 1 is the FiveK id digits
    expected_files: int | None  #: how many raws the full source has (FiveK: 5000)
    output: str  #: default output folder
    render: RenderSettings
    split: SplitRule
    operators: tuple[OperatorSpec, ...]
    source_name: str = "MIT-Adobe FiveK"
    pairs_targets: str | None = None  #: default folder of expert targets for ``bno-synth pairs``
    pairs_output: str = "data/pairs"  #: default output folder of ``bno-synth pairs``
    path: str | None = field(default=None, compare=False)  #: the file it was read from

    def operator(self, name_or_code: str) -> OperatorSpec:
        """The declared operator with this name or code (``KeyError`` if not declared)."""
        op = get_operator(name_or_code)
        for spec in self.operators:
            if spec.code == op.code:
                return spec
        raise KeyError(f"operator {op.name!r} is not declared in {self.path or 'the declaration'}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (as written into a dataset's ``data_manifest.yaml``)."""
        return {
            "version": DECLARATION_VERSION,
            "source": {"name": self.source_name, "raws": self.raws, "id_pattern": self.id_pattern, "expected_files": self.expected_files},
            "output": self.output,
            "render": asdict(self.render),
            "split": {
                "train_ids": list(self.split.train_ids),
                "test_ids": list(self.split.test_ids),
                "test_list": self.split.test_list,
                "unmatched": self.split.unmatched,
            },
            "operators": {
                spec.name: {"code": spec.code, "unit": spec.unit, "slider_range": list(spec.slider_range), "levels": spec.levels}
                for spec in self.operators
            },
            "pairs": {"targets": self.pairs_targets, "output": self.pairs_output},
        }


def default_declaration_path() -> Path:
    """``./data_manifest.yaml`` when it exists, else the one shipped with the package."""
    local = Path("data_manifest.yaml")
    if local.is_file():
        return local
    return bno.resource_path("data_manifest.yaml")


def _strict(section: Mapping[str, Any] | None, allowed: Iterable[str], where: str) -> dict[str, Any]:
    section = dict(section or {})
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return section


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(os.path.expanduser(str(value)))
    return str(path if path.is_absolute() else (base / path))


def _id_range(value: Any, where: str) -> tuple[int, int]:
    low, high = (int(v) for v in value)
    if low > high:
        raise ValueError(f"{where}: empty id range [{low}, {high}]")
    return low, high


def load_declaration(path: os.PathLike | str | None = None) -> Declaration:
    """Read and validate a declaration; ``source.raws``, ``split.test_list`` and ``pairs.targets``
    resolve relative to the file's folder, ``output`` relative to the working directory.

    Raises ``ValueError`` (one line) for unknown keys, bad values, or operator ranges
    that disagree with the :data:`bno.synth.ops.OPERATORS` registry; ``OSError`` if unreadable.
    """
    path = Path(path) if path is not None else default_declaration_path()
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    where = str(path)
    data = _strict(data, ("version", "source", "output", "render", "split", "operators", "pairs"), where)
    if int(data.get("version", DECLARATION_VERSION)) != DECLARATION_VERSION:
        raise ValueError(f"{where}: unsupported declaration version {data.get('version')}")
    base = path.resolve().parent
    source = _strict(data.get("source"), ("name", "raws", "id_pattern", "expected_files"), f"{where}: source")
    render = _strict(data.get("render"), ("half_size", "long_edge", "format"), f"{where}: render")
    split = _strict(data.get("split"), ("train_ids", "test_ids", "test_list", "unmatched"), f"{where}: split")
    pairs = _strict(data.get("pairs"), ("targets", "output"), f"{where}: pairs")
    settings = RenderSettings(
        half_size=bool(render.get("half_size", True)),
        long_edge=None if render.get("long_edge", 500) is None else int(render.get("long_edge", 500)),
        format=str(render.get("format", "png8")),
    )
    check_render(settings, where)
    rule = SplitRule(
        train_ids=_id_range(split.get("train_ids", (1, 4500)), f"{where}: split.train_ids"),
        test_ids=_id_range(split.get("test_ids", (4501, 5000)), f"{where}: split.test_ids"),
        test_list=_resolve(base, split.get("test_list")),
        unmatched=str(split.get("unmatched", "train")),
    )
    if rule.unmatched not in (*_SPLITS, "skip"):
        raise ValueError(f"{where}: split.unmatched must be train, test or skip, got {rule.unmatched!r}")
    specs = []
    for name, entry in (data.get("operators") or {}).items():
        entry = _strict(entry, ("code", "unit", "slider_range", "levels"), f"{where}: operators.{name}")
        op = get_operator(str(name))
        declared_range = tuple(float(v) for v in entry.get("slider_range", op.slider_range))
        if declared_range != tuple(float(v) for v in op.slider_range):
            raise ValueError(f"{where}: operators.{name}.slider_range {list(declared_range)} differs from the registry's {list(op.slider_range)}")
        if entry.get("code", op.code) != op.code or entry.get("unit", op.unit) != op.unit:
            raise ValueError(f"{where}: operators.{name}: code/unit must be {op.code}/{op.unit}")
        levels = int(entry.get("levels", op.default_levels))
        if levels < 2:
            raise ValueError(f"{where}: operators.{name}.levels must be >= 2, got {levels}")
        specs.append(OperatorSpec(op.name, op.code, op.unit, declared_range, levels))
    if not specs:
        specs = [OperatorSpec(op.name, op.code, op.unit, tuple(map(float, op.slider_range)), op.default_levels) for op in OPERATORS.values()]
    pattern = str(source.get("id_pattern", FIVEK_ID_PATTERN))
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{where}: source.id_pattern is not a valid regex ({error})") from None
    expected = source.get("expected_files")
    return Declaration(
        raws=_resolve(base, source.get("raws", "samples/raws")),
        id_pattern=pattern,
        expected_files=None if expected is None else int(expected),
        output=str(data.get("output", "data/init")),
        render=settings,
        split=rule,
        operators=tuple(specs),
        source_name=str(source.get("name", "MIT-Adobe FiveK")),
        pairs_targets=_resolve(base, pairs.get("targets")),
        pairs_output=str(pairs.get("output", "data/pairs")),
        path=str(path),
    )


def check_render(settings: RenderSettings, where: str = "render") -> None:
    """Raise ``ValueError`` for an unknown format or a non-positive long edge."""
    if settings.format not in FORMATS:
        raise ValueError(f"{where}: format must be one of {', '.join(FORMATS)}, got {settings.format!r}")
    if settings.long_edge is not None and settings.long_edge < 1:
        raise ValueError(f"{where}: long_edge must be positive, got {settings.long_edge}")


def declaration_from_dict(data: Mapping[str, Any]) -> Declaration:
    """Rebuild a :class:`Declaration` from :meth:`Declaration.to_dict` output (no path resolution)."""
    split = data["split"]
    return Declaration(
        raws=data["source"]["raws"],
        id_pattern=data["source"]["id_pattern"],
        expected_files=data["source"].get("expected_files"),
        output=data.get("output", "data/init"),
        render=RenderSettings(**data["render"]),
        split=SplitRule(tuple(split["train_ids"]), tuple(split["test_ids"]), split.get("test_list"), split.get("unmatched", "train")),
        operators=tuple(
            OperatorSpec(name, spec["code"], spec["unit"], tuple(spec["slider_range"]), int(spec["levels"]))
            for name, spec in (data.get("operators") or {}).items()
        ),
        source_name=data["source"].get("name", "MIT-Adobe FiveK"),
        pairs_targets=(data.get("pairs") or {}).get("targets"),
        pairs_output=(data.get("pairs") or {}).get("output", "data/pairs"),
    )


# --------------------------------------------------------------------------- hashing, records


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _record_key(record: Mapping[str, Any]) -> tuple:
    return (str(record.get("op", "")), str(record.get("scene", "")), int(record.get("level", -1) or 0), str(record.get("role", "")), str(record.get("path", "")))


def dump_record_lines(records: Iterable[Mapping[str, Any]]) -> bytes:
    """``manifest.jsonl`` bytes: records sorted by (op, scene, level, role, path), one compact JSON per line."""
    lines = [json.dumps(dict(record), sort_keys=True, ensure_ascii=False, separators=(",", ":")) for record in sorted(records, key=_record_key)]
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")


def read_manifest(path: os.PathLike | str) -> list[dict[str, Any]]:
    """Records of a ``manifest.jsonl`` (``ValueError`` naming the line if one is not a JSON object)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            records.append(record)
    return records


# --------------------------------------------------------------------------- provenance, dataset manifest


def provenance() -> dict[str, Any]:
    """Versions of bno and the libraries that shape the pixels, and the git commit when available."""
    import cv2
    import numpy
    import rawpy

    return {
        **code_version(),
        "numpy": numpy.__version__,
        "rawpy": rawpy.__version__,
        "libraw": ".".join(str(part) for part in rawpy.libraw_version),
        "colour_science": package_version("colour-science"),
        "opencv": cv2.__version__,
        "tifffile": package_version("tifffile"),
        "dask": package_version("dask"),
    }


def count_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts: files per op, per split and per (op, split); scenes per split."""
    per_op: Counter = Counter()
    per_split: Counter = Counter()
    per_op_split: dict[str, Counter] = {}
    scenes: dict[str, set] = {}
    for record in records:
        op, split = str(record.get("op")), str(record.get("split"))
        per_op[op] += 1
        per_split[split] += 1
        per_op_split.setdefault(op, Counter())[split] += 1
        scenes.setdefault(split, set()).add(record.get("scene"))
    return {
        "files": sum(per_op.values()),
        "files_per_op": dict(sorted(per_op.items())),
        "files_per_split": dict(sorted(per_split.items())),
        "files_per_op_split": {op: dict(sorted(c.items())) for op, c in sorted(per_op_split.items())},
        "scenes_per_split": {split: len(names) for split, names in sorted(scenes.items())},
    }


def write_dataset_manifest(
    out: os.PathLike | str,
    records: list[Mapping[str, Any]],
    failures: list[Mapping[str, str]],
    resolved: Mapping[str, Any],
    kind: str = "operators",
) -> str:
    """Write ``<out>/manifest.jsonl`` and ``<out>/data_manifest.yaml`` atomically; return the jsonl sha256.

    ``resolved``: the resolved declaration/settings as plain data; ``failures``: ``[{source, reason}]``.
    """
    out = Path(out)
    jsonl = dump_record_lines(records)
    atomic_write_bytes(out / MANIFEST_JSONL, jsonl)
    digest = sha256_bytes(jsonl)
    document = {
        "kind": kind,
        "declaration": dict(resolved),
        "provenance": provenance(),
        "counts": count_records(records),
        "manifest": {"file": MANIFEST_JSONL, "sha256": digest, "records": len(records)},
        "failures": [{"source": str(f["source"]), "reason": str(f["reason"])} for f in sorted(failures, key=lambda f: str(f["source"]))],
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    atomic_write_bytes(out / DATASET_MANIFEST, text.encode("utf-8"))
    return digest


def read_dataset_manifest(out: os.PathLike | str) -> dict[str, Any]:
    """The parsed ``<out>/data_manifest.yaml`` (``OSError``/``ValueError`` if missing or invalid)."""
    path = Path(out) / DATASET_MANIFEST
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return data


def with_overrides(declaration: Declaration, **render: Any) -> Declaration:
    """A copy of ``declaration`` with render settings replaced (``None`` values keep the declared one)."""
    changes = {key: value for key, value in render.items() if value is not None}
    return replace(declaration, render=replace(declaration.render, **changes)) if changes else declaration
