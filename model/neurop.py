"""NeurOp baseline, architecturally exact (Wang et al., ECCV 2022; amberwangyili/neurop).

Operator (official ``Operator``): ``Conv1x1(3→64)`` → ``+ strength`` on all 64 channels →
``Conv1x1(64→64)`` → ``LeakyReLU(0.01)`` → ``Conv1x1(64→3)``, all with biases, no clamp
between operators; order BC → EX → VB; the output is clamped to [0, 1] at the end. The
predictor is :class:`~bno.model.predictor.StrengthPredictor` with NeurOp's plain bilinear
resize (no antialias). 3 × 4,547 + 13,984 + 3 × 97 = 28,108 parameters.

The forward pass computes what the official one does, at the same cost (full-resolution
64-channel tensors) — it is the "as published" baseline of ``bno-bench model``. One
deliberate fix: the official code adds a ``(B, 1)`` strength to a ``(B, 64, H, W)``
tensor, which only broadcasts correctly for ``B = 1``; here the strength is ``(B, 1, 1, 1)``.

:func:`load_official_state_dict` maps the official checkpoint keys
(``image_encoder.*``, ``{bc,ex,vb}_renderer.*``, ``{bc,ex,vb}_predictor.fc3.*``) onto ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ._checks import check_shape
from ._schema import PREDICTOR_MEMBERS_HELP, SLIDERS_HELP, Channels, Codes, ConfigModel, PredictorHeight, PredictorMembers, Sliders
from .predictor import build_predictor
from .sequential import SequentialRetoucher

__all__ = ["NeurOpConfig", "NeurOpOperator", "NeurOp", "load_official_state_dict"]


class NeurOpConfig(ConfigModel):
    """Constructor arguments of :class:`NeurOp` (saved as JSON in checkpoints; a recipe's
    ``model.neurop`` section). Strict and frozen; unknown keys are errors."""

    operators: Codes = Field(("BC", "EX", "VB"), description="operator codes, applied in this order")
    base_channels: Channels = Field(64, description="width of each operator's 1×1 layers")
    encoder_channels: Channels = Field(32, description="strength-predictor encoder width (features = 3 × this)")
    predictor_height: PredictorHeight = Field(256, description="predictor input height, px (width keeps the aspect ratio)")
    predictor_members: PredictorMembers = Field(1, description=PREDICTOR_MEMBERS_HELP)
    sliders: Sliders = Field(default_factory=dict, description=SLIDERS_HELP)


class NeurOpOperator(nn.Module):
    """One NeurOp colour operator: ``(B, 3, H, W)``, strength ``(B,)`` → ``(B, 3, H, W)``."""

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        self.encoder = nn.Conv2d(3, base_channels, 1)  # names as in the official state dict
        self.mid_conv = nn.Conv2d(base_channels, base_channels, 1)
        self.decoder = nn.Conv2d(base_channels, 3, 1)

    def forward(self, image: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        check_shape(image, "B,3,H,W", "image")
        code = self.encoder(image) + strength.to(image.dtype).view(-1, 1, 1, 1)  # (B, 64, H, W)
        code = F.leaky_relu(self.mid_conv(code), 0.01, inplace=True)
        return self.decoder(code)


class NeurOp(SequentialRetoucher):
    """The NeurOp model: operators by code + the shared strength predictor."""

    kind: ClassVar[str] = "neurop"

    def __init__(self, config: NeurOpConfig = NeurOpConfig()) -> None:
        super().__init__()
        self.config = config
        self.operators = nn.ModuleDict({code: NeurOpOperator(config.base_channels) for code in config.operators})
        self.predictor = build_predictor(
            config.predictor_members, config.operators, config.encoder_channels, config.predictor_height, antialias=False
        )


def load_official_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official NeurOp state dict to this package's keys.

    ``image_encoder.X`` → ``predictor.encoder.X``; ``bc_renderer.X`` → ``operators.BC.X``;
    ``bc_predictor.fc3.X`` → ``predictor.heads.BC.X``. Unknown keys are an error.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        if head == "image_encoder":
            new = f"predictor.encoder.{rest}"
        elif head.endswith("_renderer"):
            new = f"operators.{head[: -len('_renderer')].upper()}.{rest}"
        elif head.endswith("_predictor") and rest.startswith("fc3."):
            new = f"predictor.heads.{head[: -len('_predictor')].upper()}.{rest[len('fc3.'):]}"
        else:
            raise ValueError(f"not an official NeurOp checkpoint: unexpected key {key!r}")
        out[new] = value
    return out
