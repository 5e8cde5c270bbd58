"""The demo's report, result first: what the run found, then how it got there, the timings last.

1. **Result** — one sentence read off the metrics (:func:`reading`: which model is best on PSNR
   and on ΔE76 and by how much over the identity), the metrics table (identity / NeurOp / BNO)
   and a before/after of the test image with BNO's median PSNR;
2. **Every test raw** — as shot | NeurOp | BNO | target, and BNO's slider read-outs;
3. **Training** — loss and held-out PSNR per epoch of both models (:func:`training_figure`,
   integer epoch ticks) and stage 1's held-out PSNR per operator;
4. **Evaluation strips** — BNO's best and worst test images with |output − target| × gain;
5. **Operator data** — a contact sheet per operator whose labels are text
   (:func:`slider_label`: ``Exposure −2.0 EV``, ``Temperature 5500 K``, ``Blacks −100``);
6. **Steps and timings** — every command with its wall time, the load average around the run.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from bno.synth.colour_spaces import prophoto_to_srgb
from bno.synth.io import read_image
from bno.synth.ops import WhitePoint, get_operator
from bno.synth.raw import decode_raw

from bno.pipelines.data.manifest import read_manifest
from bno.pipelines.demo.progress import format_duration
from bno.pipelines.demo.report import ImageSource, Report
from bno.pipelines.demo.targets import expert_render
from bno.pipelines.demo.workflow import SAMPLES
from bno.pipelines.edit.sliders import warmer_temperature
from bno.pipelines.evaluate.evaluation import DIFF_GAIN

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bno.pipelines.demo.workflow import Run

__all__ = ["METRICS", "MODEL_NAMES", "reading", "signed", "slider_change", "slider_label", "training_figure", "write_report"]

#: How each evaluated model is called in the report.
MODEL_NAMES = {"identity": "the identity", "neurop": "NeurOp", "bno": "BNO"}
#: (summary key, label, unit, higher is better, decimals) of the metrics table; the first two are read out.
METRICS = (
    ("psnr", "PSNR", "dB", True, 2),
    ("delta_e76", "ΔE76", "", False, 2),
    ("ssim", "SSIM", "", True, 3),
    ("delta_e2000", "ΔE2000", "", False, 2),
)
_READ_OUT = 2  # PSNR and ΔE76
_MINUS = "\u2212"
_SHEET_SCENES, _SHEET_LEVELS, _TILE_HEIGHT = 4, 7, 72
_MODEL_STYLE = {"bno": "-", "neurop": "--"}


# --------------------------------------------------------------------------- labels

def signed(value: float, decimals: int = 0) -> str:
    """``+2.0``, ``−100``, ``0`` — a typographic minus, a plus sign, none for zero.

    >>> signed(-2, 1), signed(35.2), signed(-0.04, 1)
    ('−2.0', '+35', '0.0')
    """
    text = f"{abs(value):.{decimals}f}"
    if float(text) == 0:
        return text
    return (_MINUS if value < 0 else "+") + text


def _ev_decimals(value: float) -> int:
    """One decimal for EV unless the value needs two (−1.25 EV)."""
    return 1 if abs(round(value, 1) - value) < 1e-6 else 2


def slider_label(code: str, value: float) -> str:
    """A slider setting as Lightroom shows it: ``Exposure −2.0 EV``, ``Temperature 5500 K``, ``Blacks −100``.

    >>> slider_label("EX", -2), slider_label("WB", 5499.98), slider_label("BC", -100), slider_label("VB", 0)
    ('Exposure −2.0 EV', 'Temperature 5500 K', 'Blacks −100', 'Vibrance 0')
    """
    op = get_operator(code)
    if op.unit == "K":
        return f"{op.slider} {round(value)} K"
    if op.unit == "EV":
        return f"{op.slider} {signed(value, _ev_decimals(value))} EV"
    return f"{op.slider} {signed(value)}"


def slider_change(code: str, change: float, as_shot: WhitePoint | None) -> str:
    """A read-out as a slider setting: Temperature absolute from the raw's as-shot white
    (``6058 K (+14 mired)``), the others as changes (``−0.42 EV``, ``+4``).

    >>> slider_change("EX", -0.4151, None), slider_change("WB", 13.5, WhitePoint(5600.0, 0.0))
    ('−0.42 EV', '6058 K (+14 mired)')
    """
    op = get_operator(code)
    if op.change_unit == "mired":
        if as_shot is None:
            return f"{signed(change)} mired"
        return f"{round(warmer_temperature(as_shot, change))} K ({signed(change)} mired)"
    if op.unit == "EV":
        return f"{signed(change, 2)} EV"
    return signed(change)


def _metric(value: float, unit: str, decimals: int) -> str:
    return f"{value:.{decimals}f}" + (f" {unit}" if unit else "")


# --------------------------------------------------------------------------- the reading

def _best(values: Mapping[str, float], higher: bool) -> str:
    return max(values, key=lambda name: values[name] if higher else -values[name])


def _clause(values: Mapping[str, float], label: str, unit: str, higher: bool, decimals: int, previous: str | None) -> tuple[str, str | None]:
    """One metric's clause of :func:`reading` and the model it names best (``None``: the identity)."""
    def shown(value: float) -> str:
        return _metric(value, unit, decimals)

    base, best = values["identity"], _best(values, higher)
    if best == "identity" or shown(values[best]) == shown(base):
        others = ", ".join(f"{MODEL_NAMES[name]} {shown(value)}" for name, value in values.items() if name != "identity")
        return f"neither model improves on the identity's {label} of {shown(base)} ({others})", None
    others = ", ".join(f"{MODEL_NAMES[name]} {shown(value)}" for name, value in values.items() if name not in (best, "identity"))
    subject = "it is also" if best == previous else f"{MODEL_NAMES[best]} is"
    text = (f"{subject} best on {label} with {shown(values[best])}, {shown(abs(values[best] - base))} "
            f"{'above' if higher else 'below'} the identity's {shown(base)}" + (f" ({others})" if others else ""))
    return text, best


