"""Benchmark of the synthesis job on 24 MP DNGs: ``bno-bench synth`` (``python -m bno.pipelines.bench.synth``).

Measures, and prints as a table:

* **bare decode** — ``rawpy`` half-size ``postprocess`` of each raw (linear, 16-bit), nothing else;
* **ours, 1 worker** — :func:`bno.pipelines.data.generate.render_scene` per scene in one process:
  decode once, all four operators × 21 levels at long edge 500, encode, hash, write;
* **naive** — the same outputs decoding the raw again for every image: per-output time
  (decode + render + encode + write) measured on a sample of outputs and multiplied by the
  output count;
* **throughput** — scenes/s on a ``LocalCluster`` of 1 and of 2 single-threaded worker
  processes (cluster start-up excluded; workers warmed up on one scene first);
* **peak RSS per worker** — ``ru_maxrss`` of each worker process after the run.

Raws: ``--raws DIR`` (any camera raws, e.g. the photo benchmark's ``raw_photos``), else
``--scenes`` deterministic synthetic 6000×4000 DNGs written with :mod:`bno.synth.dng` into
``--work`` (default: a temp folder) — LJ92-compressed and tiled as FiveK's DNGs are
(``--compression none``: uncompressed). The bare decode is of the same files, so the
ratio "ours / bare decode" is what the job adds on top of LibRaw.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bno.pipelines.bench.raws import make_large_dng

__all__ = ["make_bench_dngs", "main"]

_NAIVE_SAMPLES_PER_OP = 2


def make_bench_dngs(folder: Path, scenes: int, height: int = 4000, width: int = 6000, compression: str | None = "ljpeg") -> list[Path]:
    """Write ``scenes`` deterministic 24 MP DNGs (see :func:`bno.pipelines.bench.raws.make_large_dng`).

    Names carry the compression (``…-LJ92_0000.dng`` / ``…-PLAIN_0000.dng``), so a reused
    ``--work`` folder never mixes the two.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tag = "LJ92" if compression == "ljpeg" else "PLAIN"
    paths = [folder / f"a{4501 + index:04d}-{tag}_{index:04d}.dng" for index in range(scenes)]
    for path in paths:
        if not path.exists():
            make_large_dng(path, width, height, compression)
    return paths


def _bare_decode(path: Path) -> float:
    import rawpy

    started = time.perf_counter()
    with rawpy.imread(str(path)) as raw:
        raw.postprocess(half_size=True, gamma=(1, 1), no_auto_bright=True, output_bps=16, use_camera_wb=True)
    return time.perf_counter() - started


def _naive_per_output(path: Path, out: Path, render) -> float:
    """Mean seconds of one output made the naive way (decode the raw again for it)."""
    from bno.synth.io import encode_srgb
    from bno.synth.ops import OPERATORS
    from bno.synth.raw import decode_raw

    from bno.files import atomic_write_bytes

    times = []
    for op in OPERATORS.values():
        for sample in range(_NAIVE_SAMPLES_PER_OP):
            started = time.perf_counter()
            decoded = decode_raw(path, half_size=render.half_size, long_edge=render.long_edge)
            value = float(op.level_values(21, decoded.as_shot)[sample * 10])
            data = encode_srgb(op.apply(decoded.image, value, decoded.as_shot), ".png", 8)
            atomic_write_bytes(out / f"naive-{op.code}-{sample}.png", data)
            times.append(time.perf_counter() - started)
    return statistics.mean(times)


