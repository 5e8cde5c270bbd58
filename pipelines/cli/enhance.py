"""``bno-enhance``: run a trained BNO (or NeurOp) checkpoint on photos of any size.

The work is :func:`bno.pipelines.edit.enhance.enhance_file`; ``--set`` overrides or nudges
strengths; ``--xmp`` writes a Camera Raw sidecar ``<name>.xmp``. An unreadable input gets a
one-line error; the others still run; the exit status is then 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import torch

from bno.model import CheckpointError, checkpoint_provenance, load_checkpoint, resolve_checkpoint
from bno.synth.io import ImageReadError
from bno.synth.raw import RawDecodeError

from bno.pipelines.cli.common import UserError, report_errors
from bno.pipelines.edit.enhance import enhance_file
from bno.pipelines.edit.sliders import parse_overrides, resolve_overrides

__all__ = ["main"]


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UserError(f"{out_dir}: output folder is not writable")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(exists=True, path_type=Path),
              help="Checkpoint directory (config.json + model.safetensors), a training run directory (its best "
                   "checkpoint) or an official NeurOp .pth.")
@click.option("--model", "kind", type=click.Choice(["bno", "neurop"]), default=None,
              help="Expected model kind; an error if the checkpoint holds the other one.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory.")
@click.option("--set", "set_text", default="", metavar="NAME=VALUE,…",
              help="Override (=) or nudge (+=, -=) strengths: slider units (EV, slider, K for white-balance) or a "
                   "strength with a trailing v, e.g. 'exposure=+0.3,vibrance=0,white-balance+=300,blacks=0.1v'.")
@click.option("--xmp", is_flag=True, help="Also write <name>.xmp: Camera Raw settings for Lightroom / darktable.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
@report_errors
def main(ctx: click.Context, inputs: tuple[Path, ...], checkpoint: Path, kind: str | None, out_dir: Path,
         set_text: str, xmp: bool, device: str, debug: bool) -> None:
    """Enhance INPUT images (PNG/TIFF/JPEG/raw) with a trained checkpoint."""
    ctx.obj = {"debug": debug}
    overrides = parse_overrides(set_text)
    _check_writable(out_dir)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        path = resolve_checkpoint(checkpoint)
        model = load_checkpoint(path, map_location=device)
        provenance = checkpoint_provenance(path)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    if kind is not None and model.kind != kind:
        raise UserError(f"{checkpoint}: holds a {model.kind!r} model, not {kind!r}")
    if overrides:  # names and reachability checked before any work
        resolve_overrides(overrides, {code: 0.0 for code in model.order}, model.config.sliders, None)
    # Slider read-outs are exact for stage-1 operators, approximate once stage 2 has trained them.
    approximate = str(provenance.get("stage", "")) != "stage1" and bool(provenance.get("operators_trained", True))
    failures = 0
    for item in inputs:
        try:
            record = enhance_file(model, item, out_dir, device, overrides, xmp, approximate)
        except (ImageReadError, RawDecodeError) as exc:
            failures += 1
            click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
            continue
        click.echo(f"{item} -> {record['output']}  {record['edits'] or record['strengths']}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
