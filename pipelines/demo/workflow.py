"""``bno-demo``: the whole story on the bundled samples, in one command, as one HTML report.

generate every operator → preview → stage-2 pairs → stage 1 and stage 2 for BNO and for the
NeurOp baseline (same budget) → evaluate both and the identity → enhance the test raws with
slider read-outs and XMP sidecars → ``<out>/report.html``, self-contained (images inlined):
contact sheets, loss curves, metrics against the identity and NeurOp, before/after strips and
the per-image slider table.

Every step is the public command a user would type (run as ``python -m …`` so PATH does not
matter); the report lists them with their wall times so each step can be rerun by hand.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import cv2
import numpy as np

import bno
from bno.synth.colour_spaces import prophoto_to_srgb
from bno.synth.io import read_image
from bno.synth.raw import decode_raw, is_raw_path

from bno.pipelines.demo.report import Report
from bno.pipelines.demo.targets import expert_render

__all__ = ["StepFailed", "run_demo"]

_CONFIGS = bno.resource_path("configs")
SAMPLES = bno.resource_path("samples")
_STRIP_HEIGHT = 220
#: Console script of each module the demo runs (see pyproject.toml).
_SCRIPTS = {"bno.pipelines.cli.synth": "bno-synth", "bno.pipelines.cli.train": "bno-train", "bno.pipelines.cli.enhance": "bno-enhance"}


class StepFailed(RuntimeError):
    """A step of the demo exited non-zero; the message names it and the log."""


@dataclass
class Step:
    """One command of the demo and how long it took."""

    name: str
    argv: list[str]
    seconds: float = 0.0

    @property
    def command(self) -> str:
        """The command as a user types it (``bno-synth …`` rather than ``python -m bno.pipelines.cli.synth …``)."""
        argv = self.argv
        if len(argv) > 2 and argv[1] == "-m" and argv[2] in _SCRIPTS:
            argv = [_SCRIPTS[argv[2]], *argv[3:]]
        return shlex.join(argv)


def _module_command(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _run(step: Step, log) -> None:
    click.echo(f"[{step.name}] {step.command}", err=True)
    log.flush()
    started = time.perf_counter()
    result = subprocess.run(step.argv, stdout=log, stderr=subprocess.STDOUT, cwd=Path.cwd())
    step.seconds = time.perf_counter() - started
    if result.returncode not in (0,):
        raise StepFailed(f"step '{step.name}' failed (exit {result.returncode}); see {log.name}")


def _last_test_rows(run: Path) -> list[dict]:
    """The last epoch's held-out rows of a run's ``metrics.jsonl``."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    test = [row for row in rows if row.get("split") == "test"]
    last = max((row["epoch"] for row in test), default=None)
    return [row for row in test if row["epoch"] == last]


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _strip(images: list[np.ndarray], gap: int = 6) -> np.ndarray:
    tiles = [_fit_height(image, _STRIP_HEIGHT) for image in images]
    spacer = np.ones((_STRIP_HEIGHT, gap, 3), np.float32)
    parts = [part for tile in tiles for part in (tile, spacer)][:-1]
    return np.concatenate(parts, axis=1)


def run_demo(out: Path, raws: Path, targets: Path, overrides: tuple[str, ...] = ()) -> Path:
    """Run every step into ``out`` and write ``out/report.html``; returns the report's path."""
    recipes = {"bno": _CONFIGS / "demo.yaml", "neurop": _CONFIGS / "demo-neurop.yaml"}
    for recipe in recipes.values():
        if not recipe.is_file():
            raise FileNotFoundError(f"{recipe} not found: the demo's recipes ship with the bno package; reinstall it")
    out.mkdir(parents=True, exist_ok=True)
    data, runs, enhanced = out / "data", out / "runs", out / "enhanced"
    sets = [arg for item in overrides for arg in ("--set", item)]
    synth_cli, train_cli = "bno.pipelines.cli.synth", "bno.pipelines.cli.train"
    steps = [
        Step("generate", _module_command(synth_cli, ["generate", "--op", "all", "--raws", str(raws), "--out", str(data / "init")])),
        Step("audit", _module_command(synth_cli, ["audit", str(data / "init")])),
        Step("preview", _module_command(synth_cli, ["preview", str(data / "init")])),
        Step("pairs", _module_command(synth_cli, ["pairs", "--raws", str(raws), "--targets", str(targets), "--out", str(data / "pairs")])),
    ]
    for kind, config in recipes.items():
        steps += [
            Step(f"{kind} stage 1", _module_command(train_cli, ["stage1", "--data", str(data / "init"), "--out", str(runs / f"{kind}-s1"), "--config", str(config), *sets])),
            Step(f"{kind} stage 2", _module_command(train_cli, ["stage2", "--data", str(data / "pairs"), "--init", str(runs / f"{kind}-s1"), "--out", str(runs / f"{kind}-s2"), "--config", str(config), *sets])),
        ]
    for name in ("identity", "neurop", "bno"):
        checkpoint = "identity" if name == "identity" else str(runs / f"{name}-s2")
        steps.append(Step(f"evaluate {name}", _module_command(train_cli, ["evaluate", "--checkpoint", checkpoint, "--data", str(data / "pairs"), "--out", str(out / "eval" / name), "--json", str(out / "eval" / f"{name}.json")])))
    started = time.perf_counter()
    with open(out / "demo.log", "w") as log:
        for step in steps:
            _run(step, log)
        by_stem = {path.stem: path for path in raws.iterdir() if is_raw_path(path)}
        test_raws = [str(by_stem[path.stem]) for path in sorted((data / "pairs" / "testA").glob("*.tif")) if path.stem in by_stem]
        for name, extra in (("bno", ["--xmp"]), ("neurop", [])):
            step = Step(f"enhance {name}", _module_command("bno.pipelines.cli.enhance", [*test_raws, "--checkpoint", str(runs / f"{name}-s2"), "--out", str(enhanced / name), *extra]))
            _run(step, log)
            steps.append(step)
    return write_report(out, steps, time.perf_counter() - started, raws, targets)


