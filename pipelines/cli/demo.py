"""``bno-demo``: the whole story on the bundled samples, in one command, as one HTML report.

The steps, their progress display and the report are :mod:`bno.pipelines.demo`.
"""

from __future__ import annotations

from pathlib import Path

import click

import bno
from bno.pipelines.cli.common import report_errors, root_options

#: The bundled samples (package data).
SAMPLES = bno.resource_path("samples")

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"), show_default=True, help="Output folder.")
@click.option("--raws", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SAMPLES / "raws", show_default=True, help="Camera raws.")
@click.option("--targets", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SAMPLES / "expert", show_default=True, help="Expert renders, matched by name.")
@click.option("--quick", is_flag=True, help="A first look in about a third of the full demo's time: a small training budget and 11 operator levels; the report says so.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training config override for both models, e.g. stage1.epochs=1 (repeatable).")
@click.option("--heartbeat", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="When stderr is not a terminal: seconds between progress lines within a long step (0: one line per step only).")
@root_options
@report_errors(also=(RuntimeError,))  # a step that failed: StepFailed, naming the step and the log
def main(out: Path, raws: Path, targets: Path, quick: bool, overrides: tuple[str, ...], heartbeat: float) -> None:
    """Generate → stage 1 → stage 2 (BNO and NeurOp) → evaluate → enhance → OUT/report.html.

    Progress (step k of n, elapsed, time left, the step's last line) goes to stderr; each step's
    whole output to OUT/demo.log.
    """
    from bno.pipelines.demo.workflow import run_demo

    report = run_demo(out, raws, targets, overrides, quick=quick, heartbeat=heartbeat)
    click.echo(f"report: {report}")


if __name__ == "__main__":
    main()
