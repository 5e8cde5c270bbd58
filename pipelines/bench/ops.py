"""Benchmark of the synthesis primitives: each operator, and raw decoding.

``bno-bench ops`` (in a fresh process whose BLAS/OpenMP pools have one thread) prints a table:

* each operator at its extreme and middle levels on a 500×333 float32 image, one
  thread, median of many runs (target ≤ 5 ms);
* decoding a 24 MP DNG at half size with :func:`bno.synth.raw.decode_raw` against a bare
  ``rawpy`` ``postprocess(half_size=True)`` of the same file, in the same run
  (target ratio ≤ 1.2). Without ``--raw`` a deterministic 6000×4000 DNG is made
  with :func:`bno.pipelines.bench.raws.make_large_dng` in a temporary folder.
"""

from __future__ import annotations


import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import rawpy

from bno.synth.ops import OPERATORS, WhitePoint
from bno.synth.raw import decode_raw


__all__ = ["decode_rows", "operator_rows"]

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
    """Median ms of each operator at its lowest, middle and highest level on a 500×333 image."""
    image = np.random.default_rng(0).random((333, 500, 3), dtype=np.float32)
    rows = []
    for op in OPERATORS.values():
        levels = op.level_values(21, _AS_SHOT)
        for value in (levels[0], levels[10], levels[-1]):
            ms = _median_ms(lambda: op.apply(image, value, _AS_SHOT), repeats)
            rows.append({"case": f"{op.code} {op.slider} {value:g} {op.unit}", "ms": ms, "target": "≤ 5 ms"})
    return rows


def decode_rows(raw_path: Path, repeats: int) -> list[dict]:
    """Median ms of half-size decoding: bare rawpy, rawpy with our settings, ``decode_raw``."""
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
