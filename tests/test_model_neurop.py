"""NeurOp baseline: exact architecture, official checkpoints, the published reproduction."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bno.model import NeurOp, load_checkpoint

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REF = SHARED / "reference" / "neurop"
needs_reference = pytest.mark.skipif(not REF.is_dir(), reason="../shared/reference/neurop not present")


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_size_and_keys():
    model = NeurOp()
    assert sum(p.numel() for p in model.parameters()) == 28_108
    assert model.order == ("BC", "EX", "VB")


@needs_reference
@pytest.mark.parametrize("name", ["neurop_fivek_lite.pth", "neurop_fivek_dark.pth"])
def test_official_checkpoints_load_as_they_are(name):
    model = load_checkpoint(REF / name)
    assert isinstance(model, NeurOp) and not model.training
    official = torch.load(REF / name, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.operators["EX"].mid_conv.weight, official["ex_renderer.mid_conv.weight"])
    torch.testing.assert_close(model.predictor.heads["VB"].weight, official["vb_predictor.fc3.weight"])


@needs_reference
def test_reproduces_published_4521_output():
    """As the official test does: RGB/255 in, ``(255·out).astype(uint8)`` (truncation) out."""
    model = load_checkpoint(REF / "neurop_fivek_lite.pth")
    image = torch.from_numpy(read_rgb(REF / "4521_input.jpg") / 255.0).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        out, _ = model(image)
    ours = (255.0 * out[0].permute(1, 2, 0).numpy()).astype(np.uint8).astype(np.float64) / 255
    published = read_rgb(REF / "4521_neurop_lite.png").astype(np.float64) / 255
    psnr = 10 * np.log10(1.0 / np.mean((ours - published) ** 2))
    assert psnr >= 50.0, psnr


@needs_reference
def test_batched_neurop_equals_single_runs():
    model = load_checkpoint(REF / "neurop_fivek_lite.pth")
    images = torch.rand(2, 3, 40, 60)
    with torch.no_grad():
        batched, _ = model(images)
        singles = torch.cat([model(images[i : i + 1])[0] for i in range(2)])
    torch.testing.assert_close(batched, singles, atol=1e-6, rtol=0)
