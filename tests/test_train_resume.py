"""Resume: a run killed with ``kill -9`` and resumed ends with the same weights (≤ 1e-6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file


from _train_data import make_operator_dataset, shared, tiny_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def op_data(tmp_path_factory):
    return shared("opdata", make_operator_dataset, tmp_path_factory)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bno.pipelines.cli.train", *args]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / "last" / "model.safetensors"))


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_kill_9_then_resume_equals_an_uninterrupted_run(op_data, tmp_path):
    recipe = tiny_recipe(tmp_path)
    recipe.write_text(recipe.read_text().replace("epochs: 2\n  steps_per_epoch: 3", "epochs: 4\n  steps_per_epoch: 3", 1))  # stage 1: 4 epochs
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cli("stage1", "--data", str(op_data), "--out", str(full), "--config", str(recipe)), check=True, env=env, cwd=ROOT, capture_output=True)
    process = subprocess.Popen(
        _cli("stage1", "--data", str(op_data), "--out", str(killed), "--config", str(recipe)),
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    marker = killed / "checkpoints" / "last" / "COMPLETE"
    deadline = time.time() + 120
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    result = subprocess.run(_cli("stage1", "--resume", str(killed)), env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _max_diff(_weights(full), _weights(killed)) <= 1e-6
    # the resumed metrics log has each epoch once, like the uninterrupted one
    import json

    epochs = lambda run: [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"op"' not in line]
    assert epochs(killed) == epochs(full) == [1, 2, 3, 4]


def test_mid_epoch_checkpoint_resume_in_process(op_data, tmp_path):
    """``checkpoint_every`` saves inside an epoch; stopping there and resuming replays exactly."""
    from bno.pipelines.train import load_config, run_stage

    config = load_config(tiny_recipe(tmp_path), ["stage1.checkpoint_every=2", "stage1.steps_per_epoch=5"])
    run_stage("stage1", config, tmp_path / "a", data=op_data)
    stopped = run_stage("stage1", config, tmp_path / "b", data=op_data, stop_after_steps=3)
    assert stopped["stopped_early"]
    run_stage("stage1", config, tmp_path / "b", data=op_data, resume=True)
    assert _max_diff(_weights(tmp_path / "a"), _weights(tmp_path / "b")) <= 1e-6


def test_resume_refuses_a_changed_model(op_data, tmp_path):
    from bno.model import CheckpointError
    from bno.pipelines.train import RunDir, run_stage, load_config

    config = load_config(tiny_recipe(tmp_path), ["stage1.epochs=1"])
    run_stage("stage1", config, tmp_path / "r", data=op_data)
    changed = RunDir(tmp_path / "r").config(["model.bno={bilateral: {lowres_size: 64}, predictor_height: 32}", "stage1.epochs=2"])
    with pytest.raises(CheckpointError, match="lowres_size"):
        run_stage("stage1", changed, tmp_path / "r", resume=True)


# --------------------------------------------------------------------------- failed starts and damaged checkpoints


def _spoil_training_images(root: Path) -> None:
    """Overwrite every training-split image with bytes no decoder reads (the test split stays good)."""
    import json

    for line in (root / "manifest.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["split"] == "train":
            (root / record["path"]).write_bytes(b"not an image")


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "user-folder"])
def test_a_failed_start_leaves_nothing_a_rerun_refuses(op_data, tmp_path, existing):
    """The first batch fails after the run folder was made; the same command then simply works."""
    import shutil

    from bno.pipelines.train import load_config, run_stage
    from bno.synth.io import ImageReadError

    bad = tmp_path / "bad"
    shutil.copytree(op_data, bad)
    _spoil_training_images(bad)
    out = tmp_path / "run"
    if existing:
        out.mkdir()
        (out / "notes.txt").write_text("the user's")
    config = load_config(tiny_recipe(tmp_path), ["stage1.epochs=1", "cache_images=false"])
    with pytest.raises(ImageReadError):
        run_stage("stage1", config, out, data=bad, check_audit=False)
    if existing:
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "the user's"
    else:
        assert not out.exists()
    summary = run_stage("stage1", config, out, data=op_data, stop_after_steps=1)
    assert summary["stopped_early"] and (out / "checkpoints" / "last" / "COMPLETE").is_file()


@pytest.fixture()
def stopped_run(op_data, tmp_path) -> Path:
    """A run stopped after one step: a complete ``last`` checkpoint to resume from."""
    from bno.pipelines.train import load_config, run_stage

    out = tmp_path / "stopped"
    run_stage("stage1", load_config(tiny_recipe(tmp_path)), out, data=op_data, stop_after_steps=1)
    return out


class _Payload:
    """A pickle that would touch ``marker`` when loaded without ``weights_only``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _resume(run: Path):
    from click.testing import CliRunner

    from bno.pipelines.cli.train import main

    return CliRunner().invoke(main, ["stage1", "--resume", str(run)])


def test_resume_refuses_a_pickled_trainer_state_in_one_line(stopped_run, tmp_path):
    marker = tmp_path / "pickle-code-ran"
    state = stopped_run / "checkpoints" / "last" / "trainer.pt"
    torch.save({"optimizer": _Payload(marker), "scheduler": {}}, state)
    result = _resume(stopped_run)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and str(state) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not marker.exists()


def test_resume_refuses_truncated_weights_in_one_line(stopped_run):
    weights = stopped_run / "checkpoints" / "last" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = _resume(stopped_run)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and str(weights) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_same_model_saves_the_same_bytes(tmp_path):
    """safetensors writes its metadata map in hash order: with two keys, 12 saves would differ (p = 1 − 2⁻¹¹)."""
    from bno.model import build_model
    from bno.pipelines.train import RunDir

    torch.manual_seed(0)
    model = build_model("neurop", {"operators": ["EX"]})
    blobs = set()
    for attempt in range(12):
        saved = RunDir(tmp_path / f"run{attempt}").save("last", model, provenance={"seed": 0})
        blobs.add((saved / "model.safetensors").read_bytes())
    assert len(blobs) == 1


def test_a_run_killed_before_its_first_checkpoint_is_named_as_such(tmp_path):
    """kill -9 leaves run.json without a checkpoint; a rerun is refused (it may still be running) with what to do."""
    from bno.pipelines.train import RunDir, load_config

    config = load_config(tiny_recipe(tmp_path))
    RunDir(tmp_path / "r").create(config, {"stage": "stage1"})
    with pytest.raises(FileExistsError, match="no checkpoint yet"):
        RunDir(tmp_path / "r").create(config, {"stage": "stage1"})
    assert not RunDir(tmp_path / "r").discard_unstarted()  # only the object that created it undoes it
    assert (tmp_path / "r" / "run.json").is_file()
