"""Enhancing one photo with a trained model: the image, its strengths as slider changes, and sidecars.

Reads 8/16-bit PNG, TIFF, JPEG and camera raws (decoded at their as-shot white and shown
as display sRGB), writes the enhanced image at the input's bit depth (raws: 16-bit TIFF)
and ``<name>.json`` with each operator's strength and its equivalent Lightroom slider
change (:mod:`bno.pipelines.edit.sliders`; marked approximate once stage 2 has fine-tuned
the operators); optionally a Camera Raw sidecar ``<name>.xmp``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from bno.model import SequentialRetoucher
from bno.pipelines.edit.sliders import SliderChange, StrengthOverride, camera_raw_settings, describe_changes, resolve_overrides
from bno.pipelines.edit.xmp import write_xmp
from bno.synth.colour_spaces import prophoto_to_srgb
from bno.synth.io import atomic_write_bytes, read_image, write_image
from bno.synth.ops import WhitePoint
from bno.synth.raw import decode_raw, is_raw_path

__all__ = ["enhance_file", "read_photo"]


def read_photo(path: Path) -> tuple[np.ndarray, int, str, WhitePoint | None]:
    """Pixels (H, W, 3) float32 display RGB in [0, 1], bit depth, output suffix, as-shot white (raws)."""
    if is_raw_path(path):
        decoded = decode_raw(path)
        return prophoto_to_srgb(decoded.image), 16, ".tif", decoded.as_shot
    loaded = read_image(path)
    return loaded.pixels, loaded.bit_depth, path.suffix, None


def _run(model: SequentialRetoucher, image: torch.Tensor, strengths: dict[str, float] | None, keep_input: bool):
    with torch.inference_mode():
        if model.kind == "bno":  # in place, in one float32 buffer, unless the input is needed again
            return model.enhance(image, strengths, inplace=not keep_input)
        return model.enhance(image, strengths)


def enhance_file(
    model: SequentialRetoucher,
    path: Path,
    out_dir: Path,
    device: str,
    overrides: list[StrengthOverride] = (),
    xmp: bool = False,
    approximate: bool = False,
) -> dict:
    """Enhance one file; write the image, ``<stem>.json`` (and ``<stem>.xmp``); return the record."""
    pixels, bit_depth, suffix, as_shot = read_photo(path)
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].contiguous().to(device)  # (1, 3, H, W)
    chosen: dict[str, float] | None = None
    if overrides:
        _, predicted = _run(model, image, None, keep_input=True)
        chosen = resolve_overrides(overrides, {c: float(s[0]) for c, s in predicted.items()}, model.config.sliders, as_shot)
    out, strengths = _run(model, image, chosen, keep_input=False)
    result = out[0].permute(1, 2, 0).cpu().numpy()
    target = out_dir / f"{path.stem}{suffix}"
    write_image(target, result, bit_depth if suffix.lower() not in (".jpg", ".jpeg") else 8)
    values = {code: float(s[0]) for code, s in strengths.items()}
    changes = [SliderChange(code, values[code], change) for code, change in model.slider_values(values).items()]
    record = {
        "input": str(path),
        "output": str(target),
        "model": model.kind,
        "order": list(model.order),
        "strengths": values,
        "overridden": sorted(chosen or {}),
        "sliders": {c.code: c.change for c in changes},
        "edits": describe_changes(changes, as_shot, approximate),
        "approximate": approximate,
        "as_shot": None if as_shot is None else {"temperature": as_shot.temperature, "tint": as_shot.tint},
        "bit_depth": bit_depth,
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
    }
    if xmp and changes:
        record["xmp"] = str(write_xmp(out_dir / f"{path.stem}.xmp", camera_raw_settings(changes, as_shot)))
    atomic_write_bytes(out_dir / f"{path.stem}.json", (json.dumps(record, indent=2) + "\n").encode())
    return record
