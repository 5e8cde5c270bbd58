"""``bno-train evaluate``: metrics of a trained model (or the identity) on a paired test set.

For every test pair (inputs and targets matched by id, full images) the model's output
is compared with the target by :mod:`bno.synth.metrics` (PSNR, SSIM, ΔE76, ΔE2000) and :mod:`bno.pipelines.evaluate.metrics` (
LPIPS when its weights are local). Written into the output folder:

* ``per_image.csv`` — one row per image: id, files, metrics, predicted strengths;
* ``summary.json`` — the mean of each metric (what ``--json`` also writes);
* ``strips/{best,worst}-N-<id>.png`` — Input | Output | Target | |diff|×4 (as in the seed)
  for the images with the highest and the lowest PSNR.

With ``fit=True`` (``--fit-strengths``) the chain runs at per-image strengths fitted to the target
(:mod:`bno.pipelines.evaluate.fit_strengths`, the frozen operators' ceiling): ``strength_<op>`` columns
hold the fitted strengths, ``predicted_<op>`` the predictor's (on the fitting copy),
``psnr_predicting_<op>`` the PSNR with every strength fitted but ``<op>``'s, which the predictor
chooses from the image it gets; the summary adds ``strength_gap_<op>`` = mean |fitted − predicted|
and ``cost_of_predicting_<op>`` = mean(psnr − psnr_predicting_<op>), dB — what one operator's
predicted strength costs when the others are right (the costs overlap: they do not add up to the
gap between the ceiling and the model) — and ``strengths.png`` plots fitted against predicted
strength per operator.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tabulate import tabulate

from bno.model import SequentialRetoucher, load_checkpoint, resolve_checkpoint
from bno.model.devices import pick_device

from bno.pipelines.evaluate.fit_strengths import fit_strengths, plot_strengths
from bno.pipelines.evaluate.metrics import LpipsMetric, lpips_status
from bno.synth.metrics import HIGHER_IS_BETTER, METRICS, psnr
from bno.pipelines.data.paired import load_paired_data, to_float, to_tensor
from bno.files import atomic_write_bytes
from bno.synth.io import read_image, write_image

__all__ = ["DIFF_GAIN", "evaluate", "format_table", "strip_image"]

#: |output − target| is multiplied by this in the comparison strips so that errors are visible.
DIFF_GAIN = 4.0


def strip_image(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Concatenate ``(H, W, 3)`` images left to right with white gaps → ``(H, ΣW + gaps, 3)``."""
    h = images[0].shape[0]
    parts = []
    for i, image in enumerate(images):
        if i:
            parts.append(np.ones((h, gap, 3), dtype=np.float32))
        parts.append(np.clip(image, 0, 1).astype(np.float32))
    return np.concatenate(parts, axis=1)


def _run_model(
    model: SequentialRetoucher | None, image: np.ndarray, target: np.ndarray, device: torch.device, fit: bool
) -> tuple[np.ndarray, dict[str, float]]:
    """The model's output ``(H, W, 3)`` and its columns: ``strength_<op>`` (+ ``predicted_<op>`` when fitting)."""
    if model is None:
        return image, {}
    x = to_tensor(image)[None].to(device)
    columns: dict[str, float] = {}
    strengths = None
    if fit:
        strengths, predicted = fit_strengths(model, x, to_tensor(target)[None].to(device))
        columns.update({f"predicted_{code}": value for code, value in predicted.items()})
        for code in model.order:  # every strength fitted but this one's, which the predictor chooses
            others, _ = model.enhance(x, {c: v for c, v in strengths.items() if c != code})
            columns[f"psnr_predicting_{code}"] = psnr(_pixels(others), target)
    out, used = model.enhance(x, strengths)
    columns.update({f"strength_{code}": float(s.reshape(-1)[0]) for code, s in used.items()})
    return _pixels(out), columns


