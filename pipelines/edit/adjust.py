"""One operator at one slider value on a whole photo (``bno-synth apply``): read, adjust, write.

Raws are decoded at full resolution at their as-shot white; TIFFs are read as linear ProPhoto
(what a ``.tif`` output holds); PNG/JPEG as display sRGB, taken as balanced for D65 (so white
balance is relative to D65 there). Outputs: ``.tif`` linear ProPhoto 16-bit, ``.png`` sRGB
16-bit, ``.jpg`` sRGB 8-bit, each with its ICC profile, written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bno.synth.colour_spaces import srgb_to_prophoto
from bno.synth.io import IMAGE_SUFFIXES, read_image, write_prophoto_tiff, write_srgb
from bno.synth.ops import D65_WHITE, WhitePoint, get_operator
from bno.synth.ops.white_balance import white_balance
from bno.synth.raw import decode_raw, is_raw_path

__all__ = ["OUTPUT_SUFFIXES", "TINT_RANGE", "adjust", "check_request", "load_linear", "write_linear"]

#: Adobe Tint slider range.
TINT_RANGE = (-150.0, 150.0)
#: Output types ``bno-synth apply`` writes.
OUTPUT_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def check_request(operator_name: str, value: float, tint: float | None, out_path: Path) -> None:
    """Refuse, before any work, a value off the slider, a tint on another operator or out of range,
    or an output type or folder that cannot be written (``ValueError``/``FileNotFoundError``, one line)."""
    operator = get_operator(operator_name)
    operator.check_value(value)
    if tint is not None:
        if operator.change_unit != "mired":
            raise ValueError("--tint applies to --op white-balance only")
        if not TINT_RANGE[0] <= tint <= TINT_RANGE[1]:
            raise ValueError(f"tint {tint:g} is outside [{TINT_RANGE[0]:g}, {TINT_RANGE[1]:g}]")
    if out_path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"{out_path}: unsupported output type {out_path.suffix!r} (use .tif, .png or .jpg)")
    if not out_path.parent.is_dir():
        raise FileNotFoundError(f"{out_path.parent}: output folder does not exist")


def load_linear(path: Path) -> tuple[np.ndarray, WhitePoint, bool]:
    """Any input as linear ProPhoto ``(H, W, 3)`` float32, its white, and whether it is a raw."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if is_raw_path(path):
        decoded = decode_raw(path)
        return decoded.image, decoded.as_shot, True
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: unsupported input type {path.suffix!r} (a camera raw, PNG, JPEG or TIFF)")
    pixels = read_image(path).pixels
    if path.suffix.lower() in (".tif", ".tiff"):
        return pixels, D65_WHITE, False
    return srgb_to_prophoto(pixels), D65_WHITE, False


def adjust(image: np.ndarray, operator_name: str, value: float, tint: float | None, as_shot: WhitePoint) -> np.ndarray:
    """The operator at slider ``value`` (white balance: Temperature ``value`` K and ``tint``, default as shot)."""
    operator = get_operator(operator_name)
    if operator.change_unit == "mired":
        return white_balance(image, value, tint, as_shot)
    return operator.apply(image, value, as_shot)


def write_linear(path: Path, image: np.ndarray) -> None:
    """``.tif``: linear ProPhoto 16-bit; ``.png``: sRGB 16-bit; ``.jpg``: sRGB 8-bit."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        write_prophoto_tiff(path, image)
    else:
        write_srgb(path, image, 16 if suffix == ".png" else 8)
