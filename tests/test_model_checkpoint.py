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
    NeurOpConfig,
    build_model,
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
    with pytest.raises(CheckpointError, match="evil.pth") as refused:
        load_checkpoint(evil)
    assert not marker.exists()
    message = str(refused.value)
    assert "refused" in message and "weights_only" not in message and len(message.splitlines()) == 1  # no advice to switch safety off


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n" * 20, b"hello", b"", b"\x80\x04K"])
def test_any_file_named_pth_is_one_line_naming_it(tmp_path, content):
    """Files that trip the unpickler in other ways (IndexError, KeyError, EOF …) are CheckpointErrors too."""
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"weights\.pth: not a PyTorch checkpoint") as error:
        load_checkpoint(path)
    assert len(str(error.value).splitlines()) == 1


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


#: config.json as written by the code before the pydantic schema (commit 5fb4784) for SMALL with
#: a per-channel guide and an integer slider bound (stage 1 wrote what the schedule gave it).
OLD_RECORD = {
    "config": {
        "bilateral": {"global_hidden": 20, "grid_depth": 8, "guide_points": 16, "lowres_antialias": True,
                      "lowres_size": 32, "per_channel_guide": True, "splat_channels": [8, 8, 16, 16]},
        "encoder_channels": 32, "operators": ["EX", "WB"], "predictor_antialias": True, "predictor_height": 32,
        "sliders": {"EX": [-4.0, 4.0], "WB": [2000.0, 50000]},
    },
    "format": "bno-checkpoint", "model": "bno", "provenance": {"run": "old"}, "version": 1,
}


def _write_record(directory, record):
    (directory / "config.json").write_text(json.dumps(record))


def test_checkpoints_written_before_the_schema_still_load(tmp_path):
    config = BNOConfig(operators=("EX", "WB"), bilateral=BilateralConfig(lowres_size=32, per_channel_guide=True),
                       predictor_height=32, sliders={"EX": (-4.0, 4.0), "WB": (2000.0, 50000.0)})
    save_checkpoint(BilateralNeuralOperators(config), tmp_path)
    _write_record(tmp_path, OLD_RECORD)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config == config and loaded.config.sliders["WB"] == (2000.0, 50000.0)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["bilateral"].update(grid_depth=1_000_000_000), "config.bilateral.grid_depth: Input should be less than or equal to 256"),
        (lambda c: c["bilateral"].pop("grid_depth"), "config.bilateral.grid_depth: missing"),
        (lambda c: c.pop("predictor_height"), "config.predictor_height: missing"),
        (lambda c: c["bilateral"].update(per_channel_guide="yes"), "config.bilateral.per_channel_guide: Input should be a valid boolean"),
        (lambda c: c.update(encoder_channels=32.0), "config.encoder_channels: Input should be a valid integer"),
        (lambda c: c.update(operators=["EX", "EX"]), "config.operators: operator codes must be distinct"),
        (lambda c: c.update(sliders={"EX": [-4.0, float("inf")]}), "config.sliders.EX.1: Input should be a finite number"),
        (lambda c: c["bilateral"].update(splat_channels=[8, 8, 16]), "config.bilateral.splat_channels.3: Field required"),
    ],
)
def test_bad_or_missing_config_values_name_the_file_and_the_key(tmp_path, edit, message):
    save_checkpoint(BilateralNeuralOperators(SMALL), tmp_path)
    record = json.loads((tmp_path / "config.json").read_text())
    edit(record["config"])
    _write_record(tmp_path, record)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'config.json'}: {message}")


def test_a_record_without_model_or_config_is_named(tmp_path):
    save_checkpoint(NeurOp(), tmp_path)
    record = json.loads((tmp_path / "config.json").read_text())
    del record["config"]
    _write_record(tmp_path, record)
    with pytest.raises(CheckpointError, match=r"config\.json: config: missing"):
        load_checkpoint(tmp_path)


def test_model_configs_are_strict_frozen_and_bounded():
    with pytest.raises(ValueError, match="grid_depth"):
        BilateralConfig(grid_depth=10**9)
    with pytest.raises(ValueError, match="per_channel_guide"):
        BilateralConfig(per_channel_guide="yes")
    with pytest.raises(ValueError, match="base_channels"):
        NeurOpConfig(base_channels=0)
    with pytest.raises(ValueError):
        SMALL.predictor_height = 64
    assert not hasattr(BilateralConfig(), "grid_size")  # removed: nothing read it
    assert build_model("bno", {"operators": ["EX"], "bilateral": {"lowres_size": 32}}).config.operators == ("EX",)