def reading(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """One sentence read off the metrics of ``{"identity"|"neurop"|"bno": summary}``.

    For PSNR and ΔE76: the best model, its value and how far it is from the identity (or that
    no model beats the identity), with the other model's value for comparison.

    >>> reading({"identity": {"psnr": 20.0, "delta_e76": 9.0, "images": 8}, "neurop": {"psnr": 21.5, "delta_e76": 9.5},
    ...          "bno": {"psnr": 22.25, "delta_e76": 8.0}})
    "On the 8 test images, BNO is best on PSNR with 22.25 dB, 2.25 dB above the identity's 20.00 dB (NeurOp 21.50 dB); it is also best on ΔE76 with 8.00, 1.00 below the identity's 9.00 (NeurOp 9.50)."
    """
    images = int(summaries["identity"].get("images") or 0)
    clauses, previous = [], None
    for key, label, unit, higher, decimals in METRICS[:_READ_OUT]:
        values = {name: float(summary[key]) for name, summary in summaries.items() if isinstance(summary.get(key), (int, float))}
        if "identity" in values:
            clause, previous = _clause(values, label, unit, higher, decimals, previous)
            clauses.append(clause)
    return f"On the {images} test image{'' if images == 1 else 's'}, " + "; ".join(clauses) + "."


# --------------------------------------------------------------------------- figures

def _png(figure: Figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def _series(records: Sequence[Mapping[str, Any]], splits: tuple[str, ...], key: str, op: str | None) -> tuple[list[int], list[float]]:
    points = sorted((int(r["epoch"]), float(r[key])) for r in records
                    if r.get("split") in splits and r.get("op") == op and isinstance(r.get(key), (int, float)))
    return [p[0] for p in points], [p[1] for p in points]


def training_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]], stage: int) -> Figure:
    """Training loss and held-out PSNR per epoch of each model's ``metrics.jsonl`` records
    (``runs``: model → records); stage 1 plots PSNR per operator. Epoch ticks are integers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 3.8))
    ops = sorted({str(r["op"]) for records in runs.values() for r in records if r.get("op")}) if stage == 1 else []
    colours = {op: f"C{i}" for i, op in enumerate(ops)}
    for model, records in runs.items():
        style, name = _MODEL_STYLE.get(model, "-"), MODEL_NAMES.get(model, model)
        ax_loss.plot(*_series(records, ("train",), "loss", None), style, marker="o", markersize=3, label=name)
        if stage == 1:
            for op in ops:
                xs, ys = _series(records, ("test",), "psnr", op)
                if xs:
                    ax_psnr.plot(xs, ys, style, color=colours[op], marker="o", markersize=3, label=f"{name} {get_operator(op).slider}")
        else:
            ax_psnr.plot(*_series(records, ("val", "test"), "psnr", None), style, marker="o", markersize=3, label=name)
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("training loss")
    ax_psnr.set_ylabel("held-out PSNR (dB)")
    for ax in (ax_loss, ax_psnr):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: a single tick
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    figure.suptitle(f"Stage {stage}: BNO (solid) and NeurOp (dashed)")
    figure.tight_layout()
    return figure


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _spread(items: list, count: int) -> list:
    """``count`` items evenly spread over ``items``, first and last included."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in sorted(set(np.linspace(0, len(items) - 1, count).round().astype(int).tolist()))]


