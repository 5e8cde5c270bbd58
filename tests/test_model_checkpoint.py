"""Checkpoint round trip, and refusal of malicious, corrupt and mismatched checkpoints."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from bno.model import (
    BilateralConfig,
    BilateralNeuralOperators,
    BNOConfig,
    CheckpointError,
    NeurOp,
    load_checkpoint,
    save_checkpoint,
)

SMALL = BNOConfig(operators=("EX", "WB"), bilateral=BilateralConfig(lowres_size=32), predictor_height=32,
                  sliders={"EX": (-4.0, 4.0)})


@pytest.mark.parametrize("make", [lambda: BilateralNeuralOperators(SMALL), lambda: NeurOp()])
def test_round_trip_identical_outputs(tmp_path, make):
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    save_checkpoint(model, tmp_path / "ckpt", provenance={"run": "test"})
    image = torch.rand(1, 3, 30, 40)
    for source in (tmp_path / "ckpt", tmp_path / "ckpt" / "model.safetensors", tmp_path / "ckpt" / "config.json"):
        loaded = load_checkpoint(source)
        assert type(loaded) is type(model) and loaded.config == model.config
        with torch.no_grad():
            assert torch.equal(loaded(image)[0], model(image)[0])
    record = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert record["provenance"] == {"run": "test"} and record["model"] == model.kind


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['BNO_PWNED']).write_text('x')",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BNO_PWNED", str(marker))
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"ex_renderer.encoder.weight": _RunsCode()}, f)
    with pytest.raises(CheckpointError, match="evil.pth"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_corrupt_safetensors_is_a_clear_error(tmp_path):
    save_checkpoint(BilateralNeuralOperators(SMALL), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt safetensors"):
        load_checkpoint(tmp_path)


def test_config_weights_mismatch_names_the_tensors(tmp_path):
    save_checkpoint(BilateralNeuralOperators(SMALL), tmp_path)
    record = json.loads((tmp_path / "config.json").read_text())
    record["config"]["operators"] = ["EX", "VB"]
    record["config"]["bilateral"]["grid_depth"] = 4
    (tmp_path / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path)
    message = str(err.value)
    assert "operators.VB" in message and "operators.WB" in message and "to_grid" in message


def test_unknown_config_key_and_missing_files(tmp_path):
    save_checkpoint(BilateralNeuralOperators(SMALL), tmp_path)
    record = json.loads((tmp_path / "config.json").read_text())
    record["config"]["grid_dpeth"] = 4
    (tmp_path / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="grid_dpeth"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(tmp_path / "nowhere")
