"""Enhancing one photo with a trained model: the image, its strengths as slider changes, and sidecars.

Reads 8/16-bit PNG, TIFF, JPEG and camera raws (decoded at their as-shot white and shown
as display sRGB) and writes, per photo:

* the enhanced image, display sRGB with an sRGB ICC profile, in the :class:`OutputSettings`
  format: ``same`` (the input's type at its bit depth; raws: 16-bit TIFF), ``png`` or ``tiff``
  (lossless, at the input's bit depth) or ``jpeg`` (8-bit, ``quality``);
* ``<name>.json`` with each operator's strength and its equivalent Lightroom slider change
  (:mod:`bno.pipelines.edit.sliders`; marked approximate once stage 2 has fine-tuned the
  operators);
* optionally a Camera Raw sidecar ``<name>.xmp`` (only when the model maps strengths to sliders).

**Nothing the user owns is replaced.** :class:`OutputPlanner` gives each photo a base name
whose image, JSON and XMP names are all free: not an input of the run, not an existing file,
not claimed by an earlier photo of the run. It tries ``<stem>``, then ``<stem>.bno``,
``<stem>.bno-2``, ``<stem>.bno-3`` … and says which file the plain name would have replaced.
Files are then created with :func:`~bno.files.atomic_write_bytes` ``(exclusive=True)``, so
a file that appears in the meantime is not replaced either.

A photo's files are written sidecars first, image last; when a write fails (disk full …) the
ones already written are removed, so an image never lies there without its JSON and sidecar.
Every problem with one photo is an :class:`EnhanceError` (one line, naming the file).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bno.errors import first_line
from bno.model import SequentialRetoucher
from bno.pipelines.edit.sliders import (
    SliderChange,
    StrengthOverride,
    camera_raw_settings,
    check_temperature,
    describe_changes,
    resolve_overrides,
)
from bno.pipelines.edit.xmp import xmp_packet
from bno.synth.colour_spaces import prophoto_to_srgb
from bno.files import atomic_write_bytes
from bno.synth.io import JPEG_QUALITY, FileError, encode_image, read_image
from bno.synth.ops import WhitePoint, get_operator
from bno.synth.raw import decode_raw, is_raw_path

__all__ = [
    "FORMAT_SUFFIXES",
    "OUTPUT_FORMATS",
    "EnhanceError",
    "OutputNames",
    "OutputPlanner",
    "OutputSettings",
    "Photo",
    "check_overrides",
    "describe_strengths",
    "enhance_file",
    "read_photo",
]

#: Output formats: ``same`` keeps the input's type (raws: TIFF); the others name the type.
OUTPUT_FORMATS = ("same", "png", "tiff", "jpeg")
#: File suffix written for each explicit format.
FORMAT_SUFFIXES = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg"}
_JPEG_SUFFIXES = (".jpg", ".jpeg")
#: Inserted before the suffix when the plain name is taken: ``photo.bno.jpg``, ``photo.bno-2.jpg`` …
RENAME_TAG = ".bno"
_MAX_RENAMES = 1000
_NAME_MAX_FALLBACK = 255


class EnhanceError(FileError):
    """One photo that could not be enhanced; ``str()`` is one line naming the file and the reason."""


@dataclass(frozen=True)
class OutputSettings:
    """What to write: image ``format`` (one of :data:`OUTPUT_FORMATS`), JPEG ``quality`` (0–100), ``xmp`` sidecars."""

    format: str = "same"
    quality: int = JPEG_QUALITY
    xmp: bool = False

    def __post_init__(self) -> None:
        if self.format not in OUTPUT_FORMATS:
            raise ValueError(f"output format {self.format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
        if not 0 <= self.quality <= 100:
            raise ValueError(f"JPEG quality must be in [0, 100], got {self.quality}")

    def suffix(self, path: Path) -> str:
        """The output suffix for input ``path`` (raws: ``.tif`` for ``same``)."""
        if self.format != "same":
            return FORMAT_SUFFIXES[self.format]
        return ".tif" if is_raw_path(path) else path.suffix


@dataclass(frozen=True)
class Photo:
    """A photo ready for the model: ``pixels`` (H, W, 3) float32 display sRGB in [0, 1], its bit depth
    (8 or 16; raws 16) and, for raws, the as-shot white."""

    pixels: np.ndarray
    bit_depth: int
    as_shot: WhitePoint | None


def read_photo(path: Path) -> Photo:
    """Read an image or decode a raw (at its as-shot white, as display sRGB)."""
    if is_raw_path(path):
        decoded = decode_raw(path)
        return Photo(prophoto_to_srgb(decoded.image), 16, decoded.as_shot)
    loaded = read_image(path)
    return Photo(loaded.pixels, loaded.bit_depth, None)


# --------------------------------------------------------------------------- output names


@dataclass(frozen=True)
class OutputNames:
    """One photo's output paths and, when renamed, the file its plain name would have replaced."""

    image: Path
    record: Path
    sidecar: Path | None
    instead_of: Path | None = None
    because: str = ""

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.image, self.record, self.sidecar) if p is not None)

    def note(self) -> str:
        """``""``, or e.g. ``not photo.jpg: an input`` when the plain name was taken."""
        return "" if self.instead_of is None else f"not {self.instead_of.name}: {self.because}"


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX_FALLBACK


