"""Strength predictor: NeurOp's shared image encoder and one ``Linear + tanh`` head per operator.

Wang et al., "Neural Color Operators for Sequential Image Retouching" (NeurOp, ECCV 2022),
§3.2 and the official ``Encoder``/``Predictor`` (amberwangyili/neurop, ``networks.py``):
the image is resized to height 256 (width ``int(256·W/H)``, bilinear,
``align_corners=False``), encoded by ZeroPad(1) → Conv(3→32, 7, stride 2) → ReLU →
ZeroPad(1) → Conv(32→32, 3, stride 2) → ReLU, and summarised by the per-channel
(unbiased std, mean, max) over H, W: a 96-D feature. Each head maps it to a strength in
[−1, 1]. Parameters: 4,736 + 9,248 = 13,984 for the encoder, 97 per head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_shape

__all__ = ["NeurOpEncoder", "StrengthEnsemble", "StrengthPredictor", "build_predictor", "resize_to_height", "strength_predictors"]


def resize_to_height(image: torch.Tensor, height: int = 256, antialias: bool = False) -> torch.Tensor:
    """Resize ``(B, 3, H, W)`` to ``(B, 3, height, int(height·W/H))`` (NeurOp's predictor input)."""
    _, _, h, w = image.shape
    return F.interpolate(
        image, size=(height, int(height * w / h)), mode="bilinear", align_corners=False, antialias=antialias
    )


class NeurOpEncoder(nn.Module):
    """``(B, 3, h, w)`` → ``(B, 3·channels)`` features (std, mean, max of the last conv)."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 7, stride=2)  # state-dict names as in the official code
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        check_shape(image, "B,3,H,W", "image")
        x = torch.relu(self.conv1(F.pad(image, (1, 1, 1, 1))))
        x = torch.relu(self.conv2(F.pad(x, (1, 1, 1, 1))))  # (B, C, h', w')
        std, mean = torch.std_mean(x, dim=(2, 3))  # unbiased std, as torch.std_mean in NeurOp
        return torch.cat([std, mean, x.amax(dim=(2, 3))], dim=1)  # (B, 3C)


class StrengthPredictor(nn.Module):
    """Shared encoder + one ``tanh(Linear(96→1))`` head per operator code.

    ``forward(image, code)``: ``(B, 3, H, W)`` in [0, 1] → strength ``(B,)`` in [−1, 1].
    """

    def __init__(
        self, codes: Sequence[str], channels: int = 32, height: int = 256, antialias: bool = False
    ) -> None:
        super().__init__()
        self.height = height
        self.antialias = antialias
        self.encoder = NeurOpEncoder(channels)
        self.heads = nn.ModuleDict({code: nn.Linear(3 * channels, 1) for code in codes})

    def resize(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` → ``(B, 3, height, int(height·W/H))``: what the encoder reads."""
        return resize_to_height(image, self.height, self.antialias)

    def strength_of_resized(self, small: torch.Tensor, code: str) -> torch.Tensor:
        """Strength ``(B,)`` from an image already passed through :meth:`resize`."""
        return torch.tanh(self.heads[code](self.encoder(small)))[:, 0]

    def forward(self, image: torch.Tensor, code: str) -> torch.Tensor:
        return self.strength_of_resized(self.resize(image), code)


class StrengthEnsemble(nn.Module):
    """Several strength predictors (:class:`StrengthPredictor`) — e.g. one per stage-2 seed over the same operators
    (``bno-train ensemble``) — whose strengths are averaged.

    ``forward(image, code)``: ``(B, 3, H, W)`` → ``(B,)`` in [−1, 1], the mean of the members'
    strengths; the image is resized once for all of them. One stage-2 seed moves a model by up to
    ~0.8 dB on the benchmark's test photos; the mean over seeds does not depend on any one of them.
    """

    def __init__(
        self, members: int, codes: Sequence[str], channels: int = 32, height: int = 256, antialias: bool = False
    ) -> None:
        super().__init__()
        self.members = nn.ModuleList(StrengthPredictor(codes, channels, height, antialias) for _ in range(members))

    def forward(self, image: torch.Tensor, code: str) -> torch.Tensor:
        small = self.members[0].resize(image)
        return torch.stack([member.strength_of_resized(small, code) for member in self.members]).mean(0)


def build_predictor(
    members: int, codes: Sequence[str], channels: int = 32, height: int = 256, antialias: bool = False
) -> StrengthPredictor | StrengthEnsemble:
    """One :class:`StrengthPredictor` (``members == 1``: NeurOp's, same tensor names) or an ensemble."""
    if members == 1:
        return StrengthPredictor(codes, channels, height, antialias)
    return StrengthEnsemble(members, codes, channels, height, antialias)


def strength_predictors(predictor: StrengthPredictor | StrengthEnsemble) -> list[StrengthPredictor]:
    """The :class:`StrengthPredictor` s of a model's predictor: itself, or an ensemble's members in order."""
    return list(predictor.members) if isinstance(predictor, StrengthEnsemble) else [predictor]
