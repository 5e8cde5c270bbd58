"""Training throughput (images/s) of BNO and the NeurOp baseline, stage 1 and stage 2.

One "image" is one crop through forward + backward + Adam step: stage 1 feeds each
operator ``2B`` crops (the identity and the shifted term), stage 2 feeds the whole chain
(predictor + every operator) ``B`` crops. Synthetic inputs, so only the network is timed::

    bno-bench train --device cpu --threads 2
    bno-bench train --device cuda --batch 16 --crop 256 --crop 512
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from tabulate import tabulate

from bno.model import build_model

from bno.pipelines.train.losses import combined_loss

__all__ = ["MODELS", "BenchRow", "bench_step", "format_rows", "run_rows"]

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


def run_rows(device: torch.device, batch: int, crops: tuple[int, ...], steps: int, warmup: int, amp: bool) -> list[BenchRow]:
    """One row per (crop, model of :data:`MODELS`, stage)."""
    rows = []
    for crop in crops:
        for label, (kind, options) in MODELS.items():
            for stage, name in (("stage1", "stage1 (one operator)"), ("stage2", "stage2 (whole chain)")):
                rate, ms, params = bench_step(kind, options, stage, batch, crop, device, steps, warmup, amp)
                rows.append(BenchRow(label, params, name, batch, crop, rate, ms))
    return rows


def format_rows(rows: list[BenchRow], device: str) -> str:
    table = [(r.model, f"{r.params:,}", r.stage, r.batch, r.crop, f"{r.images_per_s:.1f}", f"{r.ms_per_step:.0f}") for r in rows]
    header = ("model", "params", "stage", "batch", "crop", "images/s", "ms/step")
    title = f"Training throughput on {device} (forward + backward + Adam step, synthetic crops)"
    return f"{title}\n\n{tabulate(table, header, tablefmt='github', disable_numparse=True)}"
