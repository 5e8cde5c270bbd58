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
from typing import Annotated, Any, Iterable, Literal, Mapping

import yaml
from pydantic import AfterValidator, ConfigDict, Field, Strict, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

import bno
from bno.pipelines.data.provenance import code_version, package_version
from bno.pipelines.data.fivek import FIVEK_ID_PATTERN, SplitRule
from bno.schema import Real, Schema, first_problem
from bno.files import atomic_write_bytes
from bno.synth.ops import OPERATORS, get_operator

__all__ = [
    "DATASET_MANIFEST",
    "DECLARATION_VERSION",
    "DeclarationFile",
    "FORMATS",
    "MAX_LEVELS",
    "MAX_LONG_EDGE",
    "MANIFEST_JSONL",
    "RECORDS_DIR",
    "REQUIRED_FIELDS",
    "Declaration",
    "OperatorSpec",
    "RenderSettings",
    "check_render",
    "count_records",
    "default_declaration_path",
    "dump_record_lines",
    "load_declaration",
    "provenance",
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
_HASH_CHUNK = 1 << 20


# --------------------------------------------------------------------------- declaration


#: Most levels an operator's schedule may declare (0 … N−1; NeurOp: 21): labels step by ≥ 0.001.
MAX_LEVELS = 1001
#: Largest long edge in pixels a render may ask for.
MAX_LONG_EDGE = 65535
FormatName = Literal[tuple(FORMATS)]  # type: ignore[valid-type]


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class RenderSettings:
    """How raws are decoded and images encoded (the declaration's ``render`` section; validated
    on construction — every field strict — so a bad value never reaches a Dask worker)."""

    half_size: Annotated[bool, Strict()] = Field(True, description="LibRaw half-size decode (2×2 Bayer binning, no demosaic)")
    long_edge: Annotated[int, Strict(), Field(ge=1, le=MAX_LONG_EDGE)] | None = Field(
        500, description="area-resize so the long edge is this many pixels (null: keep)"
    )
    format: FormatName = Field("png8", description="png8 | png16 (display sRGB) | tiff16 (linear ProPhoto)")


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


# ---- the declaration file's schema (strict keys and types; paths resolved afterwards)

FiveKId = Annotated[int, Strict(), Field(ge=0, le=10**9)]


def _id_range(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] > value[1]:
        raise ValueError(f"empty id range [{value[0]}, {value[1]}]")
    return value


def _id_pattern(value: str) -> str:
    try:
        groups = re.compile(value).groups
    except re.error as error:
        raise ValueError(f"not a valid regex ({error})") from None
    if groups < 1:
        raise ValueError("needs a group: group 1 is the FiveK id digits")
    return value


IdRange = Annotated[tuple[FiveKId, FiveKId], Strict(False), AfterValidator(_id_range)]


class SourceSection(Schema):
    """``source``: where the raws are and how their names carry the FiveK id."""

    name: Annotated[str, Strict()] = Field("MIT-Adobe FiveK", description="name of the source dataset")
    raws: Annotated[str, Strict()] = Field("samples/raws", description="folder of camera raws, searched recursively (relative to the file)")
    id_pattern: Annotated[str, Strict(), AfterValidator(_id_pattern)] = Field(
        FIVEK_ID_PATTERN, description="regex whose group 1 is the FiveK id digits"
    )
    expected_files: Annotated[int, Strict(), Field(ge=0, le=10**9)] | None = Field(
        None, description="how many raws the full source has (FiveK: 5000); informational"
    )


class SplitSection(Schema):
    """``split``: FiveK id ranges, or a list of test names."""

    train_ids: IdRange = Field((1, 4500), description="inclusive FiveK id range of the training split")
    test_ids: IdRange = Field((4501, 5000), description="inclusive FiveK id range of the test split")
    test_list: Annotated[str, Strict()] | None = Field(None, description="file of test ids / scene names (relative to the file)")
    unmatched: Literal["train", "test", "skip"] = Field("train", description="split of names without a FiveK id")


class OperatorEntry(Schema):
    """``operators.<name>``: what the registry says, restated (checked), and the level count."""

    code: Annotated[str, Strict()] | None = Field(None, description="the registry's code (checked)")
    unit: Annotated[str, Strict()] | None = Field(None, description="the registry's slider unit (checked)")
    slider_range: Annotated[tuple[Real, Real], Strict(False)] | None = Field(None, description="the registry's range (checked)")
    levels: Annotated[int, Strict(), Field(ge=2, le=MAX_LEVELS)] | None = Field(
        None, description="levels 0 … N−1 of the schedule (default: the registry's)"
    )


class PairsSection(Schema):
    """``pairs``: defaults of ``bno-synth pairs``."""

    targets: Annotated[str, Strict()] | None = Field(None, description="folder of expert targets (relative to the file)")
    output: Annotated[str, Strict()] = Field("data/pairs", description="output folder (relative to the working directory)")


class DeclarationFile(Schema):
    """The top-level ``data_manifest.yaml`` as written (before paths resolve)."""

    # Lax at this level only so that a mapping may become the RenderSettings dataclass (strict
    # dataclass validation wants an instance); every field here is strict by its own type.
    model_config = ConfigDict(strict=False)

    version: Literal[DECLARATION_VERSION] = Field(DECLARATION_VERSION, description="declaration format version")  # type: ignore[valid-type]
    source: SourceSection = SourceSection()
    output: Annotated[str, Strict()] = Field("data/init", description="default output folder of bno-synth generate")
    render: RenderSettings = RenderSettings()
    split: SplitSection = SplitSection()
    operators: dict[Annotated[str, Strict()], OperatorEntry] = Field(
        default_factory=dict, description="operator name → entry (empty: every registered operator)"
    )
    pairs: PairsSection = PairsSection()


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(os.path.expanduser(str(value)))
    return str(path if path.is_absolute() else (base / path))


def _operator_spec(name: str, entry: OperatorEntry, where: str) -> OperatorSpec:
    """The declared operator, checked against the :data:`bno.synth.ops.OPERATORS` registry."""
    try:
        op = get_operator(name)
    except KeyError as error:
        raise ValueError(f"{where}: operators.{name}: {error.args[0] if error.args else 'unknown operator'}") from None
    registry_range = tuple(float(v) for v in op.slider_range)
    declared_range = registry_range if entry.slider_range is None else tuple(entry.slider_range)
    if declared_range != registry_range:
        raise ValueError(f"{where}: operators.{name}.slider_range {list(declared_range)} differs from the registry's {list(op.slider_range)}")
    if (entry.code or op.code) != op.code or (entry.unit or op.unit) != op.unit:
        raise ValueError(f"{where}: operators.{name}: code/unit must be {op.code}/{op.unit}")
    return OperatorSpec(op.name, op.code, op.unit, declared_range, entry.levels or op.default_levels)


def _read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        try:
            return yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error.__class__.__name__})") from None


