"""Bilateral operator, predictor and the sequential BNO model: sizes, interfaces, batching."""

from __future__ import annotations

import pytest
import torch

from bno.model import BilateralConfig, BilateralNeuralOperators, BNOConfig, StrengthPredictor

SMALL = BNOConfig(bilateral=BilateralConfig(lowres_size=32), predictor_height=32)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_size_is_the_seeds():
    model = BilateralNeuralOperators()
    assert model.order == ("BC", "EX", "WB", "VB")
    assert n_params(model) == 69_012
    assert n_params(model.operators["EX"]) == 13_660
    assert n_params(model.predictor.encoder) == 13_984
    assert n_params(model.predictor.heads) == 4 * 97
    assert model.operators["EX"].predict_grid(torch.rand(1, 3, 40, 50), torch.zeros(1)).shape == (1, 12, 8, 64, 64)


def test_operators_are_one_module_class_keyed_by_code():
    model = BilateralNeuralOperators(BNOConfig(operators=("EX", "VB")))
    assert list(model.operators.keys()) == ["EX", "VB"]
    assert len({type(op) for op in model.operators.values()}) == 1
    with pytest.raises(ValueError):
        BilateralNeuralOperators(BNOConfig(operators=("EX", "EX")))


def test_untrained_operator_is_near_identity():
    op = BilateralNeuralOperators(SMALL).operators["EX"]
    image = torch.rand(2, 3, 30, 40)
    assert (op(image, torch.zeros(2)) - image).abs().max() < 0.05


def test_stage_interfaces_and_strength_override():
    torch.manual_seed(0)
    model = BilateralNeuralOperators(SMALL)
    image = torch.rand(2, 3, 30, 40)
    out = model.operators["EX"](image, torch.tensor([0.5, -0.5]))
    assert out.shape == image.shape
    out, strengths = model(image)
    assert out.shape == image.shape and set(strengths) == {"BC", "EX", "WB", "VB"}
    assert all(s.shape == (2,) and s.abs().max() <= 1 for s in strengths.values())
    assert 0 <= out.min() and out.max() <= 1
    override = torch.tensor([0.9, -0.9])
    _, used = model(image, strengths={"EX": override})
    assert torch.equal(used["EX"], override)
    _, used = model(image, strengths={"WB": 0.25})
    assert used["WB"].tolist() == [0.25, 0.25]
    with pytest.raises(KeyError, match="XX"):
        model(image, strengths={"XX": 0.0})


def test_strength_overrides_are_what_the_chain_applies():
    """Forced strengths drive the operators in SPEC §5's order, BC → EX → WB → VB, with one clamp
    at the end (checked against the stage-1 operators composed by hand); forcing the predicted
    strengths changes nothing, and a float means that strength for every image."""
    torch.manual_seed(4)
    model = BilateralNeuralOperators(SMALL).eval()
    image = torch.rand(2, 3, 30, 40) * 1.1 - 0.05
    forced = {"BC": torch.tensor([0.8, -0.6]), "EX": torch.tensor([0.9, -0.9]), "WB": torch.tensor([-0.7, 0.5]), "VB": torch.tensor([0.6, -0.8])}
    with torch.no_grad():
        predicted_out, predicted = model(image)
        chained = image
        for code in ("BC", "EX", "WB", "VB"):
            chained = model.operators[code](chained, forced[code])
        out, used = model(image, strengths=forced)
        assert (chained.clamp(0, 1) - predicted_out).abs().max() > 1e-3  # the forced edit is visible
        torch.testing.assert_close(out, chained.clamp(0, 1), atol=1e-6, rtol=0)
        assert all(torch.equal(used[code], forced[code]) for code in forced)
        again, _ = model(image, strengths=predicted)
        torch.testing.assert_close(again, predicted_out, atol=0, rtol=0)
        scalar, _ = model(image, strengths={**forced, "WB": 0.5})
        tensor, _ = model(image, strengths={**forced, "WB": torch.tensor([0.5, 0.5])})
        torch.testing.assert_close(scalar, tensor, atol=0, rtol=0)


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    model = BilateralNeuralOperators(SMALL)
    out, strengths = model(torch.rand(2, 3, 24, 36))
    (out.mean() + sum(s.sum() for s in strengths.values())).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_batch_of_two_equals_two_runs_of_one():
    torch.manual_seed(2)
    model = BilateralNeuralOperators(SMALL).eval()
    images = torch.rand(2, 3, 30, 44)
    with torch.no_grad():
        batched, s_b = model(images)
        singles = [model(images[i : i + 1]) for i in range(2)]
    torch.testing.assert_close(batched, torch.cat([o for o, _ in singles]), atol=1e-5, rtol=0)
    for code in model.order:
        torch.testing.assert_close(s_b[code], torch.cat([s[code] for _, s in singles]), atol=1e-6, rtol=0)


def test_enhance_equals_forward():
    torch.manual_seed(3)
    model = BilateralNeuralOperators(SMALL).eval()
    image = torch.rand(2, 3, 50, 37)
    with torch.no_grad():
        ref, s_ref = model(image)
    out, s = model.enhance(image, band_rows=8)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    keep = image.clone()
    inplace, _ = model.enhance(keep, inplace=True)
    assert inplace.data_ptr() == keep.data_ptr()
    torch.testing.assert_close(inplace, ref, atol=1e-5, rtol=0)


def test_predictor_resizes_to_height_and_keeps_aspect():
    pred = StrengthPredictor(["EX"], height=64)
    seen = []
    pred.encoder.register_forward_pre_hook(lambda m, a: seen.append(a[0].shape))
    assert pred(torch.rand(3, 3, 30, 90), "EX").shape == (3,)
    assert seen[0] == (3, 3, 64, 192)


def test_slider_mapping():
    model = BilateralNeuralOperators(BNOConfig(operators=("EX",), sliders={"EX": (-4.0, 4.0)}))
    assert model.slider_values({"EX": 0.5}) == {"EX": 2.0}
