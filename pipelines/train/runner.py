"""Start or resume a stage: config + data + run directory → :func:`bno.pipelines.train.loop.train`.

This is what ``bno-train stage1`` / ``stage2`` call (and the DDP test, once per process).
The config arrives validated (:func:`bno.pipelines.train.config.load_config`); the device is
checked before any data is read, and a resumed run must rebuild exactly the saved model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch

from bno.model import CheckpointError, SequentialRetoucher

from bno.pipelines.train.config import TrainConfig, config_to_dict
from bno.pipelines.train.distributed import DistContext
from bno.pipelines.train.loop import pick_device, train
from bno.pipelines.train.runs import RunDir

__all__ = ["run_stage", "check_same_model"]


def check_same_model(checkpoint: Path, model: SequentialRetoucher) -> None:
    """Refuse a checkpoint whose model config differs from ``model``'s, naming the fields."""
    record = json.loads((checkpoint / "config.json").read_text())
    ours = json.loads(json.dumps(config_to_dict(model.config)))
    theirs = record.get("config", {})
    if record.get("model") != model.kind:
        raise CheckpointError(f"{checkpoint}: holds a {record.get('model')!r} model, the config builds {model.kind!r}")
    diff = [f"{k}: checkpoint {theirs.get(k)!r} vs config {ours.get(k)!r}" for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
    if diff:
        raise CheckpointError(f"{checkpoint}: the model does not match the config — " + "; ".join(diff))


def run_stage(
    stage: str,
    config: TrainConfig,
    out: str | Path,
    *,
    data: str | Path | None = None,
    ops: Sequence[str] | None = None,
    init: str | Path | None = None,
    resume: bool = False,
    ctx: DistContext = DistContext(),
    check_audit: bool = True,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Run ``stage`` ("stage1" | "stage2") into run directory ``out`` (new, or resumed)."""
    run = RunDir(out, writer=ctx.main)
    if resume:
        saved = run.info()
        data = data or saved["data"]
        ops = ops or saved.get("operators") if stage == "stage1" else None
        init = init or saved.get("init")
        if saved.get("stage") != stage:
            raise ValueError(f"{out} is a {saved.get('stage')} run, not {stage}")
    if data is None:
        raise ValueError("--data is required")
    if stage not in ("stage1", "stage2"):
        raise ValueError(f"unknown stage {stage!r}")
    device = pick_device(config.device, ctx)  # a missing GPU is reported before any data is read
    if config.threads:
        torch.set_num_threads(config.threads)
    if stage == "stage1":
        from bno.pipelines.train.stage1 import build_stage1

        spec, info = build_stage1(config, data, ops, check_audit=check_audit and not resume)
    else:
        from bno.pipelines.train.stage2 import build_stage2

        spec, info = build_stage2(config, data, init, check_audit=check_audit and not resume)
    if resume:
        saved = run.info()
        if saved.get("dataset_manifest_sha256") != info["dataset_manifest_sha256"]:
            raise ValueError(f"{data}: the dataset changed since {out} started (manifest sha256 differs); start a new run")
        last = run.last()
        if last is None:
            raise FileNotFoundError(f"{out}: no complete 'last' checkpoint to resume from")
        check_same_model(last, spec.model)
        run.write_config(config)
    else:
        run.create(config, {**info, "world_size": ctx.world, "device": str(device)})
    ctx.barrier()
    if config.tensorboard:
        run.enable_tensorboard()
    try:
        summary = train(
            spec,
            run,
            seed=config.seed,
            device=device,
            ctx=ctx,
            workers=config.workers,
            amp=config.amp,
            progress=config.progress,
            resume=resume,
            stop_after_steps=stop_after_steps,
        )
    except BaseException:
        if not resume:
            run.discard_unstarted()  # failed before its first checkpoint: leave nothing a rerun refuses
        raise
    finally:
        run.close()
    summary.update(run=str(run.path), info=info, device=str(device))
    return summary
