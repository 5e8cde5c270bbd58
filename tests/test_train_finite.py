"""Training never saves NaN/inf weights: the loop checks them before every ``last``/``best`` save."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from _train_data import make_operator_dataset, shared, tiny_recipe  # noqa: E402

from bno.pipelines.train import TrainingError, load_config, run_stage
from bno.pipelines.train.loop import nonfinite_tensors


@pytest.fixture()
def op_data(tmp_path_factory):
    return shared("opdata", make_operator_dataset, tmp_path_factory)


def test_nonfinite_tensors_names_parameters_and_buffers():
    model = torch.nn.BatchNorm1d(3)
    assert nonfinite_tensors(model) == []
    with torch.no_grad():
        model.weight[1] = float("inf")
    model.running_mean[0] = float("nan")
    assert nonfinite_tensors(model) == ["weight", "running_mean"]


def test_weights_that_blow_up_on_the_last_step_of_an_epoch_are_never_saved(op_data, tmp_path, monkeypatch):
    """The loss of every step stays finite; the optimiser step after the last one of epoch 2 makes
    the weights NaN (as an overflowing update would). The run stops; ``last`` keeps epoch 1."""
    steps = {"n": 0}
    real_step = torch.optim.Adam.step

    def overflowing_step(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        steps["n"] += 1
        if steps["n"] == 2 * 3:  # tiny recipe: 3 steps per epoch; the 6th is epoch 2's last
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("nan"))
        return result

    monkeypatch.setattr(torch.optim.Adam, "step", overflowing_step)
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"stage1: the weights became NaN/inf \(.+\) by epoch 2 \(step 6\); stopped without saving them — the last good checkpoint is"):
        run_stage("stage1", load_config(tiny_recipe(tmp_path), ["stage1.epochs=3"]), run, data=op_data)
    for name in ("last", "best"):
        weights = load_file(str(run / "checkpoints" / name / "model.safetensors"))
        assert all(bool(torch.isfinite(t).all()) for t in weights.values()), name
    assert json.loads((run / "checkpoints" / "last" / "config.json").read_text())["provenance"]["epoch"] == 1
