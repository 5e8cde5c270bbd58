"""Benchmark of the synthesis primitives: each operator, and raw decoding.

``bno-bench ops`` (a fresh ``python -m bno.pipelines.bench.ops`` process) prints a table:

* each operator at its extreme and middle levels on a 500×333 float32 image, one
  thread, median of many runs (target ≤ 5 ms);
* decoding a 24 MP DNG at half size with :func:`bno.synth.raw.decode_raw` against a bare
  ``rawpy`` ``postprocess(half_size=True)`` of the same file, in the same run
  (target ratio ≤ 1.2). Without ``--raw`` a deterministic 6000×4000 DNG is made
  with :func:`bno.pipelines.bench.raws.make_large_dng` in a temporary folder.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # "one core": set before numpy loads its BLAS (run as a fresh process)

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import click
from tabulate import tabulate
import numpy as np
import rawpy

from bno.synth.ops import OPERATORS, WhitePoint
from bno.synth.raw import decode_raw

from bno.pipelines.bench.raws import make_large_dng

__all__ = ["main"]

_AS_SHOT = WhitePoint(5000.0, 5.0)


def _median_ms(function: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def operator_rows(repeats: int) -> list[dict]:
    image = np.random.default_rng(0).random((333, 500, 3), dtype=np.float32)
    rows = []
    for op in OPERATORS.values():
        levels = op.level_values(21, _AS_SHOT)
        for value in (levels[0], levels[10], levels[-1]):
            ms = _median_ms(lambda: op.apply(image, value, _AS_SHOT), repeats)
            rows.append({"case": f"{op.code} {op.slider} {value:g} {op.unit}", "ms": ms, "target": "≤ 5 ms"})
    return rows


def decode_rows(raw_path: Path, repeats: int) -> list[dict]:
    def bare() -> np.ndarray:
        with rawpy.imread(str(raw_path)) as raw:
            return raw.postprocess(half_size=True)

    def bare_linear() -> np.ndarray:
        with rawpy.imread(str(raw_path)) as raw:
            return raw.postprocess(
                half_size=True, gamma=(1, 1), no_auto_bright=True, output_bps=16,
                use_camera_wb=True, output_color=rawpy.ColorSpace.ProPhoto, adjust_maximum_thr=0.0,
            )

    bare_ms = _median_ms(bare, repeats, warmup=1)
    linear_ms = _median_ms(bare_linear, repeats, warmup=1)
    ours_ms = _median_ms(lambda: decode_raw(raw_path, half_size=True), repeats, warmup=1)
    ours_500 = _median_ms(lambda: decode_raw(raw_path, half_size=True, long_edge=500), repeats, warmup=1)
    return [
        {"case": "rawpy postprocess(half_size=True)", "ms": bare_ms, "target": "baseline"},
        {"case": "rawpy, same linear ProPhoto settings", "ms": linear_ms, "target": f"{linear_ms / bare_ms:.2f}×"},
        {"case": "decode_raw(half_size=True)", "ms": ours_ms, "target": f"{ours_ms / bare_ms:.2f}× (≤ 1.2×)"},
        {"case": "decode_raw(half_size=True, long_edge=500)", "ms": ours_500, "target": f"{ours_500 / bare_ms:.2f}×"},
    ]


@click.command(name="ops")
@click.option("--raw", "raw_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A large raw to decode (default: a generated 24 MP DNG).")
@click.option("--repeats", default=50, show_default=True, help="Timed runs per operator case.")
@click.option("--decode-repeats", default=5, show_default=True, help="Timed runs per decode case.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the rows as JSON.")
def main(raw_path: Path | None, repeats: int, decode_repeats: int, json_path: Path | None) -> None:
    """Operators on 500×333 (one thread) and half-size raw decoding against bare rawpy."""
    rows = operator_rows(repeats)
    with tempfile.TemporaryDirectory() as folder:
        path = raw_path or make_large_dng(Path(folder) / "a9999-bench-24MP.dng")
        rows += decode_rows(path, decode_repeats)
    table = [(row["case"], row["ms"], row["target"]) for row in rows]
    click.echo(tabulate(table, ("case", "median ms", "vs target"), tablefmt="github", floatfmt=".2f"))
    if json_path:
        json_path.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
