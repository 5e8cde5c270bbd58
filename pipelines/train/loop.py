"""The training loop shared by both stages and both models (BNO and the NeurOp baseline).

A stage hands :func:`train` a :class:`StageSpec`: the module whose ``forward(batch)``
returns ``(loss, {part: value})`` (wrapped in DDP when several processes run), the
dataset keyed by ``(epoch, i)``, the evaluation function and how to score it. The loop

* steps Adam(W) with a per-step learning-rate schedule (warm-up, cosine/step/constant),
  bfloat16 autocast on CUDA, optional gradient clipping;
* stops on a NaN/inf loss with a clear message, leaving the last good checkpoint, and
  checks the weights before every save, so no checkpoint ever holds NaN/inf;
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

__all__ = ["StageSpec", "TrainingError", "build_optimizer", "lr_factor", "nonfinite_tensors", "pick_device", "train"]


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


def build_optimizer(
    module: nn.Module, stage: StageConfig, lr_scales: Mapping[str, float]
) -> tuple[torch.optim.Optimizer, list[nn.Parameter]]:
    """Adam (AdamW with weight decay) over ``module``'s parameters, one group per lr scale.

    A parameter whose name starts with a prefix of ``lr_scales`` gets ``lr × scale``; scale 0
    freezes it (``requires_grad=False``, so DDP ignores it). Returns the optimiser and the
    trained parameters (for gradient clipping).
    """
    groups: dict[float, list[nn.Parameter]] = {}
    for name, param in module.named_parameters():
        scale = next((v for prefix, v in lr_scales.items() if name.startswith(prefix)), 1.0)
        if scale == 0:
            param.requires_grad_(False)  # frozen (and ignored by DDP)
        elif param.requires_grad:
            groups.setdefault(scale, []).append(param)
    opt_cls = torch.optim.AdamW if stage.weight_decay else torch.optim.Adam
    optimizer = opt_cls(
        [{"params": group, "lr": stage.lr * scale} for scale, group in groups.items()],
        lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay,
    )
    return optimizer, [p for group in groups.values() for p in group]


def nonfinite_tensors(model: nn.Module) -> list[str]:
    """Names of ``model``'s floating-point parameters and buffers holding a NaN or ±inf."""
    return [
        name for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]


#: The position and running sums saved in ``trainer.pt`` (with the optimiser and schedule).
POSITION_KEYS = ("epoch", "step", "global_step", "best_score", "best_epoch", "sums", "count")


