"""``bno-synth``: synthesise Lightroom-equivalent operator data from camera raws."""

from __future__ import annotations

import click

from bno.synth.ops import OPERATORS

from bno.pipelines.cli.apply import apply
from bno.pipelines.cli.generate import audit_command, generate_command, pairs_command, preview_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Decode raws, apply Lightroom-equivalent operators, write and audit training data."""
    ctx.obj = {"debug": debug}


@main.command(name="operators")
def operators() -> None:
    """List the registered operators, their sliders, units, ranges and default schedules."""
    click.echo(f"{'name':<14} {'code':<4} {'slider':<12} {'unit':<7} {'range':<18} levels")
    for op in OPERATORS.values():
        low, high = op.slider_range
        click.echo(f"{op.name:<14} {op.code:<4} {op.slider:<12} {op.unit:<7} {f'[{low:g}, {high:g}]':<18} {op.default_levels}")


main.add_command(apply)
main.add_command(generate_command)
main.add_command(audit_command)
main.add_command(pairs_command)
main.add_command(preview_command)

if __name__ == "__main__":
    main()