def write_report(out: Path, steps: list[Step], total: float, raws: Path, targets: Path) -> Path:
    """Assemble ``out/report.html`` from the outputs of :func:`run_demo`."""
    data, runs, enhanced = out / "data", out / "runs", out / "enhanced"
    report = Report("BNO demo: Lightroom-equivalent operators → Bilateral Neural Operators")
    report.paragraph(
        f"Bundled sample raws ({raws}) with expert renders ({targets}); every step below is a public command. "
        f"Total wall time {total / 60:.1f} min."
    )
    report.heading("Steps")
    report.table([{"step": s.name, "seconds": round(s.seconds, 1), "command": s.command} for s in steps], ["step", "seconds", "command"], digits=1)

    report.heading("Operator data (bno-synth generate → preview)")
    report.paragraph("Each row a scene, each column a level of the operator's schedule (slider value on top).", note=True)
    report.images((path, f"{path.stem}: contact sheet") for path in sorted((data / "init" / "preview").glob("*.png")))

    report.heading("Training")
    for kind in ("bno", "neurop"):
        for stage in ("s1", "s2"):
            curve = runs / f"{kind}-{stage}" / "loss_curve.png"
            if curve.exists():
                report.image(curve, f"{kind} stage {stage[1]}: training loss and held-out PSNR per epoch")
    stage1 = []
    for kind in ("bno", "neurop"):
        for row in _last_test_rows(runs / f"{kind}-s1"):
            stage1.append({"model": kind, "operator": row["op"], "held-out PSNR (dB)": row["psnr"], "input A vs target B (dB)": row.get("psnr_input")})
    report.paragraph("Stage 1, held-out scenes, last epoch:")
    report.table(stage1, digits=2)

    report.heading("Stage 2 on the test split")
    metrics = []
    for name in ("identity", "neurop", "bno"):
        summary = json.loads((out / "eval" / f"{name}.json").read_text())
        metrics.append({"model": name, **{key: summary.get(key) for key in ("psnr", "ssim", "delta_e76", "delta_e2000", "images")}})
    report.table(metrics, ["model", "psnr", "ssim", "delta_e76", "delta_e2000", "images"], digits=3)
    for strip in sorted((out / "eval" / "bno" / "strips").glob("*.png")):
        report.image(strip, f"BNO {strip.stem}: input | output | target | |diff|")

    report.heading("Before and after: the test raws")
    report.paragraph("As-shot render | NeurOp | BNO | expert (RawTherapee). Slider read-outs below.", note=True)
    rows = []
    for record_path in sorted((enhanced / "bno").glob("*.json")):
        record = json.loads(record_path.read_text())
        source = Path(record["input"])
        before = prophoto_to_srgb(decode_raw(source).image)
        images = [before]
        for kind in ("neurop", "bno"):
            images.append(read_image(enhanced / kind / f"{source.stem}.tif").pixels)
        expert = expert_render(targets, source.stem)
        if expert is not None:
            images.append(read_image(expert).pixels)
        report.image(_strip(images), source.stem)
        rows.append({"image": source.stem, **{code: round(v, 3) for code, v in record["strengths"].items()}, "edits": record["edits"], "sidecar": Path(record.get("xmp", "")).name})
    report.heading("Slider read-outs (BNO strengths → Lightroom sliders, XMP sidecars beside the outputs)")
    report.paragraph("≈ marks approximate read-outs: stage 2 trained the operators away from their stage-1 slider meaning.", note=True)
    report.table(rows, digits=3)
    return report.write(out / "report.html")