class _Trainer:
    """One call of :func:`train`: the model, optimiser, schedule and position, and the steps
    of an epoch (load, step, checkpoint, evaluate), each a method."""

    def __init__(self, spec: StageSpec, run: RunDir, *, seed: int, device: torch.device, ctx: DistContext,
                 workers: int, amp: bool, progress: bool, stop_after_steps: int | None) -> None:
        self.spec, self.run, self.stage, self.ctx, self.device = spec, run, spec.stage, ctx, device
        self.seed, self.workers, self.progress, self.stop_after_steps = seed, workers, progress, stop_after_steps
        self.model, self.module = spec.model.to(device), spec.step_module.to(device)
        self.optimizer, self.params = build_optimizer(self.module, self.stage, spec.lr_scales)
        total = self.stage.epochs * spec.steps_per_epoch
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, self.stage, total))
        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0, "best_score": None, "best_epoch": None, "elapsed": 0.0, "sums": {}, "count": 0}
        use_amp = amp and device.type == "cuda"
        self.autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
        self.local_batch = self.stage.batch_size // ctx.world
        self.wrapped: nn.Module = self.module
        self.started = time.perf_counter()
        self.steps_this_call = 0
        self.last_records: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ start, resume, state

    def restore(self) -> None:
        """Continue from the run's ``last`` checkpoint: weights, optimiser, schedule and position."""
        from safetensors.torch import load_file

        last, saved = self.run.load_trainer_state()
        self.model.load_state_dict(load_file(str(last / "model.safetensors")), strict=True)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.state.update({k: saved[k] for k in self.state if k in saved})
        self.run.truncate_metrics(int(self.state["global_step"]))

    def start(self) -> None:
        """Wrap the step module in DDP when several processes run; start the clock."""
        if self.ctx.world > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(self.module, device_ids=device_ids)
        self.started = time.perf_counter() - float(self.state["elapsed"])

    def trainer_state(self) -> dict[str, Any]:
        return {
            **{k: self.state[k] for k in POSITION_KEYS},
            "elapsed": time.perf_counter() - self.started,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def provenance(self) -> dict[str, Any]:
        state = self.state
        return {**self.spec.provenance, "stage": self.spec.name, "epoch": state["epoch"], "global_step": state["global_step"], "run": str(self.run.path)}

    def _where(self) -> str:
        return f"epoch {int(self.state['epoch']) + 1} step {int(self.state['step']) + 1}"

    def _keep(self) -> str:
        last = self.run.last()
        return f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"

    # ------------------------------------------------------------------ one epoch

    def _loader(self, epoch: int) -> DataLoader:
        spec = self.spec
        sampler = KeySampler(epoch, spec.steps_per_epoch, self.stage.batch_size, int(self.state["step"]), self.ctx.rank, self.ctx.world)
        return DataLoader(
            spec.dataset,
            batch_size=self.local_batch,
            sampler=sampler,
            num_workers=self.workers,
            collate_fn=spec.collate,
            worker_init_fn=functools.partial(worker_init, seed=self.seed) if self.workers else None,
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )

    def run_epoch(self) -> bool:
        """Train the (rest of the) current epoch, then close it; ``True`` when ``stop_after_steps`` ended the call."""
        spec, stage = self.spec, self.stage
        epoch = int(self.state["epoch"])
        loader = self._loader(epoch)
        bar = _progress(spec.steps_per_epoch, int(self.state["step"]), f"{spec.name} epoch {epoch + 1}/{stage.epochs}", self.progress and self.ctx.main)
        tick, images = time.perf_counter(), 0
        self.module.train()
        try:
            for batch in loader:
                loss = self.step(batch)
                images += self.local_batch * self.ctx.world * spec.images_per_item
                if bar is not None:
                    bar.set_postfix(loss=f"{float(loss.detach().item()):.4g}", img_s=f"{images / max(time.perf_counter() - tick, 1e-9):.1f}")
                    bar.update(1)
                if self._checkpoint_within_epoch():
                    return True
        except _oom_types() as error:  # pragma: no cover - needs a GPU
            raise TrainingError(
                f"{spec.name}: CUDA out of memory at batch {stage.batch_size}, crop {stage.crop_size}: try a smaller "
                f"--set {spec.name}.batch_size=… or --set {spec.name}.crop_size=… ({str(error).splitlines()[0]})"
            ) from None
        finally:
            if bar is not None:
                bar.close()
        return self.end_epoch(epoch, time.perf_counter() - tick, images)

    def step(self, batch: Any) -> torch.Tensor:
        """One optimiser step on ``batch``; stops (:class:`TrainingError`) on a NaN/inf loss."""
        batch = to_device(batch, self.device)
        with self.autocast():
            loss, parts = self.wrapped(batch)
        if self.ctx.any_true(not bool(torch.isfinite(loss.detach()).item())):
            raise TrainingError(
                f"{self.spec.name}: the loss became {float(loss.detach().item())} at {self._where()}; stopped — {self._keep()} "
                f"(try a lower lr, e.g. --set {self.spec.name}.lr={self.stage.lr / 10:g})"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.stage.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.params, self.stage.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        state = self.state
        state["step"] += 1
        state["global_step"] += 1
        state["count"] += 1
        for name, value in {"loss": loss, **parts}.items():
            state["sums"][name] = state["sums"].get(name, 0.0) + float(value.detach().item())
        self.steps_this_call += 1
        return loss

    def _stop_now(self) -> bool:
        return self.stop_after_steps is not None and self.steps_this_call >= self.stop_after_steps

    def _checkpoint_within_epoch(self) -> bool:
        """Save ``last`` every ``checkpoint_every`` steps and when the call stops early; ``True`` to stop."""
        state, every = self.state, self.stage.checkpoint_every
        if every and state["global_step"] % every == 0 and state["step"] < self.spec.steps_per_epoch:
            self.save_last()
        if self._stop_now():
            self.save_last()
            return True
        return False

    # ------------------------------------------------------------------ checkpoints, end of epoch

    def check_weights(self) -> None:
        """Stop (:class:`TrainingError`) before a checkpoint would hold NaN/inf weights (all ranks call it)."""
        bad = nonfinite_tensors(self.model)
        if self.ctx.any_true(bool(bad)):
            name = bad[0] if bad else "on another rank"
            raise TrainingError(
                f"{self.spec.name}: the weights became NaN/inf ({name}) by epoch {int(self.state['epoch']) + 1} "
                f"(step {self.state['global_step']}); stopped without saving them — {self._keep()} "
                f"(try a lower lr or --set {self.spec.name}.grad_clip=1.0)"
            )

    def save_last(self) -> None:
        self.check_weights()
        if self.ctx.main:
            self.run.save("last", self.model, self.provenance(), self.trainer_state())
        self.ctx.barrier()

    def _train_records(self, epoch_no: int, seconds: float, images: int) -> list[dict[str, Any]]:
        """The epoch's mean training loss (all ranks) and per-op losses as ``metrics.jsonl`` records."""
        state = self.state
        count = max(int(state["count"]), 1)
        means = {k: self.ctx.mean(v / count) for k, v in state["sums"].items()}
        records: list[dict[str, Any]] = [
            {
                "epoch": epoch_no,
                "global_step": state["global_step"],
                "split": "train",
                "loss": means.pop("loss"),
                "lr": self.optimizer.param_groups[0]["lr"],
                "images_per_s": images / max(seconds, 1e-9),
                "elapsed_s": time.perf_counter() - self.started,
            }
        ]
        for name, value in sorted(means.items()):  # per-op losses of stage 1 ("loss/EX")
            op = name.split("/", 1)[1] if "/" in name else None
            records.append({"epoch": epoch_no, "global_step": state["global_step"], "split": "train", "op": op, "loss": value})
        return records

    def _evaluate(self, epoch_no: int) -> tuple[list[dict[str, Any]], bool]:
        """Held-out records (rank 0, every ``eval_every`` epochs and after the last) and whether the score improved."""
        state = self.state
        if not (epoch_no % self.stage.eval_every == 0 or epoch_no == self.stage.epochs):
            return [], False
        self.module.eval()
        with torch.no_grad():
            held_out = self.spec.evaluate(self.model, self.device)
        self.module.train()
        for record in held_out:
            record.update(epoch=epoch_no, global_step=state["global_step"])
        score = self.spec.score(held_out)
        if score is not None and (state["best_score"] is None or score > state["best_score"]):
            state["best_score"], state["best_epoch"] = float(score), epoch_no
            return held_out, True
        return held_out, score is None and state["best_score"] is None  # nothing to validate on: best = latest

    def end_epoch(self, epoch: int, seconds: float, images: int) -> bool:
        """Log, evaluate, save ``best`` (when improved) and ``last``; ``True`` when the call stops here."""
        epoch_no = epoch + 1
        self.check_weights()
        records = self._train_records(epoch_no, seconds, images)
        self.state.update(epoch=epoch_no, step=0, sums={}, count=0)
        if self.ctx.main:
            held_out, improved = self._evaluate(epoch_no)
            records.extend(held_out)
            self.run.log(records)
            if improved:
                self.run.save("best", self.model, self.provenance(), extra={"epoch": epoch_no, "score": self.state["best_score"]})
            self.run.save("last", self.model, self.provenance(), self.trainer_state())
            self.run.plot()
            self.last_records = records
        self.ctx.barrier()
        return self._stop_now()

    def summary(self) -> dict[str, Any]:
        state = self.state
        return {
            "stopped_early": False,
            "best_score": state["best_score"],
            "best_epoch": state["best_epoch"],
            "global_step": state["global_step"],
            "seconds": time.perf_counter() - self.started,
            "records": self.last_records,
        }


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
    call, with a ``last`` checkpoint) — for tests and time-boxed runs. A NaN/inf loss, or
    weights that became NaN/inf, stop the run with :class:`TrainingError` before anything
    non-finite is saved.
    """
    trainer = _Trainer(spec, run, seed=seed, device=device, ctx=ctx, workers=workers, amp=amp, progress=progress,
                       stop_after_steps=stop_after_steps)
    if resume:
        trainer.restore()
    trainer.start()
    while trainer.state["epoch"] < spec.stage.epochs:
        if trainer.run_epoch():
            return {"stopped_early": True, "global_step": trainer.state["global_step"]}
    return trainer.summary()
