"""Training: typed recipes, datasets, losses, the shared loop, run directories and DDP helpers.

``bno-train stage1`` (each operator alone on operator pairs), ``bno-train stage2`` (the
whole chain on expert pairs) and ``bno-train evaluate`` are in :mod:`pipelines.train_cli`;
:func:`run_stage` is the Python entry point.
"""

from .config import ConfigError, TrainConfig, load_config
from .loop import TrainingError
from .runner import run_stage
from .runs import RunDir, resolve_checkpoint

__all__ = ["ConfigError", "RunDir", "TrainConfig", "TrainingError", "load_config", "resolve_checkpoint", "run_stage"]
