"""``bno-enhance``: run a trained BNO (or NeurOp) checkpoint on photos of any size.

Reads 8/16-bit PNG, TIFF, JPEG and camera raws (decoded at their as-shot white and shown
as display sRGB), writes the enhanced image at the input's bit depth (raws: 16-bit TIFF)
and ``<name>.json`` with each operator's strength and its equivalent Lightroom slider
change (:mod:`bno.pipelines.edit.sliders`; marked approximate once stage 2 has fine-tuned the
operators). ``--set`` overrides or nudges strengths; ``--xmp`` writes a Camera Raw
sidecar ``<name>.xmp``. An unreadable input gets a one-line error; the others still run;
the exit status is then 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import numpy as np
import torch

from bno.model import CheckpointError, SequentialRetoucher, checkpoint_provenance, load_checkpoint
from bno.synth.colour_spaces import prophoto_to_srgb
from bno.synth.io import ImageReadError, atomic_write_bytes, read_image, write_image
from bno.synth.ops import WhitePoint
from bno.synth.raw import RawDecodeError, decode_raw, is_raw_path

from bno.pipelines.cli.common import UserError, report_errors
from bno.pipelines.edit.sliders import SliderChange, StrengthOverride, camera_raw_settings, describe_changes, parse_overrides, resolve_overrides
from bno.pipelines.train.runs import resolve_checkpoint
from bno.pipelines.edit.xmp import write_xmp

__all__ = ["enhance_file", "main"]


def _read(path: Path) -> tuple[np.ndarray, int, str, WhitePoint | None]:
    """Pixels (H, W, 3) float32 display RGB in [0, 1], bit depth, output suffix, as-shot white (raws)."""
    if is_raw_path(path):
        decoded = decode_raw(path)
        return prophoto_to_srgb(decoded.image), 16, ".tif", decoded.as_shot
    loaded = read_image(path)
    return loaded.pixels, loaded.bit_depth, path.suffix, None


def _run(model: SequentialRetoucher, image: torch.Tensor, strengths: dict[str, float] | None, keep_input: bool):
    with torch.inference_mode():
        if model.kind == "bno":  # in place, in one float32 buffer, unless the input is needed again
            return model.enhance(image, strengths, inplace=not keep_input)
        return model.enhance(image, strengths)


def enhance_file(
    model: SequentialRetoucher,
    path: Path,
    out_dir: Path,
    device: str,
    overrides: list[StrengthOverride] = (),
    xmp: bool = False,
    approximate: bool = False,
) -> dict:
    """Enhance one file; write the image, ``<stem>.json`` (and ``<stem>.xmp``); return the record."""
    pixels, bit_depth, suffix, as_shot = _read(path)
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].contiguous().to(device)  # (1, 3, H, W)
    chosen: dict[str, float] | None = None
    if overrides:
        _, predicted = _run(model, image, None, keep_input=True)
        chosen = resolve_overrides(overrides, {c: float(s[0]) for c, s in predicted.items()}, model.config.sliders, as_shot)
    out, strengths = _run(model, image, chosen, keep_input=False)
    result = out[0].permute(1, 2, 0).cpu().numpy()
    target = out_dir / f"{path.stem}{suffix}"
    write_image(target, result, bit_depth if suffix.lower() not in (".jpg", ".jpeg") else 8)
    values = {code: float(s[0]) for code, s in strengths.items()}
    changes = [SliderChange(code, values[code], change) for code, change in model.slider_values(values).items()]
    record = {
        "input": str(path),
        "output": str(target),
        "model": model.kind,
        "order": list(model.order),
        "strengths": values,
        "overridden": sorted(chosen or {}),
        "sliders": {c.code: c.change for c in changes},
        "edits": describe_changes(changes, as_shot, approximate),
        "approximate": approximate,
        "as_shot": None if as_shot is None else {"temperature": as_shot.temperature, "tint": as_shot.tint},
        "bit_depth": bit_depth,
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
    }
    if xmp and changes:
        record["xmp"] = str(write_xmp(out_dir / f"{path.stem}.xmp", camera_raw_settings(changes, as_shot)))
    atomic_write_bytes(out_dir / f"{path.stem}.json", (json.dumps(record, indent=2) + "\n").encode())
    return record


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
