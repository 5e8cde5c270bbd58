"""The synthesis job: one Dask task per scene renders every operator × level and writes the files.

Task (a pure function of the raw path and the settings, :func:`render_scene`):

1. if ``<out>/.records/<scene>.json`` exists, was made with the same settings
   (fingerprint) and every file it lists still has its sha256, the scene is
   complete: return its records, status ``skipped``;
2. otherwise decode the raw **once** (``decode_raw(half_size, long_edge)``), render each
   requested operator at each level of its schedule, encode (no timestamps, so the
   bytes depend only on the pixels) and write each file atomically (temp name +
   rename) as ``<out>/<CODE>/<scene>-<level>.<ext>``;
3. write the scene's records atomically into ``<out>/.records/<scene>.json`` — the
   scene counts only from this moment.

The task returns a small dict (status, records, timings), never image arrays. Nothing
is random; were an operator ever to need noise, :func:`scene_seed` derives the seed from
the scene id so any worker gives the same bytes.

Driver (:func:`generate`): lists the raws (never inside ``out``, should ``out`` lie in the
raws folder), applies the split rule and ``--limit``, removes the temp files a killed run
left (only :func:`atomic_write_bytes`' own, named ``….bno-tmp``, only in the folders this job
writes), maps the task over the scenes on a Dask
cluster (a ``LocalCluster`` of single-threaded worker processes, or an existing
scheduler), shows progress, and at the end assembles ``manifest.jsonl`` (sorted) and
``data_manifest.yaml`` from the returned records. A ``kill -9`` at any moment leaves
at worst temp files (removed at the next start) and scenes without a record file
(redone); a task retried after its worker died rewrites identical bytes and one
record file, so records are never duplicated.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from bno.files import atomic_write_bytes
from bno.synth.ops import OPERATORS, get_operator

from bno.pipelines.data.executor import GenerateResult, clean_temp_files, execute, limit_threads
from bno.pipelines.data.fivek import load_test_names, split_of
from bno.pipelines.data.records import failure_record, load_complete_records, remove_stale, write_records
from bno.pipelines.data.manifest import (
    FORMATS,
    RECORDS_DIR,
    Declaration,
    RenderSettings,
    sha256_bytes,
    sha256_file,
    write_dataset_manifest,
)

__all__ = [
    "RECORD_SCHEMA",
    "SceneItem",
    "SceneSettings",
    "discover_raws",
    "generate",
    "output_name",
    "render_scene",
    "scene_seed",
    "select_scenes",
]

#: Version of the record layout; part of the settings fingerprint.
RECORD_SCHEMA = 1
_LOG = logging.getLogger(__name__)


# --------------------------------------------------------------------------- settings and naming


@dataclass(frozen=True)
class SceneSettings:
    """Everything that determines a scene's output bytes (and nothing else: no worker count)."""

    ops: tuple[tuple[str, int], ...]  #: (operator code, level count) in output order, e.g. (("EX", 21),)
    render: RenderSettings  #: decode and encode settings

    def fingerprint(self, split: str) -> str:
        """SHA-256 of the settings, the split and the record schema (stored in each record file)."""
        payload = json.dumps({"schema": RECORD_SCHEMA, "ops": self.ops, "render": asdict(self.render), "split": split}, sort_keys=True)
        return sha256_bytes(payload.encode())


@dataclass(frozen=True)
class SceneItem:
    """One scene to render: its raw file and split."""

    raw: str  #: path of the raw file
    split: str  #: "train" or "test"

    @property
    def scene(self) -> str:
        """Scene id: the raw's file stem (spaces and parentheses kept)."""
        return Path(self.raw).stem


def output_name(scene: str, code: str, level: int, fmt: str) -> str:
    """Relative output path ``<CODE>/<scene>-<level>.<ext>`` ('/'-separated)."""
    return f"{code}/{scene}-{level}{FORMATS[fmt][0]}"


def scene_seed(scene: str) -> int:
    """A 63-bit seed derived from the scene id only (for any randomness a task might need)."""
    return int.from_bytes(hashlib.sha256(scene.encode("utf-8")).digest()[:8], "big") >> 1


# --------------------------------------------------------------------------- the task


