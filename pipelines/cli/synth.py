"""``bno-synth``: synthesise Lightroom-equivalent operator data from camera raws."""

from __future__ import annotations

import click
from tabulate import tabulate

from bno.pipelines.cli.apply import apply
from bno.pipelines.cli.common import root_options
from bno.pipelines.cli.generate import audit_command, generate_command, pairs_command, preview_command
from bno.pipelines.cli.photoset import photoset_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@root_options
def main() -> None:
    """Decode raws, apply Lightroom-equivalent operators, write and audit training data."""


@main.command(name="operators")
def operators() -> None:
    """List the registered operators, their sliders, units, ranges and default schedules."""
    from bno.synth.ops import OPERATORS

    rows = [
        (op.name, op.code, op.slider, op.unit, f"[{op.slider_range[0]:g}, {op.slider_range[1]:g}]", op.default_levels,
         f"{op.strength_span():g} {op.change_unit}", op.camera_raw_key)
        for op in OPERATORS.values()
    ]
    click.echo(tabulate(rows, ("name", "code", "slider", "unit", "range", "levels", "strength +1", "Camera Raw")))


main.add_command(apply)
main.add_command(generate_command)
main.add_command(audit_command)
main.add_command(pairs_command)
main.add_command(preview_command)
main.add_command(photoset_command)

if __name__ == "__main__":
    main()
