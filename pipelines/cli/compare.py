"""``bno-train compare EVAL_A EVAL_B``: is A better than B on the same images, beyond resampling noise?

    bno-train compare runs/bno/eval/pairs-test runs/neurop/eval/pairs-test
    bno-train compare A B --json --seed 1 --resamples 20000
    bno-train compare eval/bno eval/neurop      # folders of runs: eval/bno/seed0, eval/bno/seed1, …

The work is :func:`bno.pipelines.evaluate.compare.compare_evaluations`. Errors (a folder
without ``per_image.csv``, ids present in one folder only) are one line, exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bno.pipelines.cli.common import report_errors

__all__ = ["compare"]


@click.command(name="compare")
@click.argument("eval_a", type=click.Path(exists=True, path_type=Path))
@click.argument("eval_b", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of a table.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap's random generator.")
@click.option("--resamples", type=click.IntRange(min=1), default=10_000, show_default=True, help="Bootstrap resamples.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True,
              help="Confidence level of the interval.")
@report_errors
def compare(eval_a: Path, eval_b: Path, as_json: bool, seed: int, resamples: int, confidence: float) -> None:
    """Compare two `bno-train evaluate` folders image by image (paired by id).

    Per metric: the mean of A and of B, the mean paired difference A − B with a bootstrap
    confidence interval (images resampled with replacement, A and B together), and how many
    images A wins, ties and loses. EVAL_A or EVAL_B may also be a folder of evaluation folders —
    one model trained with several seeds: its per-image scores are averaged over the runs, and
    the runs are resampled too, so the interval includes the seed's spread.
    """
    from bno.pipelines.evaluate.compare import compare_evaluations, format_comparison

    comparison = compare_evaluations(eval_a, eval_b, seed=seed, resamples=resamples, confidence=confidence)
    click.echo(json.dumps(comparison.to_dict(), indent=2) if as_json else format_comparison(comparison))
