"""Is model A better than model B? A paired comparison of ``bno-train evaluate`` folders.

Each evaluation folder holds ``per_image.csv`` (one row per test image: ``id``, metrics, …).
A side is one such folder, or a folder of them — one model trained several times (stage-2
seeds, say), e.g. ``eval/bno/seed0``, ``eval/bno/seed1``, … given as ``eval/bno``. Images are
paired by ``id`` (an id missing from any run is an error); a side's per-image value is the
mean over its runs. For every metric all runs report (PSNR, SSIM, ΔE76, ΔE2000, LPIPS: the
keys of :data:`bno.synth.metrics.HIGHER_IS_BETTER`):

| field              | meaning                                                                 |
|--------------------|-------------------------------------------------------------------------|
| ``mean_a/mean_b``  | the mean over the paired images (what ``summary.json`` reports)         |
| ``mean_difference``| mean of the per-image differences ``d_i = A_i − B_i`` (units of the metric) |
| ``ci_low/ci_high`` | percentile bootstrap confidence interval of that mean (Efron & Tibshirani 1993, §13.3): images are resampled with replacement, each keeping its A and B values (paired); where a side has several runs its runs are resampled too, independently of the images (a two-level bootstrap, Davison & Hinkley 1997, §3.8) — ``resamples`` resamples from a generator seeded with ``seed`` |
| ``run_means_a/b``  | each run's mean over the images (one value for a single run): the spread the training seed alone causes |
| ``wins/ties/losses``| images where A is better than / exactly equal to / worse than B, by the metric's direction (higher PSNR/SSIM, lower ΔE/LPIPS) |

A CI that excludes 0 says the mean difference is unlikely to be resampling noise of these
images — and, with several runs per side, of the training seed; it says nothing about other
photos. With one run per side the training seed's effect is not in the interval at all (one
stage-2 seed can move a model by ±0.5 dB on 32 photos). With few runs the run term is
underestimated (the bootstrap's variance of a mean of K runs is (K − 1)/K of the unbiased
s²/K: two thirds for three seeds). With constant differences the interval collapses onto that constant.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bno.synth.metrics import HIGHER_IS_BETTER

__all__ = [
    "PER_IMAGE_CSV",
    "Comparison",
    "MetricComparison",
    "compare_evaluations",
    "compare_scores",
    "format_comparison",
    "read_per_image",
    "read_runs",
]

#: The per-image file ``bno-train evaluate`` writes into its output folder.
PER_IMAGE_CSV = "per_image.csv"
_SHOWN_IDS = 5
#: Per-image scores of one evaluation: ``{id: {metric: value}}``.
Scores = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class MetricComparison:
    """One metric over the paired images (differences are A − B, in the metric's units)."""

    metric: str
    higher_is_better: bool
    mean_a: float
    mean_b: float
    mean_difference: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int
    run_means_a: tuple[float, ...]
    run_means_b: tuple[float, ...]


@dataclass(frozen=True)
class Comparison:
    """A vs B: the sources, the bootstrap settings and one :class:`MetricComparison` per common metric."""

    a: str
    b: str
    runs_a: int
    runs_b: int
    images: int
    confidence: float
    resamples: int
    seed: int
    metrics: tuple[MetricComparison, ...]

    @property
    def method(self) -> str:
        """How the intervals were made: over the images, and over the runs where a side has several."""
        return "paired percentile bootstrap over images" + (" and runs" if max(self.runs_a, self.runs_b) > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"a", "b", "images", …, "metrics": {name: {...}}}``."""
        data = asdict(self)
        data["method"] = self.method
        data["metrics"] = {m["metric"]: {k: v for k, v in m.items() if k != "metric"} for m in data["metrics"]}
        return data


def _csv_path(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    csv_path = path / PER_IMAGE_CSV if path.is_dir() else path
    if not csv_path.is_file():
        raise ValueError(f"{path}: no {PER_IMAGE_CSV} (give a folder written by `bno-train evaluate`, or its CSV)")
    return csv_path


def read_per_image(source: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """``{id: {metric: value}}`` from an evaluation folder's ``per_image.csv`` (or that CSV itself).

    Only known metrics are kept (other columns — files, strengths — are ignored). Raises
    ``ValueError`` naming the file for a missing file, a missing ``id`` column, a repeated id
    or a metric value that is not a number.
    """
    path = _csv_path(source)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: unreadable ({exc})") from None
    if "id" not in columns:
        raise ValueError(f"{path}: no 'id' column (columns: {', '.join(columns) or 'none'})")
    metrics = [name for name in HIGHER_IS_BETTER if name in columns]
    scores: dict[str, dict[str, float]] = {}
    for line, row in enumerate(rows, start=2):
        key = row["id"]
        if key in scores:
            raise ValueError(f"{path}, line {line}: id {key!r} appears twice")
        scores[key] = {}
        for name in metrics:
            text = row.get(name) or ""
            if text == "":  # a metric some rows lack (LPIPS on part of a run) is left out for that image
                continue
            try:
                scores[key][name] = float(text)
            except ValueError:
                raise ValueError(f"{path}, line {line}: {name} of {key!r} is {text!r}, not a number") from None
    return scores


def read_runs(source: str | os.PathLike[str]) -> list[dict[str, dict[str, float]]]:
    """One side of a comparison: ``[{id: {metric: value}}]``, one entry per run.

    ``source`` is an evaluation folder (or its CSV) — one run — or a folder whose
    subfolders are evaluation folders (several runs of one model, in name order).
    """
    path = Path(source)
    if path.is_dir() and not (path / PER_IMAGE_CSV).is_file():
        runs = sorted(child for child in path.iterdir() if (child / PER_IMAGE_CSV).is_file())
        if not runs:
            raise ValueError(
                f"{path}: no {PER_IMAGE_CSV}, nor a subfolder with one (give a folder written by "
                "`bno-train evaluate`, its CSV, or a folder of such folders — one per run)"
            )
        return [read_per_image(run) for run in runs]
    return [read_per_image(path)]


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN_IDS])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > _SHOWN_IDS else "")


def _paired(runs: Mapping[str, list[Scores]]) -> list[str]:
    """The ids every run of every side holds, sorted; ``ValueError`` naming the ids each run lacks
    (a side's runs are called ``<side> run N``, N counting its run folders in name order)."""
    labelled = {
        (label if len(side) == 1 else f"{label} run {i + 1}"): set(scores)
        for label, side in runs.items() for i, scores in enumerate(side)
    }
    every, anywhere = set.intersection(*labelled.values()), set.union(*labelled.values())
    problems = [
        f"{len(anywhere - ids)} missing from {label}: {_ids_text(sorted(anywhere - ids))}"
        for label, ids in labelled.items() if anywhere - ids
    ]
    if problems:
        raise ValueError("images do not pair by id: " + "; ".join(problems))
    if not every:
        raise ValueError(f"{' and '.join(runs)} hold no images")
    return sorted(every)


def _bootstrap_interval(
    x: np.ndarray, y: np.ndarray, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    """Percentile CI of mean over images of (mean over A's runs − mean over B's runs).

    ``x``: ``(runs_a, images)``, ``y``: ``(runs_b, images)``. Each resample draws the images
    with replacement (paired) and, independently, each side's runs with replacement.
    """
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    images = rng.integers(0, n, (resamples, n))

    def side(values: np.ndarray) -> np.ndarray:  # (resamples, images): a resampled run mean per image
        if len(values) == 1:
            return np.broadcast_to(values[0], (resamples, n))
        return values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)

    differences = side(x) - side(y)
    means = np.take_along_axis(differences, images, axis=1).mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def _compare_metric(metric: str, x: np.ndarray, y: np.ndarray, confidence: float, resamples: int, seed: int) -> MetricComparison:
    higher = HIGHER_IS_BETTER[metric]
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    better = np.sign(mean_x - mean_y) * (1 if higher else -1)  # +1: A better
    low, high = _bootstrap_interval(x, y, confidence, resamples, seed)
    return MetricComparison(
        metric, higher, float(mean_x.mean()), float(mean_y.mean()), float(np.mean(mean_x - mean_y)), low, high,
        wins=int(np.sum(better > 0)), ties=int(np.sum(better == 0)), losses=int(np.sum(better < 0)),
        run_means_a=tuple(float(v) for v in x.mean(axis=1)), run_means_b=tuple(float(v) for v in y.mean(axis=1)),
    )


def compare_scores(
    a: Scores | list[Scores],
    b: Scores | list[Scores],
    *,
    labels: tuple[str, str] = ("A", "B"),
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> Comparison:
    """Compare per-image scores ``{id: {metric: value}}`` of A and B — or lists of them, one per
    run (see the module docstring)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    runs_a, runs_b = (list(side) if isinstance(side, list) else [side] for side in (a, b))
    if not runs_a or not runs_b:
        raise ValueError("each side needs at least one evaluation")
    ids = _paired({labels[0]: runs_a, labels[1]: runs_b})
    every_run = runs_a + runs_b
    common = [m for m in HIGHER_IS_BETTER if all(m in run[key] for run in every_run for key in ids)]
    if not common:
        raise ValueError(f"{labels[0]} and {labels[1]} share no metric on every image")
    results = []
    for metric in common:
        x, y = (np.array([[run[key][metric] for key in ids] for run in side], dtype=np.float64) for side in (runs_a, runs_b))
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError(f"{metric}: non-finite values in {labels[0]} or {labels[1]}")
        results.append(_compare_metric(metric, x, y, confidence, resamples, seed))
    return Comparison(labels[0], labels[1], len(runs_a), len(runs_b), len(ids), confidence, resamples, seed, tuple(results))


def compare_evaluations(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> Comparison:
    """Read two sides — evaluation folders, their CSVs, or folders of evaluation folders — and compare them."""
    return compare_scores(
        read_runs(a), read_runs(b), labels=(str(a), str(b)), seed=seed, resamples=resamples, confidence=confidence
    )


def _digits(metric: str) -> int:
    return 4 if metric in ("ssim", "lpips") else 2


def format_comparison(comparison: Comparison) -> str:
    """A GitHub-style table, one row per metric, and the lines naming A and B."""
    level = f"{comparison.confidence:.0%}"
    header = ("metric", "A", "B", "A − B", f"{level} CI", "A better / tie / worse")
    rows = []
    for m in comparison.metrics:
        d = _digits(m.metric)
        rows.append((
            f"{m.metric} {'↑' if m.higher_is_better else '↓'}",
            f"{m.mean_a:.{d}f}", f"{m.mean_b:.{d}f}", f"{m.mean_difference:+.{d + 1}f}",
            f"[{m.ci_low:+.{d + 1}f}, {m.ci_high:+.{d + 1}f}]", f"{m.wins} / {m.ties} / {m.losses}",
        ))
    table = tabulate(rows, header, tablefmt="github", disable_numparse=True)
    first = comparison.metrics[0]
    d = _digits(first.metric)
    lines = [table]
    for name, source, runs, means in (
        ("A", comparison.a, comparison.runs_a, first.run_means_a), ("B", comparison.b, comparison.runs_b, first.run_means_b)
    ):
        spread = f" ({runs} runs averaged per image; {first.metric} per run: {', '.join(f'{v:.{d}f}' for v in means)})" if runs > 1 else ""
        lines.append(f"{name}: {source}{spread}")
    lines.append(
        f"{comparison.images} images paired by id; {comparison.method}, "
        f"{comparison.resamples} resamples, seed {comparison.seed}"
    )
    return "\n".join(lines)