def load_declaration(path: os.PathLike | str | None = None) -> Declaration:
    """Read and validate a declaration; ``source.raws``, ``split.test_list`` and ``pairs.targets``
    resolve relative to the file's folder, ``output`` relative to the working directory.

    Raises ``ValueError`` (one line: ``<file>: <key path>: <reason>``) for unknown keys, values
    of the wrong type or out of bounds (e.g. ``levels`` above :data:`MAX_LEVELS`), or operator
    ranges that disagree with the :data:`bno.synth.ops.OPERATORS` registry; ``OSError`` if unreadable.
    """
    path = Path(path) if path is not None else default_declaration_path()
    where = str(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a declaration is a mapping of keys (see data_manifest.yaml)")
    try:
        document = DeclarationFile.model_validate(data)
    except ValidationError as error:
        key, reason = first_problem(error, DeclarationFile)
        raise ValueError(f"{where}: {key}: {reason}" if key else f"{where}: {reason}") from None
    specs = [_operator_spec(str(name), entry, where) for name, entry in document.operators.items()]
    if not specs:
        specs = [OperatorSpec(op.name, op.code, op.unit, tuple(map(float, op.slider_range)), op.default_levels) for op in OPERATORS.values()]
    base = path.resolve().parent
    source, split = document.source, document.split
    return Declaration(
        raws=_resolve(base, source.raws),
        id_pattern=source.id_pattern,
        expected_files=source.expected_files,
        output=document.output,
        render=document.render,
        split=SplitRule(split.train_ids, split.test_ids, _resolve(base, split.test_list), split.unmatched),
        operators=tuple(specs),
        source_name=source.name,
        pairs_targets=_resolve(base, document.pairs.targets),
        pairs_output=document.pairs.output,
        path=str(path),
    )


def check_render(settings: RenderSettings, where: str = "render") -> None:
    """Raise a one-line ``ValueError`` naming ``where`` and the key for settings out of bounds."""
    try:
        RenderSettings(**asdict(settings))
    except ValidationError as error:
        key, reason = first_problem(error, DeclarationFile)
        raise ValueError(f"{where}: {key}: {reason}") from None


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


def with_overrides(declaration: Declaration, **render: Any) -> Declaration:
    """A copy of ``declaration`` with render settings replaced (``None`` values keep the declared one)."""
    changes = {key: value for key, value in render.items() if value is not None}
    if not changes:
        return declaration
    try:
        return replace(declaration, render=replace(declaration.render, **changes))
    except ValidationError as error:
        key, reason = first_problem(error, DeclarationFile)
        raise ValueError(f"render: {key}: {reason}") from None
