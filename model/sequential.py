"""Sequential retouching over an ordered list of operators (NeurOp's scheme, the seed's BNO).

``SequentialRetoucher`` holds operators in a name-keyed ``nn.ModuleDict`` and one
:class:`~bno.model.predictor.StrengthPredictor`; before each operator the *current* image is
re-encoded to predict that operator's strength (NeurOp §3.2). Both the Bilateral Neural
Operators model (here) and the NeurOp baseline (:mod:`bno.model.neurop`) are such models, so
one trainer trains both:

* stage 1: ``model.operators["EX"](image, strength)`` — one operator alone;
* stage 2: ``model(image) -> (output, {code: (B,) strength})``; ``strengths=`` overrides
  any operator's predicted strength (human-in-the-loop edits);
* inference at any size: :meth:`SequentialRetoucher.enhance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from ._checks import check_shape
from ._schema import PREDICTOR_MEMBERS_HELP, SLIDERS_HELP, Channels, Codes, ConfigModel, PredictorHeight, PredictorMembers, Sliders
from .bilateral import BilateralConfig, BilateralOperator
from .predictor import StrengthEnsemble, StrengthPredictor, build_predictor

__all__ = ["BNOConfig", "SequentialRetoucher", "BilateralNeuralOperators"]

Strengths = Mapping[str, "torch.Tensor | float"]


class BNOConfig(ConfigModel):
    """Constructor arguments of :class:`BilateralNeuralOperators` (saved as JSON in checkpoints;
    a recipe's ``model.bno`` section). Strict and frozen; unknown keys are errors."""

    operators: Codes = Field(("BC", "EX", "WB", "VB"), description="operator codes, applied in this order")
    bilateral: BilateralConfig = Field(BilateralConfig(), description="one config shared by every operator")
    encoder_channels: Channels = Field(32, description="strength-predictor encoder width (features = 3 × this)")
    predictor_height: PredictorHeight = Field(256, description="the predictor sees the current image resized to this height, px")
    predictor_antialias: bool = Field(True, description="antialiased resize for the predictor (NeurOp: false)")
    predictor_members: PredictorMembers = Field(1, description=PREDICTOR_MEMBERS_HELP)
    sliders: Sliders = Field(default_factory=dict, description=SLIDERS_HELP)


class SequentialRetoucher(nn.Module):
    """Base of the sequential models: ``operators`` (ModuleDict by code) + ``predictor``.

    Subclasses set ``operators``, ``predictor`` and ``config`` in ``__init__``.
    """

    kind: ClassVar[str] = ""
    config: Any
    operators: nn.ModuleDict
    predictor: StrengthPredictor | StrengthEnsemble

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self.config.operators)

    def _check_inputs(self, image: torch.Tensor, strengths: Strengths | None) -> None:
        check_shape(image, "B,3,H,W", "image")
        unknown = set(strengths or {}) - set(self.order)
        if unknown:
            raise KeyError(f"strengths for unknown operators {sorted(unknown)}; model has {self.order}")

    def _strength(
        self, image: torch.Tensor, code: str, strengths: Strengths | None
    ) -> torch.Tensor:
        if strengths is not None and code in strengths:
            value = torch.as_tensor(strengths[code], dtype=torch.float32, device=image.device)
            return value.expand(image.shape[0]) if value.ndim == 0 else value
        return self.predictor(image, code)

    def forward(
        self, image: torch.Tensor, strengths: Strengths | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Differentiable pass: ``(B, 3, H, W)`` in [0, 1] → (output clamped to [0, 1], strengths).

        ``strengths`` maps codes to ``(B,)`` tensors or floats that replace predictions.
        """
        self._check_inputs(image, strengths)
        used: dict[str, torch.Tensor] = {}
        current = image
        for code in self.order:
            used[code] = self._strength(current, code, strengths)
            current = self.operators[code](current, used[code])  # no clamp between operators (NeurOp)
        return current.clamp(0.0, 1.0), used

    @torch.inference_mode()
    def enhance(
        self, image: torch.Tensor, strengths: Strengths | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Inference at any resolution; same result as :meth:`forward`. Subclasses may specialise."""
        return self(image, strengths)

    def slider_values(self, strengths: Mapping[str, float]) -> dict[str, float]:
        """Map strengths to Lightroom slider values with ``config.sliders`` (known codes only)."""
        out = {}
        for code, s in strengths.items():
            if code in self.config.sliders:
                lo, hi = self.config.sliders[code]
                out[code] = lo + (float(s) + 1.0) * 0.5 * (hi - lo)
        return out


class BilateralNeuralOperators(SequentialRetoucher):
    """Bilateral Neural Operators: bilateral operators (one per code) + NeurOp's predictor.

    Default: BC → EX → WB → VB, 4 × 13,660 + 13,984 + 4 × 97 = 69,012 parameters.
    """

    kind: ClassVar[str] = "bno"

    def __init__(self, config: BNOConfig = BNOConfig()) -> None:
        super().__init__()
        self.config = config  # operators distinct and non-empty: checked by BNOConfig
        self.operators = nn.ModuleDict({code: BilateralOperator(config.bilateral) for code in config.operators})
        self.predictor = build_predictor(
            config.predictor_members, config.operators, config.encoder_channels, config.predictor_height,
            config.predictor_antialias,
        )

    @torch.inference_mode()
    def enhance(
        self,
        image: torch.Tensor,
        strengths: Strengths | None = None,
        band_rows: int = 128,
        inplace: bool = False,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Full-resolution inference in one float32 buffer, updated in place per operator.

        Peak memory ≈ input + one float32 copy + small per-band temporaries, at any size;
        ``inplace=True`` overwrites a contiguous float32 ``image`` and saves the copy.
        """
        self._check_inputs(image, strengths)
        reuse = inplace and image.dtype == torch.float32 and image.is_contiguous()
        current = image if reuse else image.to(torch.float32, copy=True).contiguous()
        used: dict[str, torch.Tensor] = {}
        for code in self.order:
            used[code] = self._strength(current, code, strengths)
            self.operators[code].apply_full(current, used[code], out=current, band_rows=band_rows)
        return current.clamp_(0.0, 1.0), used
