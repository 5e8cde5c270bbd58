"""``bno-demo``: the whole story on the bundled samples, in one command, as one HTML report.

The steps and the report are :mod:`bno.pipelines.demo.workflow`.
"""

from __future__ import annotations

from pathlib import Path

import click

from bno.pipelines.cli.common import report_errors, root_options
from bno.pipelines.demo.workflow import SAMPLES, StepFailed, run_demo

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"), show_default=True, help="Output folder.")
@click.option("--raws", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SAMPLES / "raws", show_default=True, help="Camera raws.")
@click.option("--targets", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SAMPLES / "expert", show_default=True, help="Expert renders, matched by name.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training config override for both models, e.g. stage1.epochs=1 (repeatable).")
@root_options
@report_errors(also=(StepFailed,))
def main(out: Path, raws: Path, targets: Path, overrides: tuple[str, ...]) -> None:
    """Generate → stage 1 → stage 2 (BNO and NeurOp) → evaluate → enhance → OUT/report.html."""
    report = run_demo(out, raws, targets, overrides)
    click.echo(f"report: {report}")


if __name__ == "__main__":
    main()
