"""``bno-bench model``: the seed's Table 2 — time and peak memory of BNO vs NeurOp by resolution.

Every (model, resolution) case runs in a fresh Python process (``_case``), so the CPU
peak memory is that process's peak RSS (``ru_maxrss``); the RSS of an idle process that
imported torch and the model is reported alongside. On CUDA the peak is
``torch.cuda.max_memory_allocated``. Time is the median over ``--repeats`` runs after one
warm-up. Models are built with their default configs (random weights; cost does not
depend on the values).

What is timed: ``neurop`` is the forward pass as published (full-resolution 64-channel
tensors, ``torch.no_grad``); ``bno`` is :meth:`BilateralNeuralOperators.enhance` working
in place on its float32 input buffer, as ``bno-enhance`` does.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click
from tabulate import tabulate

DEFAULT_RESOLUTIONS = "500x300,1200x900,2500x1200,4000x3000"


def _parse_resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"resolution must look like 4000x3000, got {text!r}") from None
    return w, h


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(model_kind: str, width: int, height: int, device: str, threads: int, repeats: int) -> dict:
    """Time one case in this process; returns a JSON row."""
    import torch

    from bno.model import build_model

    torch.set_num_threads(threads)
    model = build_model(model_kind).to(device).eval()
    params = sum(p.numel() for p in model.parameters())
    image = torch.empty(1, 3, height, width, device=device)

    def once() -> float:
        image.uniform_(generator=None)  # fresh input (BNO works in place), not timed
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        if model_kind == "bno":
            model.enhance(image, inplace=True)
        else:
            with torch.no_grad():
                model(image)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()  # warm-up (builds the fused CPU kernel on first use)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = [once() for _ in range(repeats)]
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mb()
    return {
        "model": model_kind,
        "resolution": f"{width}x{height}",
        "device": device if device == "cpu" else f"cuda ({torch.cuda.get_device_name()})",
        "ms": round(1000 * statistics.median(times), 2),
        "peak_mb": round(peak, 1),
        "params": params,
        "threads": threads,
        "repeats": repeats,
    }


def _subprocess_json(args: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "bno.pipelines.bench.model", *args], capture_output=True, text=True,
    )
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise click.ClickException(f"case {' '.join(args)} failed: {tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in sorted({r["model"] for r in rows}):
        sel = sorted((r for r in rows if r["model"] == kind), key=lambda r: _mp(r["resolution"]))
        mp = [_mp(r["resolution"]) for r in sel]
        ax_t.plot(mp, [r["ms"] for r in sel], "o-", label=kind)
        ax_m.plot(mp, [r["peak_mb"] for r in sel], "o-", label=kind)
    for ax, label in ((ax_t, "median time (ms)"), (ax_m, "peak memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("megapixels")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"bno-bench model — {rows[0]['device']}, {rows[0]['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mp(resolution: str) -> float:
    w, h = _parse_resolution(resolution)
    return w * h / 1e6


@click.group()
def bench() -> None:
    """Benchmarks of the BNO toolkit."""


@bench.command("model")
@click.option("--models", default="bno,neurop", show_default=True, help="Comma-separated: bno, neurop.")
@click.option("--resolutions", default=DEFAULT_RESOLUTIONS, show_default=True, help="Comma-separated WxH.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="torch CPU threads.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Timed runs per case (median).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the rows here.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="PNG plot of time and memory against megapixels (default: beside --json).")
def model_command(models, resolutions, device, threads, repeats, json_path, plot_path) -> None:
    """Median time and peak memory per (model, resolution), each in a fresh process."""
    kinds = [m.strip() for m in models.split(",") if m.strip()]
    for kind in kinds:
        if kind not in ("bno", "neurop"):
            raise click.BadParameter(f"unknown model {kind!r}", param_hint="--models")
    sizes = [_parse_resolution(r.strip()) for r in resolutions.split(",") if r.strip()]
    common = ["--device", device, "--threads", str(threads)]
    idle = _subprocess_json(["_case", "--idle", *common])
    click.echo(f"idle process (python + torch + model imported): {idle['peak_mb']:.0f} MB peak RSS")
    rows = []
    for kind in kinds:
        for w, h in sizes:
            row = _subprocess_json(
                ["_case", "--model", kind, "--resolution", f"{w}x{h}", "--repeats", str(repeats), *common]
            )
            rows.append({**row, "model": kind, "megapixels": w * h / 1e6})
            click.echo(f"  {kind} {row['resolution']}: {row['ms']:.1f} ms", err=True)
    table = [(r["model"], r["resolution"], f"{r['megapixels']:.2f}", f"{r['ms']:.1f}", f"{r['peak_mb']:.0f}", r["params"]) for r in rows]
    click.echo(tabulate(table, ("model", "resolution", "MP", "ms", "peak MB", "params"), tablefmt="github", disable_numparse=True))
    if json_path:
        json_path.write_text(json.dumps({"idle_peak_mb": idle["peak_mb"], "rows": rows}, indent=2) + "\n")
        plot_path = plot_path or json_path.with_suffix(".png")
    if plot_path:
        _plot(rows, plot_path)
        click.echo(f"plot: {plot_path}")


@bench.command("_case", hidden=True)
@click.option("--model", "model_kind", type=click.Choice(["bno", "neurop"]), default="bno")
@click.option("--resolution", default="500x300")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu")
@click.option("--threads", type=int, default=2)
@click.option("--repeats", type=int, default=3)
@click.option("--idle", is_flag=True, help="Only import torch and the model; report the RSS.")
def case_command(model_kind, resolution, device, threads, repeats, idle) -> None:
    """One case in this (fresh) process; prints one JSON line."""
    if idle:
        import torch  # noqa: F401

        import bno.model  # noqa: F401

        click.echo(json.dumps({"peak_mb": round(_peak_rss_mb(), 1)}))
        return
    w, h = _parse_resolution(resolution)
    click.echo(json.dumps(run_case(model_kind, w, h, device, threads, repeats)))


main = bench

if __name__ == "__main__":
    main()