class OutputPlanner:
    """Chooses output names in ``out_dir`` that never replace an input or an existing file.

    ``inputs``: every input of the run (an input is never replaced, even one not yet written
    over). Names claimed by one photo are not given to another; :meth:`release` frees them
    when that photo failed before writing anything.
    """

    def __init__(self, out_dir: Path, inputs: Iterable[Path] = ()) -> None:
        self.out_dir = Path(out_dir)
        self._inputs = {_key(Path(p)) for p in inputs}
        self._claimed: set[str] = set()
        self._name_max = _name_max(self.out_dir) if self.out_dir.is_dir() else _NAME_MAX_FALLBACK

    def _taken(self, path: Path) -> str:
        """Why ``path`` cannot be written ("" when it can)."""
        key = _key(path)
        if key in self._inputs:
            return "an input"
        if key in self._claimed:
            return "written earlier in this run"
        if os.path.lexists(path):
            return "exists"
        return ""

    def claim(self, source: Path, suffix: str, sidecar: bool) -> OutputNames:
        """Free names for ``source``'s image (``suffix``), JSON record and (``sidecar``) XMP; claimed until released."""
        first: tuple[Path, str] | None = None
        for index in range(_MAX_RENAMES):
            base = source.stem + ("" if index == 0 else RENAME_TAG if index == 1 else f"{RENAME_TAG}-{index}")
            names = [base + suffix, base + ".json", *([base + ".xmp"] if sidecar else [])]
            too_long = next((n for n in names if len(os.fsencode(n)) > self._name_max), None)
            if too_long is not None:
                raise EnhanceError(source, f"output name {too_long!r} is longer than the file system allows ({self._name_max} bytes)")
            paths = [self.out_dir / n for n in names]
            reasons = [(p, self._taken(p)) for p in paths]
            clash = next(((p, why) for p, why in reasons if why), None)
            if clash is None:
                self._claimed.update(_key(p) for p in paths)
                instead_of, because = first if first is not None else (None, "")
                return OutputNames(paths[0], paths[1], paths[2] if sidecar else None, instead_of, because)
            first = first or clash
        raise EnhanceError(source, f"no free output name in {self.out_dir} ({_MAX_RENAMES} tried)")

    def release(self, names: OutputNames) -> None:
        """Give back names that were claimed but not written."""
        self._claimed.difference_update(_key(p) for p in names.paths)


# --------------------------------------------------------------------------- strengths and overrides


def check_overrides(overrides: Sequence[StrengthOverride], codes: Sequence[str], sliders: Mapping[str, tuple[float, float]]) -> None:
    """Refuse, before any photo is read, what no photo could make valid (``ValueError``: a usage error).

    Checked here: operator names, slider units without a slider mapping, Temperatures outside
    the slider's range and set values out of every photo's reach. Nudges and Temperatures
    within range depend on each photo's predicted strengths or as-shot white; those are
    checked per photo.
    """
    zeros = {code: 0.0 for code in codes}
    for item in overrides:
        temperature = not item.is_strength and get_operator(item.code).change_unit == "mired"
        if item.mode == "set" and temperature:
            check_temperature(item.value)
        probe = item if item.mode == "set" and not temperature else StrengthOverride(item.code, "nudge", 0.0, item.is_strength)
        resolve_overrides([probe], zeros, sliders, None)


def describe_strengths(strengths: Mapping[str, float]) -> str:
    """``strengths BC +0.053, EX +0.098`` — for models without a slider mapping."""
    return "strengths " + ", ".join(f"{code} {value:+.3f}" for code, value in strengths.items())


def _run(model: SequentialRetoucher, image: torch.Tensor, strengths: dict[str, float] | None, keep_input: bool):
    with torch.inference_mode():
        if model.kind == "bno":  # in place, in one float32 buffer, unless the input is needed again
            return model.enhance(image, strengths, inplace=not keep_input)
        return model.enhance(image, strengths)


