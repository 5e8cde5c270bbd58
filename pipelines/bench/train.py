"""Training throughput (images/s) of BNO and the NeurOp baseline, stage 1 and stage 2.

One "image" is one crop through forward + backward + Adam step: stage 1 feeds each
operator ``2B`` crops (the identity and the shifted term), stage 2 feeds the whole chain
(predictor + every operator) ``B`` crops. Synthetic inputs, so only the network is timed::

    python -m bno.pipelines.bench.train --device cpu --threads 2
    python -m bno.pipelines.bench.train --device cuda --batch 16 --crop 256 --crop 512
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import click
from tabulate import tabulate
import torch

from bno.model import build_model

from bno.pipelines.train.losses import combined_loss

__all__ = ["BenchRow", "bench_step", "main"]

#: name → (model kind, constructor options): the seed's BNO, the quick recipe's BNO, NeurOp.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "BNO (seed, 256² low-res)": ("bno", {}),
    "BNO (quick: 128² low-res, per-channel guide)": (
        "bno", {"bilateral": {"lowres_size": 128, "per_channel_guide": True}, "predictor_height": 128}
    ),
    "NeurOp": ("neurop", {}),
}


@dataclass
class BenchRow:
    model: str  # row label
    params: int  # trainable parameters of the whole model
    stage: str  # "stage1 (one operator)" or "stage2 (whole chain)"
    batch: int  # crops per step (stage 1: per term)
    crop: int  # square crop side, px
    images_per_s: float  # crops per second through forward + backward + step
    ms_per_step: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_step(kind: str, options: dict[str, Any], stage: str, batch: int, crop: int, device: torch.device, steps: int, warmup: int, amp: bool) -> tuple[float, float, int]:
    """(images/s, ms/step, params) of ``steps`` timed training steps after ``warmup``."""
    torch.manual_seed(0)
    operators = ["BC", "EX", "WB", "VB"] if kind == "bno" else ["BC", "EX", "VB"]
    model = build_model(kind, {**options, "operators": operators}).to(device).train()
    params = sum(p.numel() for p in model.parameters())
    x = torch.rand(batch, 3, crop, crop, device=device)
    y = torch.rand(batch, 3, crop, crop, device=device)
    v = torch.rand(batch, device=device) * 2 - 1
    if stage == "stage1":
        op = model.operators["EX"]
        trained = list(op.parameters())
        images = 2 * batch

        def loss_fn():
            out = op(torch.cat([x, x]), torch.cat([torch.zeros_like(v), v]))
            return combined_loss(out[:batch], x, {"l1": 1.0}) + combined_loss(out[batch:], y, {"l1": 1.0})
    else:
        trained = list(model.parameters())
        images = batch

        def loss_fn():
            return combined_loss(model(x)[0], y, {"l1": 1.0, "cosine": 0.1, "tv": 0.1})

    optimizer = torch.optim.Adam(trained, lr=1e-5)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp and device.type == "cuda" else torch.autocast("cpu", enabled=False)
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            started = time.perf_counter()
        with autocast:
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(device)
    seconds = (time.perf_counter() - started) / steps
    return images / seconds, seconds * 1000, params


def format_rows(rows: list[BenchRow], device: str) -> str:
    table = [(r.model, f"{r.params:,}", r.stage, r.batch, r.crop, f"{r.images_per_s:.1f}", f"{r.ms_per_step:.0f}") for r in rows]
    header = ("model", "params", "stage", "batch", "crop", "images/s", "ms/step")
    title = f"Training throughput on {device} (forward + backward + Adam step, synthetic crops)"
    return f"{title}\n\n{tabulate(table, header, tablefmt='github', disable_numparse=True)}"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N.")
@click.option("--threads", type=int, default=0, show_default=True, help="torch CPU threads (0 = default).")
@click.option("--batch", type=int, default=8, show_default=True, help="Crops per step (stage 1: per term).")
@click.option("--crop", "crops", type=int, multiple=True, default=(128,), show_default=True, help="Square crop side (repeatable).")
@click.option("--steps", type=int, default=5, show_default=True, help="Timed steps per row.")
@click.option("--warmup", type=int, default=2, show_default=True, help="Untimed steps first.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bfloat16 autocast on CUDA.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the rows as JSON.")
def main(device: str, threads: int, batch: int, crops: tuple[int, ...], steps: int, warmup: int, amp: bool, json_path: str | None) -> None:
    """Images/s of a training step for BNO and NeurOp (stage 1 and stage 2)."""
    if threads:
        torch.set_num_threads(threads)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    rows = []
    for crop in crops:
        for label, (kind, options) in MODELS.items():
            for stage, name in (("stage1", "stage1 (one operator)"), ("stage2", "stage2 (whole chain)")):
                rate, ms, params = bench_step(kind, options, stage, batch, crop, dev, steps, warmup, amp)
                rows.append(BenchRow(label, params, name, batch, crop, rate, ms))
    where = f"{dev} ({torch.get_num_threads()} threads)" if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    click.echo(format_rows(rows, where))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({"device": where, "rows": [asdict(r) for r in rows]}, handle, indent=2)


if __name__ == "__main__":
    main()
