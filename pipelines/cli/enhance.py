"""``bno-enhance``: run a trained BNO (or NeurOp) checkpoint on photos of any size.

The work is :func:`bno.pipelines.edit.enhance.enhance_file`; ``--set`` overrides or nudges
strengths; ``--xmp`` writes a Camera Raw sidecar ``<name>.xmp``; ``--format``/``--quality``
choose the image type. Outputs never replace an input or an existing file (a free name such
as ``photo.bno.jpg`` is used, and the output line says so). A photo that cannot be enhanced
gets one line naming it; the others still run; the exit status is then 1. Usage errors
(bad options, a bad checkpoint, an output folder that cannot be made) exit 2 before any work.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from bno.pipelines.cli.common import DEVICE, UserError, report_errors, root_options

__all__ = ["main"]

#: ``--format`` choices: the input's own type, or one named type (:data:`bno.pipelines.edit.enhance.OUTPUT_FORMATS`;
#: spelt out here so that ``--help`` need not import torch).
FORMATS = ("same", "png", "tiff", "jpeg")
DEFAULT_QUALITY = 95  # :data:`bno.synth.io.JPEG_QUALITY`
_NAMING_HELP = (
    "Outputs never replace an input or an existing file: when <name>.<ext>, <name>.json or <name>.xmp is taken, "
    "the photo's outputs are named <name>.bno.<ext>, then <name>.bno-2.<ext> …, and the output line says why."
)


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UserError(f"{out_dir}: output folder is not writable")


def _check_quality(ctx: click.Context, image_format: str) -> None:
    explicit = ctx.get_parameter_source("quality") == click.core.ParameterSource.COMMANDLINE
    if explicit and image_format in ("png", "tiff"):
        raise UserError(f"--quality applies to JPEG outputs only, not --format {image_format}")


def _load_model(checkpoint: Path | None, kind: str | None, device):
    """The model, its provenance and the name to show: ``--checkpoint``, else the weights shipped for ``--model``."""
    from bno.model import CheckpointError, checkpoint_provenance, load_checkpoint, pretrained_checkpoint, resolve_checkpoint

    try:
        path = resolve_checkpoint(checkpoint) if checkpoint is not None else pretrained_checkpoint(kind or "bno")
        model = load_checkpoint(path, map_location=device)
        provenance = checkpoint_provenance(path)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    if kind is not None and model.kind != kind:
        raise UserError(f"{checkpoint}: holds a {model.kind!r} model, not {kind!r}")
    return model, provenance, checkpoint if checkpoint is not None else f"the shipped {model.kind} weights"


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=_NAMING_HELP)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", type=click.Path(exists=True, path_type=Path), default=None,
              help="Checkpoint directory (config.json + model.safetensors), a training run directory (its best "
                   "checkpoint) or an official NeurOp .pth. Default: the weights shipped with bno for --model, "
                   "trained on the photo benchmark (they expect raws decoded at their as-shot white, or photos like them).")
@click.option("--model", "kind", type=click.Choice(["bno", "neurop"]), default=None,
              help="Without --checkpoint: which shipped weights (default bno); with it: the expected kind.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory (may hold the inputs: nothing there is replaced).")
@click.option("--format", "image_format", type=click.Choice(FORMATS), default="same", show_default=True,
              help="Image type: same as the input (raws: 16-bit TIFF), png or tiff (lossless, the input's bit depth) "
                   "or jpeg (8-bit). All carry an sRGB ICC profile.")
@click.option("--quality", type=click.IntRange(0, 100), default=DEFAULT_QUALITY, show_default=True,
              help="JPEG quality (JPEG outputs only).")
@click.option("--set", "set_text", default="", metavar="NAME=VALUE,…",
              help="Override (=) or nudge (+=, -=) strengths: slider units (EV, slider, K for white-balance) or a "
                   "strength with a trailing v, e.g. 'exposure=+0.3,vibrance=0,white-balance+=300,blacks=0.1v'.")
@click.option("--xmp", is_flag=True, help="Also write <name>.xmp: Camera Raw settings for Lightroom / darktable "
                                          "(needs a checkpoint with a slider mapping).")
@click.option("--device", type=DEVICE, default="auto", show_default=True,
              help="Where the model runs: auto (CUDA when present), cpu, cuda or cuda:N.")
@root_options
@click.pass_context
@report_errors
def main(ctx: click.Context, inputs: tuple[Path, ...], checkpoint: Path | None, kind: str | None, out_dir: Path,
         image_format: str, quality: int, set_text: str, xmp: bool, device: str) -> None:
    """Enhance INPUT images (PNG/TIFF/JPEG/raw) with BNO (or NeurOp): the shipped weights or a checkpoint."""
    from bno.model import pick_device
    from bno.pipelines.edit.enhance import EnhanceError, OutputPlanner, OutputSettings, check_overrides, describe_strengths, enhance_file
    from bno.pipelines.edit.sliders import parse_overrides
    from bno.synth.io import ImageReadError
    from bno.synth.raw import RawDecodeError

    _check_quality(ctx, image_format)
    settings = OutputSettings(image_format, quality, xmp)
    overrides = parse_overrides(set_text)
    device = pick_device(device)
    model, provenance, source = _load_model(checkpoint, kind, device)
    check_overrides(overrides, model.order, model.config.sliders)
    _check_writable(out_dir)
    debug = bool((ctx.find_root().obj or {}).get("debug"))
    if xmp and not model.config.sliders:
        click.echo(f"note: no .xmp sidecars: {source} maps no strength to a Lightroom slider "
                   "(official NeurOp weights carry none), so there are no Camera Raw settings to write", err=True)
    # Slider read-outs are exact for stage-1 operators, approximate once stage 2 has trained them.
    approximate = str(provenance.get("stage", "")) != "stage1" and bool(provenance.get("operators_trained", True))
    planner = OutputPlanner(out_dir, inputs)
    failures = 0
    for item in inputs:
        try:
            record = enhance_file(model, item, planner, device, overrides, settings, approximate)
        except (EnhanceError, ImageReadError, RawDecodeError) as exc:
            if debug:
                raise
            failures += 1
            click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
            continue
        renamed = f" ({record['renamed']})" if record["renamed"] else ""
        click.echo(f"{item} -> {record['output']}{renamed}  {record['edits'] or describe_strengths(record['strengths'])}")
    if failures:
        click.echo(f"{failures} of {len(inputs)} photos failed", err=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
