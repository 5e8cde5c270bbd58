"""Run directories: resolved config, provenance, metrics log, loss curve and checkpoints.

Layout of ``RUN_DIR``::

    config.yaml            the resolved TrainConfig (what --resume reads back)
    run.json               stage, model, data path, dataset manifest sha256, code version, command
    metrics.jsonl          one JSON object per line: epoch, split, op (stage 1), loss, psnr, …
    loss_curve.png         training loss and validation PSNR per epoch
    checkpoints/last/      model (config.json + model.safetensors) + trainer.pt (optimiser, schedule, position)
    checkpoints/best/      model of the best validation score so far (+ score.json)
    tensorboard/           when TensorBoard is installed and enabled

Checkpoints are written atomically: into ``<name>.tmp/`` (a ``COMPLETE`` marker last),
then ``<name>`` → ``<name>.old``, ``<name>.tmp`` → ``<name>``, ``<name>.old`` removed. A
process killed at any moment leaves either ``<name>`` or ``<name>.old`` complete, and
:func:`checkpoint_dir` finds it. The trainer state is a ``torch.save`` of tensors and
plain values only, read back with ``weights_only=True``; resuming from a ``last`` whose
trainer state or weights cannot be read is a :class:`~bno.model.CheckpointError` naming the file.

A start that fails before the first checkpoint (:meth:`RunDir.discard_unstarted`) removes
what it wrote, so the same command can simply be run again; files that were in the folder
before the run are left alone.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from bno.errors import first_line
from bno.files import atomic_write_bytes
from bno.model import CheckpointError, SequentialRetoucher, save_checkpoint
from bno.model.checkpoint import COMPLETE, WEIGHTS_NAME, checkpoint_dir

from bno.pipelines.data.provenance import code_version
from bno.pipelines.train.config import TrainConfig, config_to_dict, load_config

__all__ = [
    "RunDir",
]

TRAINER_STATE = "trainer.pt"
#: Everything a run writes at its top level (what :meth:`RunDir.discard_unstarted` may remove).
RUN_FILES = ("config.yaml", "run.json", "metrics.jsonl", "loss_curve.png", "tensorboard", "checkpoints")
#: Keys the training loop reads back from ``trainer.pt``.
TRAINER_KEYS = ("optimizer", "scheduler")


class RunDir:
    """One training run's directory (only rank 0 writes)."""

    def __init__(self, path: str | os.PathLike[str], writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer
        self.metrics_path = self.path / "metrics.jsonl"
        self.ckpt_root = self.path / "checkpoints"
        self._tb = None
        self._made: list[str] | None = None  # RUN_FILES absent before create(); None: not created here
        self._made_folder = False

    # ------------------------------------------------------------------ creation, metadata

    def create(self, config: TrainConfig, info: Mapping[str, Any]) -> None:
        """Write ``config.yaml`` and ``run.json`` for a new run (refuses a folder holding a run)."""
        if not self.writer:
            return
        if (self.path / "run.json").exists():
            hint = "" if self._has_checkpoint() else " (it has no checkpoint yet: if it is not running, it was killed before its first one — delete the folder)"
            raise FileExistsError(f"{self.path} already holds a run; use --resume {self.path} or another --out{hint}")
        self._made_folder = not self.path.exists()
        self._made = [name for name in RUN_FILES if not os.path.lexists(self.path / name)]
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_config(config)
        record = {**info, "code": {**code_version(), "torch": torch.__version__}, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "command": sys.argv}
        atomic_write_bytes(self.path / "run.json", (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    def _has_checkpoint(self) -> bool:
        return any(checkpoint_dir(self.ckpt_root / name) is not None for name in ("last", "best"))

    def discard_unstarted(self) -> bool:
        """Undo :meth:`create` after a start that failed before any checkpoint; return whether it did.

        Removes only the run files this object created (not ones that were in the folder
        before), and the folder itself when :meth:`create` made it and it is now empty. A
        run with a ``last`` or ``best`` checkpoint is kept (it can be resumed or used).
        """
        if not self.writer or self._made is None or self._has_checkpoint():
            return False
        self.close()
        self._tb = None
        for name in self._made:
            target = self.path / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        if self._made_folder:
            try:
                self.path.rmdir()
            except OSError:  # something else was written there meanwhile: keep it
                pass
        self._made = None
        return True

    def write_config(self, config: TrainConfig) -> None:
        if self.writer:
            atomic_write_bytes(self.path / "config.yaml", yaml.safe_dump(config_to_dict(config), sort_keys=False).encode())

    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "run.json").read_text())

    def config(self, overrides: Iterable[str] = ()) -> TrainConfig:
        return load_config(self.path / "config.yaml", list(overrides))

    # ------------------------------------------------------------------ metrics

    def log(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records to ``metrics.jsonl`` (and TensorBoard when enabled)."""
        if not self.writer:
            return
        records = list(records)
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(dict(record), sort_keys=True) + "\n")
        if self._tb is not None:
            for record in records:
                tag = f"{record.get('split')}/{record['op']}" if record.get("op") else str(record.get("split"))
                for key in ("loss", "psnr", "ssim", "lr"):
                    if isinstance(record.get(key), (int, float)):
                        self._tb.add_scalar(f"{tag}/{key}", record[key], record.get("global_step", record.get("epoch", 0)))

    def enable_tensorboard(self) -> bool:
        if not self.writer:
            return False
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # tensorboard not installed
            return False
        self._tb = SummaryWriter(str(self.path / "tensorboard"))
        return True

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()

    def metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, global_step: int) -> None:
        """Drop records logged after ``global_step`` (work a killed run will redo)."""
        if not self.writer or not self.metrics_path.is_file():
            return
        keep = [r for r in self.metrics() if int(r.get("global_step", 0)) <= global_step]
        atomic_write_bytes(self.metrics_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep).encode())

    def plot(self) -> Path | None:
        """Write ``loss_curve.png``: mean training loss and validation PSNR per epoch (per op in stage 1)."""
        if not self.writer:
            return None
        records = self.metrics()
        if not records:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        fig, (ax_loss, ax_psnr) = plt.subplots(1, 2, figsize=(10, 4))
        for splits, ax, key in ((("train",), ax_loss, "loss"), (("test", "val"), ax_psnr, "psnr")):
            series: dict[str, list[tuple[float, float]]] = {}
            for r in records:
                if r.get("split") in splits and isinstance(r.get(key), (int, float)):
                    series.setdefault(r.get("op") or "all", []).append((r["epoch"], r[key]))
            for name, points in sorted(series.items()):
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o", markersize=3, label=name)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{'/'.join(splits)} {key}" + (" (dB)" if key == "psnr" else ""))
            if series:
                ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        ax_loss.set_yscale("log")
        fig.suptitle(self.path.name)
        fig.tight_layout()
        out = self.path / "loss_curve.png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        atomic_write_bytes(out, buffer.getvalue())
        return out

    # ------------------------------------------------------------------ checkpoints

    def save(
        self,
        name: str,
        model: SequentialRetoucher,
        provenance: Mapping[str, Any],
        trainer_state: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Path | None:
        """Atomically write checkpoint ``name`` (model + optional trainer state + extra JSON)."""
        if not self.writer:
            return None
        final = self.ckpt_root / name
        tmp = self.ckpt_root / (name + ".tmp")
        old = self.ckpt_root / (name + ".old")
        if tmp.exists():
            shutil.rmtree(tmp)
        save_checkpoint(model, tmp, provenance=provenance)
        if trainer_state is not None:
            buffer = io.BytesIO()
            torch.save(dict(trainer_state), buffer)
            atomic_write_bytes(tmp / TRAINER_STATE, buffer.getvalue())
        if extra is not None:
            (tmp / "score.json").write_text(json.dumps(dict(extra), indent=2, sort_keys=True) + "\n")
        (tmp / COMPLETE).write_text("ok\n")
        if final.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
        os.replace(tmp, final)
        if old.exists():
            shutil.rmtree(old)
        return final

    def last(self) -> Path | None:
        return checkpoint_dir(self.ckpt_root / "last")

    def load_trainer_state(self) -> tuple[Path, dict[str, Any]]:
        """The last checkpoint's directory and trainer state (``FileNotFoundError`` when none)."""
        last = self.last()
        if last is None or not (last / TRAINER_STATE).is_file():
            raise FileNotFoundError(f"{self.path}: no complete 'last' checkpoint to resume from")
        return last, _read_trainer_state(last / TRAINER_STATE, last / WEIGHTS_NAME)


def _read_trainer_state(state_path: Path, weights_path: Path) -> dict[str, Any]:
    """The trainer state of a checkpoint, after checking its weights file is whole.

    ``torch.load(weights_only=True)`` refuses a pickle that would build objects (so its code
    never runs); that, a truncated file or missing keys is a :class:`CheckpointError`
    naming the file, as is a ``model.safetensors`` whose header or length is wrong.
    """
    from safetensors import SafetensorError, safe_open

    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, AttributeError, ValueError) as error:
        raise CheckpointError(f"{state_path}: refused or unreadable trainer state (weights_only load): {first_line(error)}") from None
    if not isinstance(state, dict) or any(key not in state for key in TRAINER_KEYS):
        raise CheckpointError(f"{state_path}: not a trainer state (needs {', '.join(TRAINER_KEYS)})")
    try:
        with safe_open(str(weights_path), framework="pt") as handle:  # checks the header and the file length
            handle.keys()
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path}: corrupt safetensors file ({first_line(error)})") from None
    return state