def render_scene(raw: str, split: str, out: str, settings: SceneSettings) -> dict[str, Any]:
    """Render and write every operator × level of one raw; return a small result dict.

    Parameters: ``raw`` path of the camera raw; ``split`` "train"/"test"; ``out`` the
    dataset root (shared filesystem); ``settings`` what to render.

    Returns ``{"scene", "source", "status": "ok"|"skipped"|"failed", "records": [...],
    "reason" (failed only), "seconds", "decode_seconds"}``. Never raises for a bad raw:
    any exception becomes a failure whose reason names the exception type.
    """
    from bno.synth.io import encode_image, encode_srgb
    from bno.synth.raw import decode_raw

    started = time.perf_counter()
    limit_threads()
    out_path, source = Path(out), Path(raw).name
    scene = Path(raw).stem
    fingerprint = settings.fingerprint(split)
    try:
        existing = load_complete_records(out_path, scene, fingerprint)
        if existing is not None:
            return {"scene": scene, "source": source, "status": "skipped", "records": existing, "seconds": time.perf_counter() - started}
        source_sha256 = sha256_file(raw)
        decode_started = time.perf_counter()
        decoded = decode_raw(raw, half_size=settings.render.half_size, long_edge=settings.render.long_edge)
        decode_seconds = time.perf_counter() - decode_started
        suffix, bit_depth, encoding = FORMATS[settings.render.format]
        height, width = decoded.image.shape[:2]
        records = []
        for code, levels in settings.ops:
            op = get_operator(code)
            (out_path / op.code).mkdir(parents=True, exist_ok=True)
            for level, value in enumerate(op.level_values(levels, decoded.as_shot)):
                rendered = op.apply(decoded.image, float(value), decoded.as_shot)
                if encoding == "display sRGB":
                    data = encode_srgb(rendered, suffix, bit_depth)
                else:
                    data = encode_image(rendered, suffix, bit_depth, profile="linear-prophoto")
                relative = output_name(scene, op.code, level, settings.render.format)
                atomic_write_bytes(out_path / relative, data)
                records.append(
                    {
                        "path": relative,
                        "sha256": sha256_bytes(data),
                        "bytes": len(data),
                        "scene": scene,
                        "source": source,
                        "source_sha256": source_sha256,
                        "op": op.code,
                        "level": level,
                        "levels": levels,
                        "value": float(value),
                        "unit": op.unit,
                        "split": split,
                        "width": int(width),
                        "height": int(height),
                        "format": settings.render.format,
                        "as_shot_temperature": float(decoded.as_shot.temperature),
                        "as_shot_tint": float(decoded.as_shot.tint),
                    }
                )
        (out_path / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
        remove_stale(out_path, scene, {record["path"] for record in records})
        write_records(out_path, scene, fingerprint, records)
    except Exception as error:  # one bad scene must not stop the others
        _LOG.debug("scene %s failed:\n%s", scene, traceback.format_exc())
        return failure_record(source, scene, error, started)
    return {"scene": scene, "source": source, "status": "ok", "records": records, "seconds": time.perf_counter() - started, "decode_seconds": decode_seconds}


# --------------------------------------------------------------------------- discovery


def _entry_problem(path: Path) -> str | None:
    """Why a listed entry cannot be read as a raw file (``None`` for a regular file)."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop"
        if path.is_symlink():
            return f"broken symlink (to {os.readlink(path)})"
        return f"unreadable ({error.strerror or error})"
    if stat.S_ISREG(mode):
        return None
    return "a folder, not a raw file" if stat.S_ISDIR(mode) else "not a regular file"


def _walk_raws(folder: Path, skip: set[str]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under ``folder`` and the folders to report as ``(path, reason)``.

    Hidden entries and the ``skip`` folders (real paths) are left out; symlinked folders
    are followed, each real folder once. Reported: a folder named like a raw (it is still
    searched) and a link to a folder already searched (it is not: that would loop).
    """
    from bno.synth.raw import is_raw_path

    files: list[Path] = []
    flagged: list[tuple[Path, str]] = []
    seen = {os.path.realpath(folder)}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        kept = []
        for name in sorted(dirnames):
            path = Path(dirpath, name)
            real = os.path.realpath(path)
            if name.startswith(".") or real in skip:
                continue
            if real in seen:
                flagged.append((path, f"symlink to a folder already searched ({real})"))
                continue
            if is_raw_path(path):
                flagged.append((path, "a folder, not a raw file"))
            seen.add(real)
            kept.append(name)
        dirnames[:] = kept
        files += [Path(dirpath, name) for name in filenames if not name.startswith(".")]
    return files, flagged


def discover_raws(folder: os.PathLike | str, exclude: Iterable[os.PathLike | str] = ()) -> tuple[list[Path], list[dict[str, str]]]:
    """Raw files under ``folder`` (recursive, sorted by scene name) and failures for the rest.

    Hidden entries and the ``exclude`` folders (say the output folder, when it lies inside
    ``folder``) are left out. Every other entry that is not a raw becomes a ``{source,
    reason}`` failure: a non-raw file, a second file with an already-seen scene name, a
    folder named like a raw (its contents are still searched), a broken symlink, a symlink
    loop. ``ValueError`` when ``folder`` itself is excluded.
    """
    from bno.synth.raw import is_raw_path

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"raw folder {folder} does not exist")
    skip = {os.path.realpath(path) for path in exclude}
    if os.path.realpath(folder) in skip:
        raise ValueError(f"raw folder {folder} is also the output folder; write the output elsewhere")
    files, flagged = _walk_raws(folder, skip)
    entries = [(path, _entry_problem(path)) for path in files] + flagged
    raws: dict[str, Path] = {}
    failures = []
    for path, problem in sorted(entries, key=lambda entry: (entry[0].name, str(entry[0]))):
        if problem is not None:
            failures.append({"source": path.name, "reason": problem})
        elif not is_raw_path(path):
            failures.append({"source": path.name, "reason": f"not a camera raw (suffix {path.suffix or 'none'!r})"})
        elif path.stem in raws:
            failures.append({"source": path.name, "reason": f"duplicate scene name (also {raws[path.stem].name})"})
        else:
            raws[path.stem] = path
    return [raws[name] for name in sorted(raws)], failures