def _worker_peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _throughput(paths: list[Path], out: Path, settings, workers: int) -> tuple[float, list[float]]:
    """Scenes/s on a LocalCluster of ``workers`` processes (start-up and a warm-up scene excluded), peak RSS MB."""
    import logging

    from dask.distributed import Client, LocalCluster, wait

    from bno.pipelines.data.executor import WORKER_ENV
    from bno.pipelines.data.generate import render_scene

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR, env=WORKER_ENV) as cluster, Client(cluster) as client:
        warm = client.map(render_scene, [str(paths[0])] * workers, ["test"] * workers, [str(out / f"warm{i}") for i in range(workers)], settings=settings, pure=False)
        wait(warm)
        started = time.perf_counter()
        futures = client.map(render_scene, [str(p) for p in paths], ["test"] * len(paths), out=str(out / f"run{workers}"), settings=settings, pure=False)
        results = client.gather(futures)
        seconds = time.perf_counter() - started
        assert all(r["status"] == "ok" for r in results), [r.get("reason") for r in results]
        rss = sorted(client.run(_worker_peak_rss_mb).values())
    return len(paths) / seconds, rss


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (Markdown)."""
    from bno.synth.ops import OPERATORS

    from bno.pipelines.data.generate import SceneSettings, render_scene
    from bno.pipelines.data.manifest import RenderSettings

    parser = argparse.ArgumentParser(prog="bno-bench synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--raws", type=Path, default=None, help="folder of raws to use (default: synthetic 24 MP DNGs)")
    parser.add_argument("--scenes", type=int, default=4, help="synthetic DNGs to make / raws to use (default: 4)")
    parser.add_argument("--levels", type=int, default=21, help="levels per operator (default: 21)")
    parser.add_argument("--long-edge", type=int, default=500, help="output long edge (default: 500)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder, removed)")
    parser.add_argument("--compression", choices=("ljpeg", "none"), default="ljpeg",
                        help="synthetic DNGs: LJ92 tiles as FiveK's (default) or uncompressed")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="bno-bench-"))
    try:
        if args.raws is not None:
            from bno.pipelines.data.generate import discover_raws

            paths = discover_raws(args.raws)[0][: args.scenes]
        else:
            print(f"making {args.scenes} synthetic 6000×4000 {args.compression} DNGs in {work / 'raws'} …", file=sys.stderr, flush=True)
            paths = make_bench_dngs(work / "raws", args.scenes, compression=None if args.compression == "none" else "ljpeg")
        if not paths:
            print("error: no raws found", file=sys.stderr)
            return 2
        for stale in ("warmup", "ours", "tp"):  # a reused --work: complete scenes would be skipped, not timed
            shutil.rmtree(work / stale, ignore_errors=True)
        render = RenderSettings(True, args.long_edge, "png8")
        settings = SceneSettings(tuple((op.code, args.levels) for op in OPERATORS.values()), render)
        outputs = len(OPERATORS) * args.levels

        _bare_decode(paths[0])  # warm the page cache and imports
        bare = statistics.median(_bare_decode(p) for p in paths)
        render_scene(str(paths[0]), "test", str(work / "warmup"), settings)
        ours = []
        for index, path in enumerate(paths):
            result = render_scene(str(path), "test", str(work / "ours"), settings)
            assert result["status"] == "ok", result.get("reason")
            ours.append(result["seconds"])
        ours_median = statistics.median(ours)
        naive = _naive_per_output(paths[0], work, render) * outputs
        one, rss_one = _throughput(paths, work / "tp", settings, 1)
        two, rss_two = _throughput(paths, work / "tp", settings, 2)
        mp = max(1, round(np.prod(__import__("rawpy").imread(str(paths[0])).raw_image_visible.shape) / 1e6))

        size_mb = statistics.median(p.stat().st_size for p in paths) / 1e6
        kind = "synthetic LJ92 DNGs" if args.raws is None and args.compression == "ljpeg" else "synthetic uncompressed DNGs" if args.raws is None else f"raws from {args.raws}"
        print(f"\n### Synthesis benchmark: {len(paths)} × {mp} MP {kind} ({size_mb:.1f} MB median), {len(OPERATORS)} operators × {args.levels} levels, long edge {args.long_edge}, png8\n")
        rows = [
            ("bare rawpy half-size decode of the same file (median per raw)", f"{bare:.2f} s", ""),
            (f"ours: one worker, decode once + {outputs} outputs (median per scene)", f"{ours_median:.2f} s", f"{ours_median / bare:.2f}× bare decode (target ≤ 3×)"),
            (f"naive: decode again for each of {outputs} outputs (per scene, from {len(OPERATORS) * _NAIVE_SAMPLES_PER_OP} sampled outputs)", f"{naive:.1f} s", f"ours is {naive / ours_median:.1f}× faster"),
            ("throughput, LocalCluster 1 worker", f"{one:.3f} scenes/s", ""),
            ("throughput, LocalCluster 2 workers", f"{two:.3f} scenes/s", f"{two / one:.2f}× one worker (target ≥ 1.7×)"),
            ("peak RSS per worker (1-worker run)", f"{max(rss_one):.0f} MB", "target ≤ 1500 MB"),
            ("peak RSS per worker (2-worker run)", " / ".join(f"{v:.0f} MB" for v in rss_two), "target ≤ 1500 MB"),
        ]
        print("| measurement | value | note |\n|---|---|---|")
        for name, value, note in rows:
            print(f"| {name} | {value} | {note} |")
        import os

        print(f"\nmachine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
