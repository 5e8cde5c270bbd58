"""``bno-synth apply``: one operator at one slider value on one raw or image, full resolution."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from bno.synth.colour_spaces import srgb_to_prophoto
from bno.synth.io import IMAGE_SUFFIXES, read_image, write_prophoto_tiff, write_srgb
from bno.synth.ops import D65_WHITE, OPERATORS, WhitePoint, get_operator
from bno.synth.ops.white_balance import white_balance
from bno.synth.raw import decode_raw, is_raw_path

from bno.pipelines.cli.common import UserError, report_errors

__all__ = ["apply", "load_linear"]

_TINT_RANGE = (-150.0, 150.0)
_OUTPUT_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def load_linear(path: Path) -> tuple[np.ndarray, WhitePoint, bool]:
    """Any input as linear ProPhoto (H, W, 3) float32, its white, and whether it is a raw.

    Raws are decoded at full resolution at their as-shot white. TIFFs are read as
    linear ProPhoto (what ``--out x.tif`` writes); PNG/JPEG as display sRGB, taken as
    balanced for D65.
    """
    if is_raw_path(path):
        decoded = decode_raw(path)
        return decoded.image, decoded.as_shot, True
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"{path}: unsupported input type {path.suffix!r} (a camera raw, PNG, JPEG or TIFF)")
    pixels = read_image(path).pixels
    if path.suffix.lower() in (".tif", ".tiff"):
        return pixels, D65_WHITE, False
    return srgb_to_prophoto(pixels), D65_WHITE, False


def _write(path: Path, image: np.ndarray) -> None:
    """``.tif``: linear ProPhoto 16-bit; ``.png``: sRGB 16-bit; ``.jpg``: sRGB 8-bit."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        write_prophoto_tiff(path, image)
    else:
        write_srgb(path, image, 16 if suffix == ".png" else 8)


@click.command(name="apply")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--op", "op_name", required=True, type=click.Choice(sorted(OPERATORS)), help="Operator to apply.")
@click.option("--value", required=True, type=float, help="Slider value (EV, K or slider units; see `bno-synth operators`).")
@click.option("--tint", type=float, default=None, help="White balance only: Tint (Adobe units); default: as shot.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help=".tif/.tiff: linear ProPhoto 16-bit; .png: sRGB 16-bit; .jpg: sRGB 8-bit.",
)
@report_errors
def apply(input_path: Path, op_name: str, value: float, tint: float | None, out_path: Path) -> None:
    """Apply one operator at one slider value to INPUT (raw or image) at full resolution."""
    operator = get_operator(op_name)
    operator.check_value(value)
    if tint is not None:
        if operator.code != "WB":
            raise UserError("--tint applies to --op white-balance only")
        if not _TINT_RANGE[0] <= tint <= _TINT_RANGE[1]:
            raise UserError(f"tint {tint:g} is outside [{_TINT_RANGE[0]:g}, {_TINT_RANGE[1]:g}]")
    if out_path.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise UserError(f"{out_path}: unsupported output type {out_path.suffix!r} (use .tif, .png or .jpg)")
    if not out_path.parent.is_dir():
        raise UserError(f"{out_path.parent}: output folder does not exist")
    if not input_path.is_file():
        raise UserError(f"{input_path}: no such file")
    image, as_shot, is_raw = load_linear(input_path)
    label = "as-shot" if is_raw else "assumed as-shot (rendered image, D65)"
    click.echo(f"{label}: {as_shot.temperature:.0f} K, tint {as_shot.tint:+.1f}")
    if operator.code == "WB":
        result = white_balance(image, value, tint, as_shot)
    else:
        result = operator.apply(image, value, as_shot)
    _write(out_path, result)
    click.echo(f"wrote {out_path} ({operator.slider} {value:g} {operator.unit})")
