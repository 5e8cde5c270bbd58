"""The seed's Table 2 — time and peak memory of BNO vs NeurOp by resolution.

Used by ``bno-bench model``. Every (model, resolution) case runs in a fresh Python process, so the CPU
peak memory is that process's peak RSS (``ru_maxrss``); the RSS of an idle process that
imported torch and the model is reported alongside. On CUDA the peak is
``torch.cuda.max_memory_allocated``. Time is the median over ``--repeats`` runs after one
warm-up. Models are built with their default configs (random weights; cost does not
depend on the values), or with ``shipped=True`` loaded from the weights that ship with ``bno``
(their configs: BNO's 128² low-resolution path and, for both, three averaged strength predictors).

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


DEFAULT_RESOLUTIONS = "500x300,1200x900,2500x1200,4000x3000"


def parse_resolution(text: str) -> tuple[int, int]:
    """``"4000x3000"`` → ``(4000, 3000)``; ``ValueError`` naming the text otherwise."""
    try:
        w, h = (int(v) for v in text.strip().lower().split("x"))
    except ValueError:
        raise ValueError(f"resolution must look like 4000x3000, got {text!r}") from None
    return w, h


def peak_rss_mb() -> float:
    """This process's peak resident set size, MB."""
    return _peak_rss_kib() / 1024


def _peak_rss_kib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run_case(model_kind: str, width: int, height: int, device: str, threads: int, repeats: int, shipped: bool = False) -> dict:
    """Time one case in this process; returns a JSON row (``model`` is e.g. ``"bno"`` or ``"bno (shipped)"``)."""
    import torch

    from bno.model import build_model, load_checkpoint, pretrained_checkpoint
    from bno.model.devices import pick_device

    torch.set_num_threads(threads)
    device = pick_device(device)
    cuda = device.type == "cuda"
    model = load_checkpoint(pretrained_checkpoint(model_kind)) if shipped else build_model(model_kind)
    model = model.to(device).eval()
    params = sum(p.numel() for p in model.parameters())
    image = torch.empty(1, 3, height, width, device=device)

    def once() -> float:
        image.uniform_(generator=None)  # fresh input (BNO works in place), not timed
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        if model_kind == "bno":
            model.enhance(image, inplace=True)
        else:
            with torch.no_grad():
                model(image)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()  # warm-up (builds the fused CPU kernel on first use)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = [once() for _ in range(repeats)]
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    return {
        "model": f"{model_kind} (shipped)" if shipped else model_kind,
        "resolution": f"{width}x{height}",
        "device": f"cuda ({torch.cuda.get_device_name(device)})" if cuda else str(device),
        "ms": round(1000 * statistics.median(times), 2),
        "peak_mb": round(peak, 1),
        "params": params,
        "threads": threads,
        "repeats": repeats,
    }


def idle_peak_mb() -> float:
    """Peak RSS (MB) of a process that has imported torch and the model and done nothing else."""
    import torch  # noqa: F401

    import bno.model  # noqa: F401

    return round(peak_rss_mb(), 1)


def in_fresh_process(case: list[str]) -> dict:
    """Run ``bno-bench model-case CASE…`` in a new interpreter (its own peak RSS); its JSON row.

    Raises ``RuntimeError`` with the case's last error line when it fails.
    """
    command = [sys.executable, "-m", "bno.pipelines.cli.bench", "model-case", *case]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"case {' '.join(case)} failed: {tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def plot_rows(rows: list[dict], path: Path) -> None:
    """Time and peak memory against megapixels (log-log), one line per model, as a PNG."""
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
    w, h = parse_resolution(resolution)
    return w * h / 1e6
