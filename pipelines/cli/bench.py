"""``bno-bench``: the benchmark tables of the README, one subcommand per component.

Each prints a table whose ratios are against a baseline measured in the same run. The work
is in :mod:`bno.pipelines.bench`; it is imported only when a benchmark runs (``--help`` stays fast).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import click

from bno.pipelines.cli.common import DEVICE, report_errors, root_options

__all__ = ["main"]

#: One BLAS/OpenMP thread: the operator and decode timings are per core.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DEFAULT_RESOLUTIONS = "500x300,1200x900,2500x1200,4000x3000"
_JSON = click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the rows as JSON.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@root_options
def main() -> None:
    """Speed and memory benchmarks; each prints a table (ratios against a baseline run alongside)."""


@main.command(name="ops")
@click.option("--raw", "raw_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A large raw to decode (default: a generated 24 MP DNG).")
@click.option("--repeats", default=50, show_default=True, help="Timed runs per operator case.")
@click.option("--decode-repeats", default=5, show_default=True, help="Timed runs per decode case.")
@_JSON
@click.option("--in-process", is_flag=True, hidden=True, help="Run here (set when re-run with one BLAS thread).")
@report_errors
def ops(raw_path: Path | None, repeats: int, decode_repeats: int, json_path: Path | None, in_process: bool) -> None:
    """Operators on 500×333 (one thread) and half-size raw decoding against bare rawpy."""
    if not in_process:  # BLAS pools are sized when numpy loads: measure in a fresh one-thread process
        argv = [sys.executable, "-m", "bno.pipelines.cli.bench", "ops", "--in-process",
                "--repeats", str(repeats), "--decode-repeats", str(decode_repeats)]
        argv += ["--raw", str(raw_path)] if raw_path else []
        argv += ["--json", str(json_path)] if json_path else []
        sys.exit(subprocess.call(argv, env={**os.environ, **ONE_THREAD}))
    import tempfile

    from tabulate import tabulate

    from bno.pipelines.bench.ops import decode_rows, operator_rows
    from bno.pipelines.bench.raws import make_large_dng

    rows = operator_rows(repeats)
    with tempfile.TemporaryDirectory() as folder:
        rows += decode_rows(raw_path or make_large_dng(Path(folder) / "a9999-bench-24MP.dng"), decode_repeats)
    click.echo(tabulate([(r["case"], r["ms"], r["target"]) for r in rows], ("case", "median ms", "vs target"), tablefmt="github", floatfmt=".2f"))
    if json_path:
        json_path.write_text(json.dumps(rows, indent=2) + "\n")


@main.command(name="model")
@click.option("--models", default="bno,neurop", show_default=True, help="Comma-separated: bno, neurop.")
@click.option("--resolutions", default=DEFAULT_RESOLUTIONS, show_default=True, help="Comma-separated WxH.")
@click.option("--device", type=DEVICE, default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto (CUDA when present).")
@click.option("--threads", type=int, default=2, show_default=True, help="torch CPU threads.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Timed runs per case (median).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the rows here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="PNG plot of time and memory against megapixels (default: beside --json).")
@click.option("--shipped", is_flag=True, help="Also time the weights that ship with bno (their configs: three averaged predictors each).")
@report_errors(also=(RuntimeError,))
def model(models: str, resolutions: str, device: str, threads: int, repeats: int, json_path: Path | None, plot_path: Path | None, shipped: bool) -> None:
    """Median time and peak memory per (model, resolution), each in a fresh process."""
    from tabulate import tabulate

    from bno.pipelines.bench.model import in_fresh_process, parse_resolution, plot_rows

    kinds = [m.strip() for m in models.split(",") if m.strip()]
    unknown = sorted(set(kinds) - {"bno", "neurop"})
    if unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}", param_hint="--models")
    sizes = [parse_resolution(r) for r in resolutions.split(",") if r.strip()]
    common = ["--device", device, "--threads", str(threads)]
    idle = in_fresh_process(["--idle", *common])
    click.echo(f"idle process (python + torch + model imported): {idle['peak_mb']:.0f} MB peak RSS")
    rows = []
    variants = [[], ["--shipped"]] if shipped else [[]]
    for kind in kinds:
        for weights in variants:
            for w, h in sizes:
                row = in_fresh_process(["--model", kind, "--resolution", f"{w}x{h}", "--repeats", str(repeats), *weights, *common])
                rows.append({**row, "megapixels": w * h / 1e6})
                click.echo(f"  {row['model']} {row['resolution']}: {row['ms']:.1f} ms", err=True)
    table = [(r["model"], r["resolution"], f"{r['megapixels']:.2f}", f"{r['ms']:.1f}", f"{r['peak_mb']:.0f}", r["params"]) for r in rows]
    click.echo(tabulate(table, ("model", "resolution", "MP", "ms", "peak MB", "params"), tablefmt="github", disable_numparse=True))
    if json_path:
        json_path.write_text(json.dumps({"idle_peak_mb": idle["peak_mb"], "rows": rows}, indent=2) + "\n")
        plot_path = plot_path or json_path.with_suffix(".png")
    if plot_path:
        plot_rows(rows, plot_path)
        click.echo(f"plot: {plot_path}")


@main.command(name="model-case", hidden=True)
@click.option("--model", "model_kind", type=click.Choice(["bno", "neurop"]), default="bno")
@click.option("--resolution", default="500x300")
@click.option("--device", type=DEVICE, default="cpu")
@click.option("--threads", type=int, default=2)
@click.option("--repeats", type=int, default=3)
@click.option("--shipped", is_flag=True, help="The shipped weights instead of the default config.")
@click.option("--idle", is_flag=True, help="Only import torch and the model; report the RSS.")
def model_case(model_kind: str, resolution: str, device: str, threads: int, repeats: int, shipped: bool, idle: bool) -> None:
    """One case of ``bno-bench model`` in this (fresh) process; prints one JSON line."""
    from bno.pipelines.bench.model import idle_peak_mb, parse_resolution, run_case

    if idle:
        click.echo(json.dumps({"peak_mb": idle_peak_mb()}))
        return
    w, h = parse_resolution(resolution)
    click.echo(json.dumps(run_case(model_kind, w, h, device, threads, repeats, shipped)))


@main.command(name="train")
@click.option("--device", type=DEVICE, default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=0, show_default=True, help="torch CPU threads (0 = default).")
@click.option("--batch", type=int, default=8, show_default=True, help="Crops per step (stage 1: per term).")
@click.option("--crop", "crops", type=int, multiple=True, default=(128,), show_default=True, help="Square crop side (repeatable).")
@click.option("--steps", type=int, default=5, show_default=True, help="Timed steps per row.")
@click.option("--warmup", type=int, default=2, show_default=True, help="Untimed steps first.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bfloat16 autocast on CUDA.")
@_JSON
@report_errors
def train(device: str, threads: int, batch: int, crops: tuple[int, ...], steps: int, warmup: int, amp: bool, json_path: Path | None) -> None:
    """Images/s of a training step for BNO and NeurOp (stage 1 and stage 2)."""
    import torch

    from bno.model.devices import pick_device
    from bno.pipelines.bench.train import format_rows, run_rows

    if threads:
        torch.set_num_threads(threads)
    dev = pick_device(device)
    rows = run_rows(dev, batch, crops, steps, warmup, amp)
    where = f"{dev} ({torch.get_num_threads()} threads)" if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    click.echo(format_rows(rows, where))
    if json_path:
        json_path.write_text(json.dumps({"device": where, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")


@main.command(name="synth", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def synth(ctx: click.Context) -> None:
    """The Dask synthesis job on large DNGs (decode once vs naive, 1 vs 2 workers, memory); see `--help`."""
    from bno.pipelines.bench.synth import main as bench_synth

    sys.exit(bench_synth(ctx.args))


if __name__ == "__main__":
    main()
