"""Training: typed recipes, datasets, losses, the shared loop, run directories and DDP helpers.

``bno-train stage1`` (each operator alone on operator pairs), ``bno-train stage2`` (the
whole chain on expert pairs) and ``bno-train evaluate`` are in :mod:`bno.pipelines.cli.train`;
:func:`run_stage` is the Python entry point.
"""

from bno.pipelines.train.config import ConfigError, TrainConfig, load_config
from bno.pipelines.train.loop import TrainingError
from bno.pipelines.train.runner import run_stage
from bno.pipelines.train.runs import RunDir

__all__ = ["ConfigError", "RunDir", "TrainConfig", "TrainingError", "load_config", "run_stage"]