def select_scenes(raws: Sequence[Path], declaration: Declaration, split: str = "all", limit: int | None = None) -> list[SceneItem]:
    """Scenes in the requested split(s) by the declaration's split rule, first ``limit`` by name."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train, test or all, got {split!r}")
    names = load_test_names(declaration.split)
    items = []
    for path in raws:
        which = split_of(path.stem, declaration.split, declaration.id_pattern, names)
        if which is not None and split in (which, "all"):
            items.append(SceneItem(str(path), which))
    return items if limit is None else items[: max(0, limit)]


# --------------------------------------------------------------------------- the driver


def resolved_settings(declaration: Declaration, settings: SceneSettings, split: str, limit: int | None) -> dict[str, Any]:
    """The resolved declaration for ``data_manifest.yaml``: declared operators narrowed to this run."""
    document = declaration.to_dict()
    codes = {code: levels for code, levels in settings.ops}
    document["operators"] = {
        name: {**spec, "levels": codes[spec["code"]]} for name, spec in document["operators"].items() if spec["code"] in codes
    }
    for code, levels in settings.ops:  # operators requested but not declared
        op = get_operator(code)
        document["operators"].setdefault(op.name, {"code": op.code, "unit": op.unit, "slider_range": list(op.slider_range), "levels": levels})
    document["render"] = asdict(settings.render)
    document["run"] = {"split": split, "limit": limit}
    return document


def generate(
    declaration: Declaration,
    ops: Iterable[str],
    out: os.PathLike | str,
    *,
    levels: int | None = None,
    split: str = "all",
    limit: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    max_failures: int | None = None,
    progress_interval: float = 10.0,
) -> GenerateResult:
    """Synthesise the dataset into ``out``; see the module docstring.

    ``ops``: operator names or codes (declared levels unless ``levels`` overrides them).
    Returns a :class:`GenerateResult`; never raises for bad raws (they are failures).
    """
    started = time.perf_counter()
    out = Path(out)
    op_levels = []
    for name in ops:
        op = get_operator(name)
        try:
            declared = declaration.operator(op.code).levels
        except KeyError:
            declared = op.default_levels
        count = levels if levels is not None else declared
        if count < 2:
            raise ValueError(f"--levels must be at least 2, got {count}")
        op_levels.append((op.code, int(count)))
    settings = SceneSettings(tuple(op_levels), declaration.render)
    raws, failures = discover_raws(declaration.raws, exclude=[out])
    items = select_scenes(raws, declaration, split, limit)
    out.mkdir(parents=True, exist_ok=True)
    (out / RECORDS_DIR).mkdir(exist_ok=True)
    removed = clean_temp_files(out, sorted({op.code for op in OPERATORS.values()}))
    if removed:
        _LOG.info("removed %d temp files left by an interrupted run", removed)
    results, stopped = execute(
        render_scene,
        items,
        lambda item: (item.raw, item.split),
        {"out": str(out), "settings": settings},
        workers=workers,
        scheduler=scheduler,
        max_failures=max_failures,
        label="generate",
        progress_interval=progress_interval,
    )
    result = GenerateResult(out=out, scenes=len(items), stopped_early=stopped, failures=list(failures))
    result.add(results)
    result.manifest_sha256 = write_dataset_manifest(out, result.records, result.failures, resolved_settings(declaration, settings, split, limit))
    result.seconds = time.perf_counter() - started
    return result