# --------------------------------------------------------------------------- reading the run's files

def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _median_test_image(per_image_csv: Path) -> str | None:
    """The stem of the test input with the median PSNR (the lower middle for an even count)."""
    with open(per_image_csv, newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: float(row["psnr"]))
    return Path(rows[(len(rows) - 1) // 2]["input"]).stem if rows else None


def _before_after(outputs: Mapping[str, Mapping[str, Path]], record: Mapping[str, Any], targets: Path) -> list[tuple[np.ndarray, str]]:
    """As shot | NeurOp | BNO | target of one enhanced raw; ``outputs``: :func:`_enhanced_outputs`."""
    source = Path(record["input"])
    panels: list[tuple[ImageSource, str]] = [(prophoto_to_srgb(decode_raw(source).image), "as shot (input)")]
    for kind in ("neurop", "bno"):
        output = outputs[kind].get(record["input"])
        if output is not None and output.is_file():
            panels.append((read_image(output).pixels, MODEL_NAMES[kind]))
    expert = expert_render(targets, source.stem)  # exact name: FiveK names may hold [...] (a glob class)
    if expert is not None:
        panels.append((read_image(expert).pixels, "target (expert)"))
    return [(_fit_height(np.clip(image, 0, 1).astype(np.float32), 220), label) for image, label in panels]


def _enhanced_records(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Model kind → the JSON records ``bno-enhance`` wrote for its outputs (each names its input and output)."""
    return {kind: [_read_json(path) for path in sorted((out / "enhanced" / kind).glob("*.json"))] for kind in ("neurop", "bno")}


def _enhanced_outputs(records: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, Path]]:
    """Model kind → input path → the output its record names (``bno-enhance`` may have renamed it)."""
    return {kind: {r["input"]: Path(r["output"]) for r in rows if "input" in r and "output" in r} for kind, rows in records.items()}


# --------------------------------------------------------------------------- sections

def _result(report: Report, run: Run) -> None:
    summaries = {name: _read_json(run.out / "eval" / f"{name}.json") for name in MODEL_NAMES}
    report.heading("Result", anchor="result")
    report.paragraph(reading(summaries), css="lead", anchor="reading")
    rows = []
    for name, summary in summaries.items():
        row: dict[str, object] = {"model": "identity (as-shot render)" if name == "identity" else MODEL_NAMES[name]}
        for key, label, unit, higher, decimals in METRICS:
            value = summary.get(key)
            row[f"{label}{f' ({unit})' if unit else ''} {'↑' if higher else '↓'}"] = None if value is None else f"{value:.{decimals}f}"
        row["test images"] = summary.get("images")
        rows.append(row)
    report.table(rows, anchor="metrics")
    report.paragraph("Means over the test split against the targets; ↑ higher is better, ↓ lower is better. "
                     "The identity scores the as-shot renders themselves.", note=True)
    enhanced = _enhanced_records(run.out)
    records = {Path(r["input"]).stem: r for r in enhanced["bno"]}
    median = _median_test_image(run.out / "eval" / "bno" / "per_image.csv")
    if median in records:
        report.gallery(_before_after(_enhanced_outputs(enhanced), records[median], run.targets), anchor="before-after",
                       caption=f"{median}: the test image with BNO's median PSNR.")


def _every_test_raw(report: Report, run: Run) -> None:
    enhanced = _enhanced_records(run.out)
    records = enhanced["bno"]
    if not records:
        return
    report.heading("Every test raw: before and after", anchor="test-raws")
    outputs = _enhanced_outputs(enhanced)
    for record in records:
        report.gallery(_before_after(outputs, record, run.targets), caption=Path(record["input"]).stem)
    report.heading("Slider read-outs (BNO strengths as Lightroom sliders; XMP sidecars beside the outputs)", anchor="sliders")
    rows = []
    for record in records:
        as_shot = WhitePoint(**record["as_shot"]) if record.get("as_shot") else None
        row: dict[str, object] = {"image": Path(record["input"]).stem}
        for code, change in record.get("sliders", {}).items():
            row[get_operator(code).slider] = ("≈ " if record.get("approximate") else "") + slider_change(code, change, as_shot)
        row["sidecar"] = Path(record.get("xmp", "")).name
        rows.append(row)
    report.table(rows)
    report.paragraph("Changes from the as-shot render; Temperature is absolute, from each raw's as-shot white. "
                     "≈ marks approximate read-outs: stage 2 trained the operators away from their stage-1 slider meaning.", note=True)


def _training(report: Report, run: Run) -> None:
    runs = run.out / "runs"
    report.heading("Training", anchor="training")
    for stage in (1, 2):
        records = {model: _records(runs / f"{model}-s{stage}" / "metrics.jsonl") for model in ("bno", "neurop")}
        if any(records.values()):
            what = "each operator on held-out scenes" if stage == 1 else "the whole chain on held-out pairs"
            report.image(_png(training_figure(records, stage)), f"Stage {stage}: training loss and held-out PSNR per epoch ({what}).")
    rows = []
    for model in ("bno", "neurop"):
        records = [r for r in _records(runs / f"{model}-s1" / "metrics.jsonl") if r.get("split") == "test" and r.get("op")]
        last = max((r["epoch"] for r in records), default=None)
        for r in (r for r in records if r["epoch"] == last):
            rows.append({"model": MODEL_NAMES[model], "operator": get_operator(r["op"]).slider,
                         "held-out PSNR (dB)": r.get("psnr"), "unchanged input (dB)": r.get("psnr_input")})
    if rows:
        report.paragraph("Stage 1, held-out scenes, last epoch: each operator's output against the target level, "
                         "and the input left unchanged for comparison.")
        report.table(rows, digits=2)


def _evaluation_strips(report: Report, run: Run) -> None:
    strips = sorted((run.out / "eval" / "bno" / "strips").glob("*.png"))
    if not strips:
        return
    gain = f"{DIFF_GAIN:g}"
    report.heading("BNO's best and worst test images", anchor="strips")
    for strip in strips:
        rank, number, scene = (strip.stem.split("-", 2) + ["", ""])[:3]  # best-1-a4733.png
        report.image(strip, f"{scene} ({rank} #{number} by PSNR): input | BNO output | target | |output − target| × {gain}")
    report.paragraph(f"The difference panel is amplified {gain}× so that small errors show; black is no difference.", note=True)


def _operator_data(report: Report, run: Run) -> None:
    root = run.out / "data" / "init"
    records = read_manifest(root / "manifest.jsonl") if (root / "manifest.jsonl").is_file() else []
    by_op: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        by_op[str(record["op"])][str(record["scene"])].append(record)
    if not by_op:
        return
    report.heading("Operator data (bno-synth generate)", anchor="operator-data")
    report.paragraph("Each row a scene, each column a level of the operator's schedule. White balance moves Temperature "
                     "in equal mired steps from each raw's as-shot white, so its values differ per scene. "
                     "bno-synth preview writes the same sheets as PNG into data/init/preview.", note=True)
    for code in sorted(by_op):
        rows = []
        for scene in _spread(sorted(by_op[code]), _SHEET_SCENES):
            picked = _spread(sorted(by_op[code][scene], key=lambda r: int(r["level"])), _SHEET_LEVELS)
            rows.append((scene, [(_tile(root, r), slider_label(code, float(r["value"]))) for r in picked]))
        report.grid(rows, title=f"{get_operator(code).slider} ({code})")


def _tile(root: Path, record: Mapping[str, Any]) -> np.ndarray:
    pixels = read_image(root / record["path"]).pixels
    if record.get("format") == "tiff16":
        pixels = prophoto_to_srgb(pixels)
    return _fit_height(np.clip(pixels, 0, 1).astype(np.float32), _TILE_HEIGHT)


def _timings(report: Report, run: Run) -> None:
    report.heading("Steps and timings", anchor="timings")
    before = ", ".join(f"{v:.2f}" for v in run.load_before)
    after = ", ".join(f"{v:.2f}" for v in run.load_after)
    report.paragraph(f"Total wall time {format_duration(run.seconds)} ({run.seconds:.0f} s) with {run.budget.summary}. "
                     f"Load average (1, 5, 15 min) {before} at the start and {after} at the end: other processes slow the steps down.")
    if run.overrides:
        report.paragraph("Training overrides for both models: " + " ".join(run.overrides), note=True)
    report.paragraph("Every step is a public command; rerun any of them by hand. Their whole output is in demo.log.", note=True)
    rows = [{"step": s.name, "wall (s)": s.seconds, "CPU (s)": s.cpu_seconds, "command": s.command} for s in run.steps]
    report.table(rows, digits=1, anchor="steps", css="commands")
    report.paragraph("CPU is the user + system time of the command and its subprocesses; on 2 idle cores a step "
                     "takes between CPU ÷ 2 (both cores busy) and CPU.", note=True)


def write_report(run: Run, path: Path | None = None) -> Path:
    """Assemble ``path`` (default ``<out>/report.html``) from the files of a finished demo run, the result first."""
    report = Report("BNO demo: Lightroom-equivalent operators → Bilateral Neural Operators")
    if run.budget.name != "full":
        report.paragraph(f"This is {run.budget.summary}.", css="banner", anchor="mode")
    bundled = Path(run.raws).resolve() == (SAMPLES / "raws").resolve() and Path(run.targets).resolve() == (SAMPLES / "expert").resolve()
    sources = (f"The bundled sample raws ({run.raws}), each made from a different real photograph, with that photograph as "
               f"published as its target ({run.targets})" if bundled else f"Camera raws ({run.raws}) with their expert targets ({run.targets})")
    report.paragraph(f"{sources}; BNO and the NeurOp baseline trained with the same budget, then scored against the identity "
                     "on the test split.", note=True)
    for section in (_result, _every_test_raw, _training, _evaluation_strips, _operator_data, _timings):
        section(report, run)
    return report.write(path or run.out / "report.html")
