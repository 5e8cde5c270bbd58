"""BNO models (torch only): bilateral slicing, the bilateral operator, NeurOp's strength
predictor, the sequential Bilateral Neural Operators model, the exact NeurOp baseline and
checkpoint I/O. Imports nothing else of this project."""

from .bilateral import BilateralConfig, BilateralOperator, GuideMap
from .devices import DeviceError, pick_device
from .checkpoint import CheckpointError, MODEL_KINDS, build_model, checkpoint_provenance, load_checkpoint, model_config, pretrained_checkpoint, resolve_checkpoint, save_checkpoint
from .neurop import NeurOp, NeurOpConfig, NeurOpOperator, load_official_state_dict
from .predictor import NeurOpEncoder, StrengthEnsemble, StrengthPredictor, build_predictor, resize_to_height, strength_predictors
from .sequential import BilateralNeuralOperators, BNOConfig, SequentialRetoucher
from .slicing import SliceAndApply, apply_affine, slice_and_apply, slice_and_apply_banded, slice_grid

__all__ = [
    "BilateralConfig",
    "BilateralOperator",
    "GuideMap",
    "CheckpointError",
    "MODEL_KINDS",
    "build_model",
    "checkpoint_provenance",
    "DeviceError",
    "load_checkpoint",
    "pick_device",
    "model_config",
    "pretrained_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
    "NeurOp",
    "NeurOpConfig",
    "NeurOpOperator",
    "load_official_state_dict",
    "NeurOpEncoder",
    "StrengthEnsemble",
    "StrengthPredictor",
    "build_predictor",
    "resize_to_height",
    "strength_predictors",
    "BilateralNeuralOperators",
    "BNOConfig",
    "SequentialRetoucher",
    "SliceAndApply",
    "apply_affine",
    "slice_and_apply",
    "slice_and_apply_banded",
    "slice_grid",
]
