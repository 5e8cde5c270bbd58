"""Fitted strengths (``bno-train evaluate --fit-strengths``): the frozen chain's per-image ceiling."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner


from _train_data import make_paired_dataset, shared, tiny_recipe  # noqa: E402

from bno.model import load_checkpoint  # noqa: E402
from bno.pipelines.evaluate.fit_strengths import fit_strengths  # noqa: E402
from bno.pipelines.cli.train import main  # noqa: E402
from bno.pipelines.data.paired import to_float, to_tensor  # noqa: E402
from bno.synth.io import read_image  # noqa: E402

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "neurop"
needs_reference = pytest.mark.skipif(not REF.is_dir(), reason="../shared/reference/neurop not present")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@needs_reference
def test_recovers_an_edit_made_by_the_chain_itself():
    """Target = the official NeurOp at known strengths: the fit reaches it (≥ 40 dB), the prediction does not."""
    model = load_checkpoint(REF / "neurop_fivek_lite.pth")
    rgb = cv2.cvtColor(cv2.imread(str(REF / "4521_input.jpg")), cv2.COLOR_BGR2RGB)
    image = torch.from_numpy(cv2.resize(rgb, (96, 64), interpolation=cv2.INTER_AREA) / 255.0).permute(2, 0, 1)[None].float()
    edit = {"BC": 0.3, "EX": -0.4, "VB": 0.5}
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        target, _ = model(image, edit)
        predicted_output, _ = model(image)
    fitted, predicted = fit_strengths(model, image, target, steps=60)
    with torch.no_grad():
        output, _ = model(image, fitted)
    assert set(fitted) == set(predicted) == set(edit)
    assert all(-1 <= s <= 1 for s in fitted.values())
    assert psnr(output, target) >= 40.0 > psnr(predicted_output, target)
    assert abs(fitted["VB"] - edit["VB"]) < 0.2 and fitted["EX"] < 0  # BC and EX partly trade off; the signs hold
    for name, value in model.state_dict().items():  # weights untouched, no gradients left behind
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())


@needs_reference
def test_a_fit_on_a_reduced_copy_holds_at_full_size():
    """Large images are fitted on a copy ≤ ``long_edge`` px; the strengths carry over to full size."""
    model = load_checkpoint(REF / "neurop_fivek_lite.pth")
    rgb = cv2.cvtColor(cv2.imread(str(REF / "4521_input.jpg")), cv2.COLOR_BGR2RGB)
    image = torch.from_numpy(cv2.resize(rgb, (240, 160), interpolation=cv2.INTER_AREA) / 255.0).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        target, _ = model(image, {"BC": -0.2, "EX": 0.5, "VB": -0.4})
    fitted, _ = fit_strengths(model, image, target, steps=60, long_edge=120)  # half size
    with torch.no_grad():
        output, _ = model(image, fitted)
    assert psnr(output, target) >= 40.0


def test_image_and_target_must_match():
    from bno.model import NeurOp

    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        fit_strengths(NeurOp().eval(), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


@pytest.fixture()
def pairs(tmp_path_factory):
    return shared("pairs", make_paired_dataset, tmp_path_factory)


def test_evaluate_fit_strengths_is_never_worse_per_image(pairs, tmp_path):
    run = tmp_path / "s2"
    train = CliRunner().invoke(main, ["stage2", "--data", str(pairs), "--out", str(run), "--config", str(tiny_recipe(tmp_path)), "--set", "stage2.epochs=1"])
    assert train.exit_code == 0, train.output
    scores = {}
    for label, extra in (("predicted", []), ("fitted", ["--fit-strengths"])):
        js = tmp_path / f"{label}.json"
        result = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(run), "--data", str(pairs), "--json", str(js), "--no-lpips", *extra])
        assert result.exit_code == 0, result.output
        scores[label] = json.loads(js.read_text())
    fitted = scores["fitted"]
    assert fitted["strengths"] == "fitted" and scores["predicted"]["strengths"] == "predicted"
    assert Path(fitted["per_image_csv"]).parent.name == f"{pairs.name}-test-fitted"
    assert "(fitted strengths)" in result.output and "mean |fitted − predicted| strength:" in result.output
    rows = {r["id"]: r for r in csv.DictReader(open(fitted["per_image_csv"]))}
    before = {r["id"]: r for r in csv.DictReader(open(scores["predicted"]["per_image_csv"]))}
    model = load_checkpoint(run / "checkpoints" / "best")
    for key, row in rows.items():  # the test images are smaller than the fitting size: the fit is exact
        assert float(row["psnr"]) >= float(before[key]["psnr"]) - 1e-6
        for code in model.order:
            assert float(row[f"predicted_{code}"]) == pytest.approx(float(before[key][f"strength_{code}"]), abs=1e-5)
    plot = read_image(fitted["strength_plot"]).pixels  # fitted vs predicted, one panel per operator
    assert Path(fitted["strength_plot"]).name == "strengths.png" and plot.shape[1] > plot.shape[0] * (len(model.order) - 1)
    for code in model.order:
        gaps = [abs(float(r[f"strength_{code}"]) - float(r[f"predicted_{code}"])) for r in rows.values()]
        assert fitted[f"strength_gap_{code}"] == pytest.approx(np.mean(gaps))
        costs = [float(r["psnr"]) - float(r[f"psnr_predicting_{code}"]) for r in rows.values()]
        assert fitted[f"cost_of_predicting_{code}"] == pytest.approx(np.mean(costs))
    assert "PSNR lost by predicting one strength, the others fitted:" in result.output
    # the last operator predicted from the image the fitted others leave: the chain run by hand agrees
    row, last = next(iter(rows.values())), model.order[-1]
    x = to_tensor(to_float(read_image(row["input"]).pixels))[None]
    out, _ = model.enhance(x, {code: float(row[f"strength_{code}"]) for code in model.order if code != last})
    target = torch.from_numpy(to_float(read_image(row["target"]).pixels)).permute(2, 0, 1)[None]
    assert psnr(out.clamp(0, 1), target) == pytest.approx(
        float(row[f"psnr_predicting_{last}"]), abs=1e-4
    )


def test_identity_has_no_strengths_to_fit(pairs):
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", "identity", "--data", str(pairs), "--fit-strengths"])
    assert result.exit_code == 2 and result.output.startswith("error:") and "needs a checkpoint" in result.output
