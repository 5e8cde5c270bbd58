"""Is model A better than model B? A paired comparison of two ``bno-train evaluate`` folders.

Each folder holds ``per_image.csv`` (one row per test image: ``id``, metrics, …). Images are
paired by ``id`` (an id present in one folder only is an error), and for every metric both
folders report (PSNR, SSIM, ΔE76, ΔE2000, LPIPS: the keys of
:data:`bno.synth.metrics.HIGHER_IS_BETTER`):

| field              | meaning                                                                 |
|--------------------|-------------------------------------------------------------------------|
| ``mean_a/mean_b``  | the mean over the paired images (what ``summary.json`` reports)         |
| ``mean_difference``| mean of the per-image differences ``d_i = A_i − B_i`` (units of the metric) |
| ``ci_low/ci_high`` | percentile bootstrap confidence interval of that mean (Efron & Tibshirani 1993, §13.3): ``scipy.stats.bootstrap`` with ``paired=True`` — images are resampled with replacement, each keeping its A and B value — ``n_resamples`` resamples from a generator seeded with ``seed`` |
| ``wins/ties/losses``| images where A is better than / exactly equal to / worse than B, by the metric's direction (higher PSNR/SSIM, lower ΔE/LPIPS) |

A CI that excludes 0 says the mean difference is unlikely to be resampling noise of these
images; it says nothing about other photos. With constant differences the interval
collapses onto that constant.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
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
]

#: The per-image file ``bno-train evaluate`` writes into its output folder.
PER_IMAGE_CSV = "per_image.csv"
_SHOWN_IDS = 5


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


@dataclass(frozen=True)
class Comparison:
    """A vs B: the sources, the bootstrap settings and one :class:`MetricComparison` per common metric."""

    a: str
    b: str
    images: int
    confidence: float
    resamples: int
    seed: int
    metrics: tuple[MetricComparison, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"a", "b", "images", …, "metrics": {name: {...}}}``."""
        data = asdict(self)
        data["method"] = "paired percentile bootstrap (scipy.stats.bootstrap)"
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


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN_IDS])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > _SHOWN_IDS else "")


def _paired(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]], label_a: str, label_b: str) -> list[str]:
    """The ids both hold, sorted; ``ValueError`` naming the ids only one holds."""
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    problems = [f"{len(ids)} only in {label}: {_ids_text(ids)}" for ids, label in ((only_a, label_a), (only_b, label_b)) if ids]
    if problems:
        raise ValueError("images do not pair by id: " + "; ".join(problems))
    if not a:
        raise ValueError(f"{label_a} and {label_b} hold no images")
    return sorted(a)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def _bootstrap_interval(x: np.ndarray, y: np.ndarray, confidence: float, resamples: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(x − y), resampling the pairs together."""
    result = stats.bootstrap(
        (x, y), _mean_difference, paired=True, vectorized=True, n_resamples=resamples,
        confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _compare_metric(metric: str, x: np.ndarray, y: np.ndarray, confidence: float, resamples: int, seed: int) -> MetricComparison:
    higher = HIGHER_IS_BETTER[metric]
    better = np.sign(x - y) * (1 if higher else -1)  # +1: A better
    low, high = _bootstrap_interval(x, y, confidence, resamples, seed)
    return MetricComparison(
        metric, higher, float(x.mean()), float(y.mean()), float(np.mean(x - y)), low, high,
        wins=int(np.sum(better > 0)), ties=int(np.sum(better == 0)), losses=int(np.sum(better < 0)),
    )


def compare_scores(
    a: Mapping[str, Mapping[str, float]],
    b: Mapping[str, Mapping[str, float]],
    *,
    labels: tuple[str, str] = ("A", "B"),
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> Comparison:
    """Compare per-image scores ``{id: {metric: value}}`` of A and B (see the module docstring)."""
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    ids = _paired(a, b, *labels)
    common = [m for m in HIGHER_IS_BETTER if all(m in a[key] and m in b[key] for key in ids)]
    if not common:
        raise ValueError(f"{labels[0]} and {labels[1]} share no metric on every image")
    results = []
    for metric in common:
        x = np.array([a[key][metric] for key in ids], dtype=np.float64)
        y = np.array([b[key][metric] for key in ids], dtype=np.float64)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError(f"{metric}: non-finite values in {labels[0]} or {labels[1]}")
        results.append(_compare_metric(metric, x, y, confidence, resamples, seed))
    return Comparison(labels[0], labels[1], len(ids), confidence, resamples, seed, tuple(results))


def compare_evaluations(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    *,
    seed: int = 0,
    resamples: int = 10_000,
    confidence: float = 0.95,
) -> Comparison:
    """Read two ``bno-train evaluate`` folders (or their ``per_image.csv``) and compare them."""
    return compare_scores(
        read_per_image(a), read_per_image(b), labels=(str(a), str(b)), seed=seed, resamples=resamples, confidence=confidence
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
    note = (f"A: {comparison.a}\nB: {comparison.b}\n{comparison.images} images paired by id; paired percentile bootstrap, "
            f"{comparison.resamples} resamples, seed {comparison.seed}")
    return f"{table}\n{note}"
