"""``bno-synth preview``: a contact sheet per operator so a person can eyeball the data.

For each operator (``op`` of ``manifest.jsonl``; pairs datasets give one ``pair`` sheet)
the sheet has one row per sampled scene and one column per sampled level (or role),
each tile labelled with its level and slider value, written to ``<DIR>/preview/<CODE>.png``
(8-bit sRGB). ``tiff16`` operator data (linear ProPhoto) is converted to sRGB for display.
A recorded path that leaves the dataset (``..``, absolute, a symlink to outside the root) is
refused with :class:`~bno.pipelines.data.paths.DatasetPathError` before anything is read.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bno.synth.ops import get_operator
from bno.files import atomic_write_bytes

from bno.pipelines.data.manifest import MANIFEST_JSONL, read_manifest
from bno.pipelines.data.paths import DatasetRoot

__all__ = ["PREVIEW_DIR", "contact_sheet", "write_previews"]

PREVIEW_DIR = "preview"
_LABEL_HEIGHT = 18
_ROW_LABEL_WIDTH = 150
_GAP = 4
_BACKGROUND = 30  # 8-bit grey
_TEXT = (242, 242, 242)


def _sample(items: list, count: int) -> list:
    """``count`` items evenly spread over ``items``, first and last included."""
    if len(items) <= count:
        return list(items)
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(picks.tolist()))]


def _label(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.38) -> None:
    import cv2

    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, _TEXT, 1, cv2.LINE_AA)


def column_label(record: dict[str, Any]) -> str:
    """A tile's label as Lightroom shows the setting (``Exposure -2.0 EV``, ``Temperature 5500 K``; ASCII for OpenCV)."""
    if record.get("op") == "pair":
        return str(record.get("role"))
    value = float(record.get("value", 0.0))
    try:
        op = get_operator(str(record.get("op")))
    except KeyError:
        return f"level {record.get('level')}: {value:.6g}"
    shown = {"K": f"{value:.0f} K", "EV": f"{value:+.1f} EV"}.get(op.unit, f"{value:+.0f}")  # as Lightroom shows it
    return f"{op.slider} {shown}"


def _tile(root: DatasetRoot, record: dict[str, Any], height: int) -> np.ndarray:
    import cv2

    from bno.synth.colour_spaces import prophoto_to_srgb
    from bno.synth.io import read_image

    pixels = read_image(root.path(record.get("path"))).pixels
    if record.get("format") == "tiff16" and record.get("op") != "pair":
        pixels = prophoto_to_srgb(pixels)
    width = max(1, round(pixels.shape[1] * height / pixels.shape[0]))
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)


def contact_sheet(root: os.PathLike | str, records: list[dict[str, Any]], scenes: int = 4, columns: int = 7, tile_height: int = 96) -> np.ndarray:
    """A sheet (H, W, 3) float32 sRGB in [0, 1] of one operator's records: ``scenes`` rows × ``columns`` levels.

    Raises :class:`~bno.pipelines.data.paths.DatasetPathError` for a path that leaves ``root``.
    """
    inside = DatasetRoot(root)
    by_scene: dict[str, list] = defaultdict(list)
    for record in records:
        by_scene[str(record["scene"])].append(record)
    chosen = _sample(sorted(by_scene), scenes)
    order = (lambda r: (0 if r.get("role") == "input" else 1)) if records and records[0].get("op") == "pair" else (lambda r: int(r.get("level", 0)))
    rows = []
    for scene in chosen:
        picked = _sample(sorted(by_scene[scene], key=order), columns)
        rows.append((scene, picked, [_tile(inside, r, tile_height) for r in picked]))
    tile_width = max((t.shape[1] for _, _, tiles in rows for t in tiles), default=tile_height)
    n_columns = max((len(tiles) for _, _, tiles in rows), default=1)
    row_height = tile_height + _LABEL_HEIGHT + _GAP
    width = _ROW_LABEL_WIDTH + n_columns * (tile_width + _GAP) + _GAP
    sheet = np.full((len(rows) * row_height + _GAP, width, 3), _BACKGROUND, np.uint8)  # OpenCV draws text on 8-bit only
    for row_index, (scene, picked, tiles) in enumerate(rows):
        top = row_index * row_height + _GAP
        _label(sheet, scene[:22], 4, top + _LABEL_HEIGHT + tile_height // 2)
        for col, (record, tile) in enumerate(zip(picked, tiles)):
            left = _ROW_LABEL_WIDTH + col * (tile_width + _GAP)
            _label(sheet, column_label(record), left, top + _LABEL_HEIGHT - 5)
            tile8 = np.rint(np.clip(tile, 0.0, 1.0) * 255).astype(np.uint8)
            sheet[top + _LABEL_HEIGHT : top + _LABEL_HEIGHT + tile.shape[0], left : left + tile.shape[1]] = tile8
    return sheet.astype(np.float32) / np.float32(255)


def write_previews(root: os.PathLike | str, scenes: int = 4, columns: int = 7, tile_height: int = 96) -> list[Path]:
    """Write ``<root>/preview/<CODE>.png`` for every op in ``manifest.jsonl``; return the paths."""
    from bno.synth.io import encode_image

    root = Path(root)
    inside = DatasetRoot(root)
    records = read_manifest(inside.path(MANIFEST_JSONL))
    by_op: dict[str, list] = defaultdict(list)
    for record in records:
        by_op[str(record.get("op"))].append(record)
    inside.path(PREVIEW_DIR)  # refuse a preview folder that links out of the dataset
    (root / PREVIEW_DIR).mkdir(exist_ok=True)
    written = []
    for op in sorted(by_op):
        path = root / PREVIEW_DIR / f"{op}.png"
        atomic_write_bytes(path, encode_image(contact_sheet(root, by_op[op], scenes, columns, tile_height), ".png", 8))
        written.append(path)
    return written
