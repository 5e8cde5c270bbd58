"""``bno-enhance``: run a trained BNO (or NeurOp) checkpoint on photos of any size.

Reads 8/16-bit PNG, TIFF, JPEG and camera raws (through ``synth.raw.render_display``:
camera white balance, display sRGB), writes the enhanced image at the input's bit depth
(raws: 16-bit TIFF) and ``<name>.json`` with each operator's predicted strength (and the
Lightroom slider value when the checkpoint knows the mapping). An unreadable input gets
a one-line error; the others still run; the exit status is then 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import torch

from model import CheckpointError, SequentialRetoucher, load_checkpoint
from synth.io import ImageReadError, read_image, write_image
from synth.raw import RawDecodeError, is_raw_path, render_display


def _read(path: Path) -> tuple[np.ndarray, int, str]:
    """Pixels (H, W, 3) float32 display RGB in [0, 1], bit depth and output suffix."""
    if is_raw_path(path):
        return render_display(path), 16, ".tif"
    loaded = read_image(path)
    return loaded.pixels, loaded.bit_depth, path.suffix


def enhance_file(model: SequentialRetoucher, path: Path, out_dir: Path, device: str) -> dict:
    pixels, bit_depth, suffix = _read(path)
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].to(device)  # (1, 3, H, W)
    with torch.inference_mode():
        if model.kind == "bno":
            out, strengths = model.enhance(image.contiguous(), inplace=True)
        else:
            out, strengths = model.enhance(image)
    result = out[0].permute(1, 2, 0).cpu().numpy()
    target = out_dir / f"{path.stem}{suffix}"
    write_image(target, result, bit_depth if suffix.lower() not in (".jpg", ".jpeg") else 8)
    values = {code: float(s[0]) for code, s in strengths.items()}
    record = {
        "input": str(path),
        "output": str(target),
        "model": model.kind,
        "order": list(model.order),
        "strengths": values,
        "sliders": model.slider_values(values),
        "bit_depth": bit_depth,
        "size": [int(pixels.shape[1]), int(pixels.shape[0])],
    }
    (out_dir / f"{path.stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", required=True, type=click.Path(exists=True, path_type=Path),
              help="Checkpoint directory (config.json + model.safetensors) or an official NeurOp .pth.")
@click.option("--model", "kind", type=click.Choice(["bno", "neurop"]), default=None,
              help="Expected model kind; an error if the checkpoint holds the other one.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
def main(inputs: tuple[Path, ...], checkpoint: Path, kind: str | None, out_dir: Path, device: str) -> None:
    """Enhance INPUT images (PNG/TIFF/JPEG/raw) with a trained checkpoint."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        model = load_checkpoint(checkpoint, map_location=device)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    if kind is not None and model.kind != kind:
        raise click.ClickException(f"{checkpoint}: holds a {model.kind!r} model, not {kind!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for path in inputs:
        try:
            record = enhance_file(model, path, out_dir, device)
        except (ImageReadError, RawDecodeError) as exc:
            failures += 1
            click.echo(f"error: {str(exc).splitlines()[0]}", err=True)
            continue
        strengths = " ".join(f"{c}={v:+.3f}" for c, v in record["strengths"].items())
        click.echo(f"{path} -> {record['output']}  {strengths}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