def _retouch(
    model: SequentialRetoucher, path: Path, photo: Photo, device: str, overrides: Sequence[StrengthOverride]
) -> tuple[np.ndarray, dict[str, float], dict[str, float] | None]:
    """Output (H, W, 3) float32, strengths used, and the overridden strengths (``None`` without ``--set``)."""
    image = torch.from_numpy(np.ascontiguousarray(photo.pixels)).permute(2, 0, 1)[None].contiguous().to(device)  # (1, 3, H, W)
    height, width = photo.pixels.shape[:2]
    try:
        chosen: dict[str, float] | None = None
        if overrides:
            _, predicted = _run(model, image, None, keep_input=True)
            predicted_values = {c: float(s[0]) for c, s in predicted.items()}
            try:
                chosen = resolve_overrides(list(overrides), predicted_values, model.config.sliders, photo.as_shot)
            except ValueError as exc:
                raise EnhanceError(path, str(exc)) from None
        out, strengths = _run(model, image, chosen, keep_input=False)
    except RuntimeError as exc:  # too narrow for the predictor, out of memory, …
        raise EnhanceError(path, f"the model cannot process this {width}×{height} image ({first_line(exc)})") from None
    return out[0].permute(1, 2, 0).cpu().numpy(), {code: float(s[0]) for code, s in strengths.items()}, chosen


# --------------------------------------------------------------------------- writing


def _write_all(files: list[tuple[Path, bytes]], source: Path) -> None:
    """Create every file (none may exist), in order; on failure remove the ones written and raise."""
    written: list[Path] = []
    try:
        for target, data in files:
            atomic_write_bytes(target, data, exclusive=True)
            written.append(target)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(exc, FileExistsError):
            raise EnhanceError(source, f"{target} appeared while writing; not replaced") from None
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise EnhanceError(source, f"cannot write {target}: {reason}") from None


def enhance_file(
    model: SequentialRetoucher,
    path: Path,
    out: OutputPlanner | Path,
    device: str,
    overrides: Sequence[StrengthOverride] = (),
    settings: OutputSettings = OutputSettings(),
    approximate: bool = False,
) -> dict:
    """Enhance one file into ``out`` (a planner shared by a batch, or a folder); return its record.

    Raises :class:`EnhanceError`, :class:`~bno.synth.io.ImageReadError` or
    :class:`~bno.synth.raw.RawDecodeError` (all one line naming ``path``); nothing of this
    photo is left on disk then.
    """
    planner = out if isinstance(out, OutputPlanner) else OutputPlanner(Path(out), [path])
    mapped = bool(model.config.sliders)
    names = planner.claim(path, settings.suffix(path), sidecar=settings.xmp and mapped)
    try:
        record, files = _render(model, path, names, device, overrides, settings, approximate)
        _write_all(files, path)
    except BaseException:
        planner.release(names)
        raise
    return record


def _render(
    model: SequentialRetoucher,
    path: Path,
    names: OutputNames,
    device: str,
    overrides: Sequence[StrengthOverride],
    settings: OutputSettings,
    approximate: bool,
) -> tuple[dict, list[tuple[Path, bytes]]]:
    """The record and the encoded files, sidecars first and the image last."""
    photo = read_photo(path)
    result, values, chosen = _retouch(model, path, photo, device, overrides)
    jpeg = names.image.suffix.lower() in _JPEG_SUFFIXES
    bit_depth = 8 if jpeg else photo.bit_depth
    image_bytes = encode_image(result, names.image.suffix, bit_depth, quality=settings.quality)
    changes = [SliderChange(code, values[code], change) for code, change in model.slider_values(values).items()]
    record = {
        "input": str(path),
        "output": str(names.image),
        "renamed": names.note() or None,
        "model": model.kind,
        "order": list(model.order),
        "strengths": values,
        "overridden": sorted(chosen or {}),
        "sliders": {c.code: c.change for c in changes},
        "edits": describe_changes(changes, photo.as_shot, approximate),
        "approximate": approximate,
        "as_shot": None if photo.as_shot is None else {"temperature": photo.as_shot.temperature, "tint": photo.as_shot.tint},
        "bit_depth": bit_depth,
        "format": names.image.suffix.lstrip(".").lower(),
        "size": [int(photo.pixels.shape[1]), int(photo.pixels.shape[0])],
    }
    files: list[tuple[Path, bytes]] = []
    if names.sidecar is not None and changes:
        record["xmp"] = str(names.sidecar)
        files.append((names.sidecar, xmp_packet(camera_raw_settings(changes, photo.as_shot)).encode("utf-8")))
    files.append((names.record, (json.dumps(record, indent=2) + "\n").encode()))
    files.append((names.image, image_bytes))
    return record, files