def _pixels(batch: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` → ``(H, W, 3)`` float32 in [0, 1]."""
    return batch[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def _lpips_or_none(use_lpips: bool, log) -> LpipsMetric | None:
    if not use_lpips:
        return None
    ok, reason = lpips_status()
    if not ok:
        log(reason)
        return None
    return LpipsMetric()


def score_pairs(
    model: SequentialRetoucher | None, items: list[tuple[str, Path, Path]], device: torch.device, fit: bool, lpips_fn: LpipsMetric | None
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One row per pair (id, paths, every metric, strengths) and each output ``(H, W, 3)`` by id."""
    rows: list[dict[str, Any]] = []
    outputs: dict[str, np.ndarray] = {}
    for key, input_path, target_path in items:
        x = to_float(read_image(input_path).pixels)
        y = to_float(read_image(target_path).pixels)
        if x.shape != y.shape:
            raise ValueError(f"{input_path} is {x.shape[:2]} but its target {target_path} is {y.shape[:2]}")
        output, columns = _run_model(model, x, y, device, fit)
        row: dict[str, Any] = {"id": key, "input": str(input_path), "target": str(target_path)}
        row.update({name: fn(output, y) for name, fn in METRICS.items()})
        if lpips_fn is not None:
            row["lpips"] = lpips_fn(output, y)
        rows.append({**row, **columns})
        outputs[key] = output
    return rows, outputs


def write_per_image_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """``per_image.csv``: one row per image, every column any row has (atomically)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return path


def write_strips(rows: list[dict[str, Any]], outputs: dict[str, np.ndarray], folder: Path, count: int) -> list[str]:
    """Input | Output | Target | ×DIFF_GAIN |diff| strips of the ``count`` best and worst images by PSNR."""
    ranked = sorted(rows, key=lambda r: r["psnr"], reverse=True)
    count = min(count, len(ranked))
    written = []
    for label, chosen in (("best", ranked[:count]), ("worst", ranked[::-1][:count])):
        for rank, row in enumerate(chosen, 1):
            x, y = (to_float(read_image(row[key]).pixels) for key in ("input", "target"))
            output = outputs[row["id"]]
            name = folder / f"{label}-{rank}-{row['id']}.png"
            write_image(name, strip_image([x, output, y, np.abs(output - y) * DIFF_GAIN]), 8)
            written.append(str(name))
    return written


def summarise(rows: list[dict[str, Any]], metric_names: list[str], model: SequentialRetoucher | None, fit: bool) -> dict[str, Any]:
    """Mean of each metric; with fitted strengths also the mean |fitted − predicted| per operator."""
    summary: dict[str, Any] = {name: float(np.mean([r[name] for r in rows])) for name in metric_names}
    if fit and model is not None:
        for code in model.order:
            summary[f"strength_gap_{code}"] = float(np.mean([abs(r[f"strength_{code}"] - r[f"predicted_{code}"]) for r in rows]))
            summary[f"cost_of_predicting_{code}"] = float(np.mean([r["psnr"] - r[f"psnr_predicting_{code}"] for r in rows]))
    return summary


def evaluate(
    checkpoint: str | os.PathLike[str] | None,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str = "test",
    strips: int = 2,
    device: str = "auto",
    use_lpips: bool = True,
    limit: int = 0,
    fit: bool = False,
    log=print,
) -> dict[str, Any]:
    """Evaluate a checkpoint/run (``None`` = identity: input vs target) on ``data``'s ``split``.

    ``fit``: score per-image strengths fitted to the target instead of the predicted ones.
    Writes ``per_image.csv``, ``summary.json`` and ``strips/`` into ``out``; returns the summary
    ``{metric: mean, ..., "images": n, "per_image_csv": path, ...}``.
    """
    if fit and checkpoint is None:
        raise ValueError("fitting strengths needs a checkpoint (the identity has no strengths)")
    items = getattr(load_paired_data(data), split)
    if not items:
        raise ValueError(f"{data}: no {split}A/{split}B pairs to evaluate")
    items = items[:limit] if limit else items
    dev = pick_device(device)
    path = None if checkpoint is None else resolve_checkpoint(checkpoint)
    model = None if path is None else load_checkpoint(path, map_location=dev)
    lpips_fn = _lpips_or_none(use_lpips, log)
    out = Path(out)
    (out / "strips").mkdir(parents=True, exist_ok=True)
    rows, outputs = score_pairs(model, items, dev, fit, lpips_fn)
    summary = summarise(rows, [*METRICS, *(["lpips"] if lpips_fn is not None else [])], model, fit)
    if fit:
        summary["strength_plot"] = str(plot_strengths(rows, model.order, out / "strengths.png"))
    summary.update(
        images=len(rows),
        split=split,
        data=str(Path(data)),
        checkpoint="identity" if path is None else str(path),
        strengths="fitted" if fit else ("none" if model is None else "predicted"),
        per_image_csv=str(write_per_image_csv(rows, out / "per_image.csv")),
        strips=write_strips(rows, outputs, out / "strips", strips),
    )
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
    return summary


def format_table(summaries: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per evaluated model, one column per metric (↑/↓ marks)."""
    metrics = [m for m in (*METRICS, "lpips") if any(m in s for s in summaries.values())]
    header = ("model", *(f"{m} {'↑' if HIGHER_IS_BETTER[m] else '↓'}" for m in metrics), "images")
    rows = [
        (name, *(f"{s[m]:.4f}" if m == "ssim" else f"{s[m]:.2f}" if m in s else "—" for m in metrics), s["images"])
        for name, s in summaries.items()
    ]
    return tabulate(rows, header, tablefmt="github", disable_numparse=True)
