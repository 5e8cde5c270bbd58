"""The training loop shared by both stages and both models (BNO and the NeurOp baseline).

A stage hands :func:`train` a :class:`StageSpec`: the module whose ``forward(batch)``
returns ``(loss, {part: value})`` (wrapped in DDP when several processes run), the
dataset keyed by ``(epoch, i)``, the evaluation function and how to score it. The loop

* steps Adam(W) with a per-step learning-rate schedule (warm-up, cosine/step/constant),
  bfloat16 autocast on CUDA, optional gradient clipping;
* stops on a NaN/inf loss with a clear message, leaving the last good checkpoint;
* evaluates (rank 0) every ``eval_every`` epochs, keeps ``best`` by the score, writes
  ``last`` (model + optimiser + schedule + position) every epoch and every
  ``checkpoint_every`` steps, appends ``metrics.jsonl`` and redraws ``loss_curve.png``;
* resumes from ``last`` exactly: the samples of step ``s`` depend only on
  ``(seed, epoch, s)``, so a run killed with ``kill -9`` and resumed ends with the same
  weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from bno.model import SequentialRetoucher

from bno.pipelines.train.config import StageConfig
from bno.pipelines.train.data import KeySampler, worker_init
from bno.pipelines.train.distributed import DistContext
from bno.pipelines.train.runs import RunDir

__all__ = ["StageSpec", "TrainingError", "lr_factor", "pick_device", "train"]


class TrainingError(RuntimeError):
    """A run that cannot go on (NaN loss, out of memory, bad data); one-line message."""


@dataclass
class StageSpec:
    """What a stage gives the loop."""

    name: str  # "stage1" | "stage2"
    stage: StageConfig  # the stage's section of the config
    model: SequentialRetoucher  # the full model (what checkpoints hold)
    step_module: nn.Module  # forward(batch) -> (loss, {part: tensor}); holds the trained parameters
    dataset: Dataset  # keyed by (epoch, i)
    collate: Callable[[list], Any] | None  # DataLoader collate_fn
    steps_per_epoch: int  # optimiser steps per epoch
    images_per_item: int  # images one item feeds the network (img/s)
    evaluate: Callable[[SequentialRetoucher, torch.device], list[dict[str, Any]]]  # held-out records
    score: Callable[[list[dict[str, Any]]], float | None]  # higher is better (best checkpoint)
    provenance: dict[str, Any] = field(default_factory=dict)  # written into every checkpoint
    lr_scales: dict[str, float] = field(default_factory=dict)  # parameter-name prefix → lr multiplier (0 = frozen)


def pick_device(name: str, ctx: DistContext) -> torch.device:
    """``auto``: CUDA (this rank's GPU) when present, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{ctx.local_rank}"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("device cuda requested but CUDA is not available")
        torch.cuda.set_device(device)
    return device


def lr_factor(step: int, stage: StageConfig, total: int) -> float:
    """Learning-rate multiplier at optimiser step ``step`` of ``total``."""
    if stage.warmup_steps and step < stage.warmup_steps:
        return (step + 1) / stage.warmup_steps
    t = min(1.0, (step - stage.warmup_steps) / max(1, total - stage.warmup_steps))
    if stage.schedule == "cosine":
        return stage.min_lr_ratio + (1 - stage.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    if stage.schedule == "step":
        return stage.min_lr_ratio ** sum(t >= m for m in stage.step_milestones)
    return 1.0


def to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors in nested dicts/tuples/lists to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def _progress(total: int, initial: int, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True, unit="step")


def _oom_types() -> tuple[type[BaseException], ...]:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom,) if oom is not None else ()


def train(
    spec: StageSpec,
    run: RunDir,
    *,
    seed: int,
    device: torch.device,
    ctx: DistContext = DistContext(),
    workers: int = 0,
    amp: bool = True,
    progress: bool = True,
    resume: bool = False,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Train ``spec`` into ``run``; returns a summary (best score/epoch, final records, wall time).

    ``stop_after_steps`` ends the call early (after that many optimiser steps of this
    call, with a ``last`` checkpoint) — for tests and time-boxed runs.
    """
    stage = spec.stage
    model, module = spec.model.to(device), spec.step_module.to(device)
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, param in module.named_parameters():
        scale = next((v for prefix, v in spec.lr_scales.items() if name.startswith(prefix)), 1.0)
        if scale == 0:
            param.requires_grad_(False)  # frozen (and ignored by DDP)
        elif param.requires_grad:
            groups.setdefault(scale, []).append(param)
    params = [p for group in groups.values() for p in group]
    opt_cls = torch.optim.AdamW if stage.weight_decay else torch.optim.Adam
    optimizer = opt_cls(
        [{"params": group, "lr": stage.lr * scale} for scale, group in groups.items()],
        lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay,
    )
    total = stage.epochs * spec.steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, stage, total))
    state: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0, "best_score": None, "best_epoch": None, "elapsed": 0.0, "sums": {}, "count": 0}
    if resume:
        last, saved = run.load_trainer_state()
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(last / "model.safetensors")), strict=True)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state.update({k: saved[k] for k in state if k in saved})
        run.truncate_metrics(int(state["global_step"]))
    wrapped: nn.Module = module
    if ctx.world > 1:
        wrapped = nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
    use_amp = amp and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    local_batch = stage.batch_size // ctx.world
    started = time.perf_counter() - float(state["elapsed"])
    steps_this_call = 0
    last_records: list[dict[str, Any]] = []

    def trainer_state() -> dict[str, Any]:
        return {
            **{k: state[k] for k in ("epoch", "step", "global_step", "best_score", "best_epoch", "sums", "count")},
            "elapsed": time.perf_counter() - started,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }

    def provenance() -> dict[str, Any]:
        return {**spec.provenance, "stage": spec.name, "epoch": state["epoch"], "global_step": state["global_step"], "run": str(run.path)}

    while state["epoch"] < stage.epochs:
        epoch = int(state["epoch"])
        sampler = KeySampler(epoch, spec.steps_per_epoch, stage.batch_size, int(state["step"]), ctx.rank, ctx.world)
        loader = DataLoader(
            spec.dataset,
            batch_size=local_batch,
            sampler=sampler,
            num_workers=workers,
            collate_fn=spec.collate,
            worker_init_fn=functools.partial(worker_init, seed=seed) if workers else None,
            persistent_workers=False,
            pin_memory=device.type == "cuda",
        )
        bar = _progress(spec.steps_per_epoch, int(state["step"]), f"{spec.name} epoch {epoch + 1}/{stage.epochs}", progress and ctx.main)
        tick, tick_images = time.perf_counter(), 0
        module.train()
        try:
            for batch in loader:
                batch = to_device(batch, device)
                with autocast():
                    loss, parts = wrapped(batch)
                bad = not bool(torch.isfinite(loss.detach()).item())
                if ctx.any_true(bad):
                    where = f"epoch {epoch + 1} step {int(state['step']) + 1}"
                    last = run.last()
                    keep = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
                    raise TrainingError(
                        f"{spec.name}: the loss became {float(loss.detach().item())} at {where}; stopped — {keep} "
                        f"(try a lower lr, e.g. --set {spec.name}.lr={stage.lr / 10:g})"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if stage.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
                optimizer.step()
                scheduler.step()
                state["step"] += 1
                state["global_step"] += 1
                state["count"] += 1
                for name, value in {"loss": loss, **parts}.items():
                    state["sums"][name] = state["sums"].get(name, 0.0) + float(value.detach().item())
                steps_this_call += 1
                tick_images += local_batch * ctx.world * spec.images_per_item
                if bar is not None:
                    rate = tick_images / max(time.perf_counter() - tick, 1e-9)
                    bar.set_postfix(loss=f"{float(loss.detach().item()):.4g}", img_s=f"{rate:.1f}")
                    bar.update(1)
                if stage.checkpoint_every and state["global_step"] % stage.checkpoint_every == 0 and state["step"] < spec.steps_per_epoch:
                    if ctx.main:
                        run.save("last", model, provenance(), trainer_state())
                    ctx.barrier()
                if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                    if ctx.main:
                        run.save("last", model, provenance(), trainer_state())
                    ctx.barrier()
                    return {"stopped_early": True, "global_step": state["global_step"]}
        except _oom_types() as error:  # pragma: no cover - needs a GPU
            raise TrainingError(
                f"{spec.name}: CUDA out of memory at batch {stage.batch_size}, crop {stage.crop_size}: try a smaller "
                f"--set {spec.name}.batch_size=… or --set {spec.name}.crop_size=… ({str(error).splitlines()[0]})"
            ) from None
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - tick
        # ---- end of epoch: train record, evaluation, checkpoints
        count = max(int(state["count"]), 1)
        means = {k: ctx.mean(v / count) for k, v in state["sums"].items()}
        epoch_no = epoch + 1
        records: list[dict[str, Any]] = [
            {
                "epoch": epoch_no,
                "global_step": state["global_step"],
                "split": "train",
                "loss": means.pop("loss"),
                "lr": optimizer.param_groups[0]["lr"],
                "images_per_s": tick_images / max(seconds, 1e-9),
                "elapsed_s": time.perf_counter() - started,
            }
        ]
        for name, value in sorted(means.items()):  # per-op losses of stage 1 ("loss/EX")
            op = name.split("/", 1)[1] if "/" in name else None
            records.append({"epoch": epoch_no, "global_step": state["global_step"], "split": "train", "op": op, "loss": value})
        state["epoch"], state["step"], state["sums"], state["count"] = epoch_no, 0, {}, 0
        improved = False
        if ctx.main:
            evaluated = epoch_no % stage.eval_every == 0 or epoch_no == stage.epochs
            if evaluated:
                module.eval()
                with torch.no_grad():
                    held_out = spec.evaluate(model, device)
                module.train()
                for record in held_out:
                    record.update(epoch=epoch_no, global_step=state["global_step"])
                records.extend(held_out)
                score = spec.score(held_out)
                if score is not None and (state["best_score"] is None or score > state["best_score"]):
                    state["best_score"], state["best_epoch"], improved = float(score), epoch_no, True
                elif score is None and state["best_score"] is None:
                    improved = True  # nothing to validate on: best = latest
            run.log(records)
            if improved:
                run.save("best", model, provenance(), extra={"epoch": epoch_no, "score": state["best_score"]})
            run.save("last", model, provenance(), trainer_state())
            run.plot()
            last_records = records
        ctx.barrier()
        if stop_after_steps is not None and steps_this_call >= stop_after_steps:
            return {"stopped_early": True, "global_step": state["global_step"]}
    return {
        "stopped_early": False,
        "best_score": state["best_score"],
        "best_epoch": state["best_epoch"],
        "global_step": state["global_step"],
        "seconds": time.perf_counter() - started,
        "records": last_records,
    }
