"""Stage-2 paired data: raw renders (inputs) with expert targets, matched **by id**, never by sort order.

(a) :func:`make_pairs` — from FiveK raws plus expert renders, write the FiveK-Dark layout

    <out>/trainA/<scene>.tif   16-bit display sRGB input: decode_raw(half_size, long_edge) → prophoto_to_srgb
    <out>/trainB/<scene>.jpg   8-bit sRGB target, area-resized to exactly the input's size
    <out>/testA, <out>/testB   the same for the test split

with ``manifest.jsonl`` records (``op: "pair"``, ``role: input|target``) and
``data_manifest.yaml`` like ``generate``, so ``bno-synth audit`` checks it. Targets are
FiveK ``tiff16_c/<name>.tif`` (16-bit ProPhoto, ROMM TRC: gamma 1.8 with a linear toe)
→ linear ProPhoto → sRGB, or any 8-bit sRGB JPEG/PNG (used as stored). The task per scene
is a pure function of (raw, target, settings), run on the same Dask machinery.

(b) :func:`index_pairs` — index an existing paired folder (FiveK-Dark/-Lite
``trainA/trainB/testA/testB``, or any inputs and targets folders) into ``pairs.jsonl``,
matching by id and reporting unmatched files on both sides.

Matching key (:func:`pair_key`): the FiveK id ``a<NNNN>`` when the stem starts with
``a1234`` or ``1234`` (``a4521-IMG_1.dng`` ↔ ``a4521.jpg`` ↔ ``4521_input.jpg``), else the whole stem.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bno.files import atomic_write_bytes

from bno.pipelines.data.executor import GenerateResult, clean_temp_files, execute, limit_threads
from bno.pipelines.data.generate import discover_raws, select_scenes
from bno.pipelines.data.records import failure_record, load_complete_records, write_records
from bno.pipelines.data.fivek import DARK_LAYOUT, load_test_names, match_by_key, pair_key, split_of
from bno.pipelines.data.manifest import RECORDS_DIR, Declaration, RenderSettings, sha256_bytes, sha256_file, write_dataset_manifest

__all__ = [
    "PairIndex",
    "PairsResult",
    "index_pairs",
    "index_layout",
    "make_pairs",
    "render_pair",
    "write_index",
]

_TARGET_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg", ".png")
_ASPECT_TOLERANCE = 0.03


def _load_target_srgb(path: Path) -> np.ndarray:
    """A target as display sRGB (H, W, 3) float32: 16-bit TIFFs are ProPhoto (ROMM TRC), others sRGB as stored."""
    from bno.synth.colour_spaces import prophoto_to_srgb, romm_decode
    from bno.synth.io import read_image

    loaded = read_image(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return prophoto_to_srgb(romm_decode(loaded.pixels))
    return loaded.pixels


def render_pair(raw: str, target: str, split: str, out: str, render: RenderSettings) -> dict[str, Any]:
    """Write one input/target pair; return ``{scene, source, status, records, reason?}`` (never raises).

    The input is 16-bit display sRGB TIFF ``<split>A/<scene>.tif``; the target 8-bit sRGB JPEG
    ``<split>B/<scene>.jpg`` area-resized to the input's exact size. A target whose aspect ratio
    differs from the input's by more than 3 % (e.g. rotated) is a failure.
    """
    import cv2

    from bno.synth.colour_spaces import prophoto_to_srgb
    from bno.synth.io import encode_image
    from bno.synth.raw import decode_raw


    started = time.perf_counter()
    limit_threads()
    out_path, scene = Path(out), Path(raw).stem
    fingerprint = sha256_bytes(json.dumps({"pairs": 1, "render": [render.half_size, render.long_edge], "split": split, "target": Path(target).name}).encode())
    try:
        existing = load_complete_records(out_path, scene, fingerprint)
        if existing is not None:
            return {"scene": scene, "source": Path(raw).name, "status": "skipped", "records": existing}
        decoded = decode_raw(raw, half_size=render.half_size, long_edge=render.long_edge)
        height, width = decoded.image.shape[:2]
        target_pixels = _load_target_srgb(Path(target))
        t_height, t_width = target_pixels.shape[:2]
        if abs((t_width / t_height) / (width / height) - 1.0) > _ASPECT_TOLERANCE:
            raise ValueError(f"target {Path(target).name} is {t_width}×{t_height}, input {width}×{height}: aspect ratios differ")
        target_pixels = cv2.resize(target_pixels, (width, height), interpolation=cv2.INTER_AREA)
        folder_in, folder_tg = DARK_LAYOUT[split]
        outputs = [
            ("input", f"{folder_in}/{scene}.tif", encode_image(prophoto_to_srgb(decoded.image), ".tif", 16), "tiff16"),
            ("target", f"{folder_tg}/{scene}.jpg", encode_image(target_pixels, ".jpg", 8), "jpg8"),
        ]
        common = {
            "scene": scene,
            "source": Path(raw).name,
            "source_sha256": sha256_file(raw),
            "target_source": Path(target).name,
            "target_source_sha256": sha256_file(target),
            "id": pair_key(raw),
            "op": "pair",
            "split": split,
            "width": int(width),
            "height": int(height),
        }
        records = []
        for role, relative, data, fmt in outputs:
            (out_path / relative).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(out_path / relative, data)
            records.append({**common, "path": relative, "role": role, "format": fmt, "sha256": sha256_bytes(data), "bytes": len(data)})
        (out_path / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
        write_records(out_path, scene, fingerprint, records)
    except Exception as error:
        return failure_record(Path(raw).name, scene, error, started)
    return {"scene": scene, "source": Path(raw).name, "status": "ok", "records": records}


@dataclass
class PairsResult(GenerateResult):
    """What a ``make_pairs`` run did: a generate result plus the files left unmatched."""

    unmatched_raws: list[str] = field(default_factory=list)
    unmatched_targets: list[str] = field(default_factory=list)


def _target_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"targets folder {folder} does not exist")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in _TARGET_SUFFIXES and not p.name.startswith("."))


def make_pairs(
    declaration: Declaration,
    targets: os.PathLike | str,
    out: os.PathLike | str,
    *,
    split: str = "all",
    limit: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    max_failures: int | None = None,
    progress_interval: float = 10.0,
) -> PairsResult:
    """Render input/target pairs for every raw of ``declaration.raws`` that has a target (see module doc)."""

    started = time.perf_counter()
    out = Path(out)
    raws, failures = discover_raws(declaration.raws, exclude=[out])
    matched, lost_raws, lost_targets = match_by_key(raws, _target_files(Path(targets)))
    target_of = {raw.stem: target for _, raw, target in matched}
    items = [item for item in select_scenes([r for _, r, _ in sorted(matched, key=lambda m: m[1].stem)], declaration, split, None)]
    items = items if limit is None else items[: max(0, limit)]
    out.mkdir(parents=True, exist_ok=True)
    clean_temp_files(out, [folder for pair in DARK_LAYOUT.values() for folder in pair])
    results, stopped = execute(
        render_pair,
        items,
        lambda item: (item.raw, str(target_of[item.scene]), item.split),
        {"out": str(out), "render": declaration.render},
        workers=workers,
        scheduler=scheduler,
        max_failures=max_failures,
        label="pairs",
        progress_interval=progress_interval,
    )
    result = PairsResult(out=out, scenes=len(items), stopped_early=stopped, failures=list(failures), unmatched_raws=lost_raws, unmatched_targets=lost_targets)
    result.add(results)
    resolved = declaration.to_dict()
    resolved.pop("operators", None)
    resolved["pairs"] = {"targets": str(targets), "output": str(out), "unmatched_raws": lost_raws, "unmatched_targets": lost_targets}
    resolved["run"] = {"split": split, "limit": limit}
    write_dataset_manifest(out, result.records, result.failures, resolved, kind="pairs")
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- (b) indexing existing pairs


@dataclass
class PairIndex:
    """Pairs found in existing folders, and the files that found no partner."""

    pairs: list[dict] = field(default_factory=list)  #: {id, input, target, split} (paths relative to the index file)
    unmatched_inputs: list[str] = field(default_factory=list)
    unmatched_targets: list[str] = field(default_factory=list)


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _TARGET_SUFFIXES and not p.name.startswith("."))


def index_pairs(inputs: os.PathLike | str, targets: os.PathLike | str, base: os.PathLike | str, split: str | None = None, declaration: Declaration | None = None) -> PairIndex:
    """Match ``inputs`` and ``targets`` folders by id; paths relative to ``base``.

    ``split``: the split of every pair (FiveK-Dark folders), or ``None`` to apply the
    declaration's split rule to each id.
    """
    inputs, targets, base = Path(inputs), Path(targets), Path(base)
    matched, lost_in, lost_tg = match_by_key(_images(inputs), _images(targets))
    index = PairIndex(unmatched_inputs=[(inputs / n).as_posix() for n in lost_in], unmatched_targets=[(targets / n).as_posix() for n in lost_tg])
    names = load_test_names(declaration.split) if declaration is not None and split is None else None
    for key, source, target in matched:
        which = split
        if which is None and declaration is not None:
            which = split_of(source.stem, declaration.split, declaration.id_pattern, names)
        index.pairs.append(
            {"id": key, "input": Path(os.path.relpath(source, base)).as_posix(), "target": Path(os.path.relpath(target, base)).as_posix(), "split": which}
        )
    return index


def index_layout(root: os.PathLike | str, base: os.PathLike | str | None = None) -> PairIndex:
    """Index a FiveK-Dark/-Lite folder (``trainA/trainB``, ``testA/testB``; a missing split is skipped)."""
    root = Path(root)
    base = Path(base) if base is not None else root
    found = PairIndex()
    present = [s for s, (a, b) in DARK_LAYOUT.items() if (root / a).is_dir() or (root / b).is_dir()]
    if not present:
        raise FileNotFoundError(f"{root} has none of trainA/trainB/testA/testB")
    for split in present:
        a, b = DARK_LAYOUT[split]
        if not (root / a).is_dir() or not (root / b).is_dir():
            missing = a if not (root / a).is_dir() else b
            raise FileNotFoundError(f"{root}: {missing} is missing")
        part = index_pairs(root / a, root / b, base, split)
        found.pairs += part.pairs
        found.unmatched_inputs += part.unmatched_inputs
        found.unmatched_targets += part.unmatched_targets
    return found


def write_index(index: PairIndex, path: os.PathLike | str) -> None:
    """Write ``pairs.jsonl`` (one ``{id, input, target, split}`` per line, sorted by split and id), atomically."""
    lines = [json.dumps(p, sort_keys=True, ensure_ascii=False) for p in sorted(index.pairs, key=lambda p: (str(p["split"]), p["id"], p["input"]))]
    atomic_write_bytes(path, ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
