"""Click command ``photoset`` of ``bno-synth``: the free FiveK-like photo benchmark (:mod:`bno.pipelines.data.photoset`).

Exit status: 0 success; 1 some photos failed; 2 bad usage, a package that cannot be fetched,
or unreadable input (one-line ``error:`` message, traceback with ``--debug``).
"""

from __future__ import annotations

from pathlib import Path

import click

from bno.pipelines.cli.common import report_errors

__all__ = ["photoset_command"]

EXIT_FAILURES = 1


@click.command(name="photoset")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder (raw_photos/, expert/, data_manifest.yaml, photos.json, LICENSES.md).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of ids, names, cameras, lights, exposures, noise and the split.")
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="Folder for the downloaded .deb packages and their extracted files (default: OUT/.cache).")
@click.option("--long-edge", type=click.IntRange(min=256), default=1500, show_default=True, help="Long edge of the raws and targets, px (at most).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N photos (by key): a quick look.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="Local Dask worker processes (0: in this process).")
@click.option("--progress-interval", type=float, default=10.0, show_default=True, help="Seconds between plain progress lines when stderr is not a terminal.")
@report_errors
def photoset_command(out, seed, cache, long_edge, limit, workers, progress_interval) -> None:
    """Build a ~100-photo FiveK-like benchmark from freely licensed photographs in Debian packages.

    Fetches the packages with apt-get download (cached), keeps the curated real photographs,
    and writes one LJ92-compressed DNG per photo under OUT/raw_photos/HQa*/photos/, its target
    (the photograph as published) under OUT/expert/, a train/validation/test split by photo and
    a declaration for `bno-synth generate|pairs --manifest OUT/data_manifest.yaml`.
    """
    from bno.pipelines.data.photoset import build_photoset

    out_path = Path(out)
    result = build_photoset(out_path, seed=seed, cache=cache or out_path / ".cache", long_edge=long_edge, workers=workers,
                            limit=limit, progress_interval=progress_interval)
    for failure in result.failures:
        click.echo(f"error: {failure['source']}: {failure['reason']}", err=True)
    packages = ", ".join(f"{name} {count}" for name, count in result.per_package().items())
    splits = ", ".join(f"{name} {count}" for name, count in result.per_split().items())
    click.echo(f"{len(result.records)} photos → {out_path} ({result.bytes() / 2**20:.1f} MiB) in {result.seconds:.0f} s")
    click.echo(f"  per package: {packages}")
    click.echo(f"  per split: {splits}")
    click.echo(f"  declaration: {out_path / 'data_manifest.yaml'}; credits: {out_path / 'LICENSES.md'}")
    if result.failures:
        raise SystemExit(EXIT_FAILURES)
