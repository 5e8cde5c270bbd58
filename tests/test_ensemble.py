"""Strength ensembles: several stage-2 predictors over one set of operators, their strengths averaged."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from _train_data import make_operator_dataset, make_paired_dataset, shared, tiny_recipe  # noqa: E402

from bno.model import (
    CheckpointError,
    StrengthEnsemble,
    StrengthPredictor,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from bno.pipelines.cli.train import main
from bno.pipelines.train.ensemble import ensemble_model

OPTIONS = {"operators": ["EX", "VB"], "predictor_height": 32, "bilateral": {"lowres_size": 32}}


def _small(kind: str):
    """A small untrained model of ``kind`` (EX → VB)."""
    return build_model(kind, OPTIONS if kind == "bno" else {"operators": ["EX", "VB"], "predictor_height": 32})


def _twin(model, seed: int):
    """``model``'s operators with a freshly initialised strength predictor (another stage-2 seed)."""
    torch.manual_seed(seed)
    other = _small(model.kind)
    other.operators.load_state_dict(model.operators.state_dict())
    return other.eval()


@pytest.mark.parametrize("kind", ["bno", "neurop"])
def test_ensemble_averages_the_members_strengths_before_every_operator(kind):
    torch.manual_seed(0)
    first = _small(kind).eval()
    second, third = _twin(first, 1), _twin(first, 2)
    ensemble = ensemble_model([first, second, third])
    assert isinstance(ensemble.predictor, StrengthEnsemble) and ensemble.config.predictor_members == 3
    image = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        output, strengths = ensemble(image)
        current = image  # the chain by hand: each strength the mean of three predictions on the current image
        for code in ensemble.order:
            mean = torch.stack([m.predictor(current, code) for m in (first, second, third)]).mean(0)
            torch.testing.assert_close(strengths[code], mean)
            current = first.operators[code](current, mean)
    torch.testing.assert_close(output, current.clamp(0, 1))
    assert not torch.allclose(strengths["EX"], first(image)[1]["EX"])  # not just the first member
    nested = ensemble_model([ensemble_model([first, second]), third])  # every predictor counts once
    assert nested.config.predictor_members == 3
    with torch.no_grad():
        torch.testing.assert_close(nested(image)[0], output)


def test_one_member_is_neurops_predictor_with_its_tensor_names():
    model = build_model("neurop", {"operators": ["BC", "EX", "VB"]})
    assert type(model.predictor) is StrengthPredictor and "predictor.encoder.conv1.weight" in model.state_dict()
    two = build_model("neurop", {"operators": ["BC", "EX", "VB"], "predictor_members": 2})
    assert "predictor.members.1.heads.VB.weight" in two.state_dict()


def test_checkpoints_written_before_predictor_members_existed_still_load(tmp_path):
    model = build_model("bno", OPTIONS)
    save_checkpoint(model, tmp_path / "old")
    record = json.loads((tmp_path / "old" / "config.json").read_text())
    del record["config"]["predictor_members"]  # as every checkpoint before the key was written
    (tmp_path / "old" / "config.json").write_text(json.dumps(record))
    assert load_checkpoint(tmp_path / "old").config.predictor_members == 1
    del record["config"]["encoder_channels"]  # any other key is still required
    (tmp_path / "old" / "config.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=r"config.encoder_channels: missing"):
        load_checkpoint(tmp_path / "old")


def test_models_that_do_not_share_their_operators_are_refused():
    torch.manual_seed(0)
    first = build_model("bno", OPTIONS)
    other = build_model("bno", OPTIONS)  # other random operators
    with pytest.raises(CheckpointError, match=r"b: its operators differ from a's .*operator_lr_scale 0"):
        ensemble_model([first, other], ["a", "b"])
    with pytest.raises(CheckpointError, match="at least two"):
        ensemble_model([first])
    wider = build_model("bno", {**OPTIONS, "encoder_channels": 16})
    with pytest.raises(CheckpointError, match="config differs from a's in encoder_channels"):
        ensemble_model([first, wider], ["a", "b"])


def test_bno_train_ensemble_combines_stage2_seeds_of_one_stage1_run(tmp_path_factory, tmp_path):
    op_data = shared("opdata", make_operator_dataset, tmp_path_factory)
    pairs = shared("pairs", make_paired_dataset, tmp_path_factory)
    recipe = str(tiny_recipe(tmp_path, "  operator_lr_scale: 0\n"))
    runner = CliRunner()

    def invoke(*args, expect=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result

    invoke("stage1", "--data", str(op_data), "--out", str(tmp_path / "s1"), "--config", recipe, "--set", "stage1.epochs=1")
    for seed in (0, 1):
        invoke("stage2", "--data", str(pairs), "--init", str(tmp_path / "s1"), "--out", str(tmp_path / f"s2-{seed}"),
               "--config", recipe, "--set", "stage2.epochs=1", "--set", f"seed={seed}")
    out = tmp_path / "ens"
    result = invoke("ensemble", str(tmp_path / "s2-0"), str(tmp_path / "s2-1"), "--out", str(out))
    assert "bno ensemble of 2 strength predictors" in result.output
    model = load_checkpoint(out)
    assert model.config.predictor_members == 2
    provenance = json.loads((out / "config.json").read_text())["provenance"]
    assert [m["run"] for m in provenance["ensemble_of"]] == [str(tmp_path / "s2-0"), str(tmp_path / "s2-1")]
    before = (out / "model.safetensors").read_bytes()
    again = invoke("ensemble", str(tmp_path / "s2-0"), str(tmp_path / "s2-1"), "--out", str(out), expect=2)
    assert "already exists" in again.output and (out / "model.safetensors").read_bytes() == before  # never overwritten
    twice = invoke("ensemble", str(tmp_path / "s2-0"), str(tmp_path / "s2-0" / "checkpoints" / "best"), "--out", str(tmp_path / "e2"), expect=2)
    assert "is named twice" in twice.output and not (tmp_path / "e2").exists()
    evaluated = invoke("evaluate", "--checkpoint", str(out), "--data", str(pairs), "--out", str(tmp_path / "eval"), "--no-lpips")
    assert "\n| ens " in evaluated.output and (tmp_path / "eval" / "per_image.csv").is_file()  # its table row
