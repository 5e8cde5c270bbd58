"""``bno-synth apply``: one operator at one slider value on one raw or image, full resolution.

The work is :mod:`bno.pipelines.edit.adjust`; every bad input is one line and exit status 2,
and no output file is left behind.
"""

from __future__ import annotations

from pathlib import Path

import click

from bno.pipelines.cli.common import OperatorType, report_errors

__all__ = ["apply"]


@click.command(name="apply")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--op", "op_name", required=True, type=OperatorType(), help="Operator to apply: name or code (see `bno-synth operators`).")
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
    from bno.pipelines.edit.adjust import adjust, check_request, load_linear, write_linear
    from bno.synth.ops import get_operator

    check_request(op_name, value, tint, out_path)
    image, as_shot, is_raw = load_linear(input_path)
    label = "as-shot" if is_raw else "assumed as-shot (rendered image, D65)"
    click.echo(f"{label}: {as_shot.temperature:.0f} K, tint {as_shot.tint:+.1f}")
    write_linear(out_path, adjust(image, op_name, value, tint, as_shot))
    operator = get_operator(op_name)
    click.echo(f"wrote {out_path} ({operator.slider} {value:g} {operator.unit})")
