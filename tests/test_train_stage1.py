"""``bno-train stage1`` end to end on a tiny operator dataset: run directory, metrics, refusals, NaN stop."""

from __future__ import annotations

import re

import json
import shutil

import pytest
import torch
from click.testing import CliRunner


from _train_data import make_operator_dataset, shared, tiny_recipe  # noqa: E402

from bno.pipelines.cli.train import main  # noqa: E402


@pytest.fixture()
def op_data(tmp_path_factory):
    return shared("opdata", make_operator_dataset, tmp_path_factory)


def _stage1(args, expect=0):
    result = CliRunner().invoke(main, ["stage1", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def test_stage1_writes_a_complete_run_directory(op_data, tmp_path):
    run = tmp_path / "run"
    result = _stage1(["--data", str(op_data), "--out", str(run), "--config", str(tiny_recipe(tmp_path))])
    assert "stage1 done" in result.output and re.search(r"\|\s*EX\s*\|", result.output)
    for name in ("config.yaml", "run.json", "metrics.jsonl", "loss_curve.png"):
        assert (run / name).is_file(), name
    info = json.loads((run / "run.json").read_text())
    manifest_sha = __import__("hashlib").sha256((op_data / "manifest.jsonl").read_bytes()).hexdigest()
    assert info["dataset_manifest_sha256"] == manifest_sha
    assert "git_commit" in info["code"] and info["operators"] == ["EX", "VB"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    held_out = [r for r in records if r["split"] == "test"]
    assert {(r["epoch"], r["op"]) for r in held_out} == {(e, op) for e in (1, 2) for op in ("EX", "VB")}
    assert all({"epoch", "split", "op", "loss", "psnr"} <= set(r) for r in held_out)
    assert [r["epoch"] for r in records if r["split"] == "train" and r.get("op") is None] == [1, 2]
    from bno.model import load_checkpoint

    for name in ("last", "best"):
        model = load_checkpoint(run / "checkpoints" / name)
        assert model.order == ("EX", "VB")
    assert set(model.config.sliders) == {"EX", "VB"}  # strength → slider change filled from the levels
    assert model.config.sliders["EX"] == pytest.approx((-4.0, 4.0))  # schedule −2…+2 EV
    assert (run / "checkpoints" / "last" / "trainer.pt").is_file()
    # the run directory is refused as a new --out
    again = CliRunner().invoke(main, ["stage1", "--data", str(op_data), "--out", str(run), "--config", str(tiny_recipe(tmp_path))])
    assert again.exit_code == 2 and "--resume" in again.output


def test_op_subset(op_data, tmp_path):
    run = tmp_path / "ex"
    _stage1(["--data", str(op_data), "--out", str(run), "--config", str(tiny_recipe(tmp_path)), "--op", "exposure", "--set", "stage1.epochs=1"])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["op"] for r in records if r["split"] == "test"} == {"EX"}
    bad = CliRunner().invoke(main, ["stage1", "--data", str(op_data), "--out", str(tmp_path / "x"), "--config", str(tiny_recipe(tmp_path)), "--op", "BC"])
    assert bad.exit_code == 2 and "BC" in bad.output


def test_dataset_failing_audit_is_refused_naming_the_check(op_data, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(op_data, broken)
    victim = sorted((broken / "EX").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    result = CliRunner().invoke(main, ["stage1", "--data", str(broken), "--out", str(tmp_path / "r"), "--config", str(tiny_recipe(tmp_path))])
    assert result.exit_code == 2
    assert "fails `bno-synth audit`" in result.output and "checksums" in result.output
    assert not (tmp_path / "r" / "run.json").exists()


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(op_data, tmp_path, monkeypatch):
    from bno.pipelines.train import TrainingError, load_config, run_stage
    from bno.pipelines.train import stage1 as stage1_module

    calls = {"n": 0}
    real = stage1_module.combined_loss

    def poisoned(output, target, weights):
        calls["n"] += 1
        value = real(output, target, weights)
        return value * float("nan") if calls["n"] > 2 * 2 * 3 else value  # epoch 2: NaN

    monkeypatch.setattr(stage1_module, "combined_loss", poisoned)
    config = load_config(tiny_recipe(tmp_path))
    run = tmp_path / "nan"
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2 step 1.*last good checkpoint"):
        run_stage("stage1", config, run, data=op_data)
    from safetensors.torch import load_file

    weights = load_file(str(run / "checkpoints" / "last" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert json.loads((run / "checkpoints" / "last" / "config.json").read_text())["provenance"]["epoch"] == 1


def test_missing_dataset_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["stage1", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1


def test_out_of_memory_suggests_a_smaller_batch_or_crop(op_data, tmp_path, monkeypatch):
    from bno.pipelines.train import TrainingError, load_config, run_stage
    from bno.pipelines.train.stage1 import Stage1Step

    def oom(self, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Stage1Step, "forward", oom)
    with pytest.raises(TrainingError, match=r"out of memory at batch 2, crop 32: try a smaller .*batch_size.*crop_size"):
        run_stage("stage1", load_config(tiny_recipe(tmp_path)), tmp_path / "oom", data=op_data)


def test_unreadable_sample_in_a_worker_names_the_file(op_data, tmp_path):
    """Without the cache, images are read in DataLoader workers; the error still names the file."""
    broken = tmp_path / "broken"
    shutil.copytree(op_data, broken)
    for png in (broken / "EX").glob("*.png"):
        png.write_bytes(b"garbage")
    result = CliRunner().invoke(
        main,
        ["stage1", "--data", str(broken), "--out", str(tmp_path / "r"), "--config", str(tiny_recipe(tmp_path)),
         "--skip-audit", "--set", "cache_images=false", "--set", "workers=1"],
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and ".png: unreadable or corrupt image" in result.output
    assert len(result.output.strip().splitlines()) == 1
