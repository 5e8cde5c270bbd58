"""bno.pipelines.train.config and losses: strict typed recipes, inheritance, overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from bno.model import BNOConfig, NeurOpConfig, build_model
from bno.pipelines.cli.train import main as train_main
from bno.schema import schema_rows
from bno.pipelines.train.config import ConfigError, TrainConfig, config_to_dict, load_config
from bno.pipelines.train.losses import LOSSES, combined_loss, ssim_loss, tv_loss

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_valid_and_round_trip(tmp_path):
    config = load_config()
    assert isinstance(config, TrainConfig)
    assert config.stage2.losses == {"l1": 1.0, "cosine": 0.1, "tv": 0.1}
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(config)))
    assert load_config(path) == config


@pytest.mark.parametrize("name", ["quick", "quick-neurop", "seed", "neurop", "demo", "demo-neurop"])
def test_bundled_recipes_load(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.model.kind == ("neurop" if "neurop" in name else "bno")


def test_unknown_keys_are_errors_naming_the_key_and_the_allowed_ones(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stage1:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: stage1\.lrr: unknown key \(allowed here: epochs, "):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^--set epoch=3: epoch: unknown key .*seed, device"):
        load_config(overrides=["epoch=3"])
    with pytest.raises(ConfigError, match=r"model\.bno\.bilateral\.grid_dpeth: unknown key"):
        load_config(overrides=["model.bno.bilateral.grid_dpeth=4"])


def test_types_are_checked():
    with pytest.raises(ConfigError, match="stage1.batch_size: Input should be a valid integer"):
        load_config(overrides=["stage1.batch_size=two"])
    with pytest.raises(ConfigError, match="workers: Input should be a valid integer"):
        load_config(overrides=["workers=1.5"])
    with pytest.raises(ConfigError, match=r"stage2\.losses\.foo: unknown name"):
        load_config(overrides=["stage2.losses={foo: 1}"])
    with pytest.raises(ConfigError, match="model.kind"):
        load_config(overrides=["model.kind=hdrnet"])
    with pytest.raises(ConfigError, match="stage1.flips: Input should be a valid boolean"):
        load_config(overrides=["stage1.flips=1"])  # an int is not a boolean
    with pytest.raises(ConfigError, match="stage1.lr: Input should be a valid number"):
        load_config(overrides=["stage1.lr=true"])  # nor is a boolean a number


def test_the_model_section_is_the_model_config_and_strict(tmp_path):
    """``model.bno`` is BNOConfig itself: a quoted "yes" is no boolean, and the error names file and key path."""
    config = load_config(CONFIGS / "quick.yaml")
    assert isinstance(config.model.bno, BNOConfig) and isinstance(config.model.neurop, NeurOpConfig)
    assert config.model.bno.bilateral.per_channel_guide is True and config.model.bno.predictor_height == 128
    model = build_model("bno", {**config.model.options, "operators": list(config.model.operators)})
    assert model.config == config.model.bno.model_copy(update={"operators": ("BC", "EX", "WB", "VB")})
    path = tmp_path / "x.yaml"
    path.write_text('model:\n  bno: {bilateral: {per_channel_guide: "yes"}}\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: model.bno.bilateral.per_channel_guide: Input should be a valid boolean"
    with pytest.raises(ConfigError, match=r"model\.bno: operators is set by model\.operators"):
        load_config(overrides=["model.bno.operators=[EX]"])


def test_an_error_names_the_recipe_that_set_the_key(tmp_path):
    (tmp_path / "a.yaml").write_text("stage1: {lr: -1.0}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nseed: 3\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: stage1\.lr: Input should be greater than 0"):
        load_config(tmp_path / "b.yaml")
    assert load_config(tmp_path / "b.yaml", ["stage1.lr=0.5"]).stage1.lr == 0.5


@pytest.mark.parametrize(
    "override, key, reason",
    [
        ("stage1.lr=inf", "stage1.lr", "finite number"),
        ("stage1.lr=nan", "stage1.lr", "finite number"),
        ("stage1.lr=0", "stage1.lr", "greater than 0"),
        ("stage2.lr=-1e-3", "stage2.lr", "greater than 0"),
        ("stage1.grad_clip=inf", "stage1.grad_clip", "finite number"),
        ("stage1.grad_clip=-1", "stage1.grad_clip", "greater than 0"),
        ("stage1.betas=[0.9, 1.0]", "stage1.betas.1", "less than 1"),
        ("stage1.betas=[-0.1, 0.99]", "stage1.betas.0", "greater than or equal to 0"),
        ("stage1.betas=[0.9]", "stage1.betas.1", "required"),
        ("stage1.weight_decay=-0.01", "stage1.weight_decay", "greater than or equal to 0"),
        ("stage1.epochs=0", "stage1.epochs", "greater than or equal to 1"),
        ("stage1.steps_per_epoch=0", "stage1.steps_per_epoch", "greater than or equal to 1"),
        ("stage2.batch_size=0", "stage2.batch_size", "greater than or equal to 1"),
        ("stage1.crop_size=4", "stage1.crop_size", "greater than or equal to 8"),
        ("stage2.crop_size=3", "stage2.crop_size", "too small"),
        ("stage1.min_lr_ratio=2", "stage1.min_lr_ratio", "less than or equal to 1"),
        ("stage2.operator_lr_scale=-1", "stage2.operator_lr_scale", "greater than or equal to 0"),
        ("stage1.losses={l1: -1}", "stage1.losses.l1", "greater than or equal to 0"),
        ("stage1.losses={l1: 0}", "stage1.losses", "every loss weight is 0"),
        ("seed=-1", "seed", "greater than or equal to 0"),
        ("model.bno.bilateral.grid_depth=1000000000", "model.bno.bilateral.grid_depth", "less than or equal to 256"),
        ("model.bno.bilateral.lowres_size=30", "model.bno.bilateral.lowres_size", "multiple of 4"),
        ("model.neurop.base_channels=0", "model.neurop.base_channels", "greater than or equal to 1"),
        ("model.operators=[EX, EX]", "model.operators", "distinct"),
        ("device=gpu", "device", "expected auto, cpu"),
    ],
)
def test_numbers_are_finite_and_in_range(override, key, reason):
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    message = str(error.value)
    assert message.startswith(f"--set {override}: {key}: ") and reason in message and "\n" not in message


def test_stage2_settings_that_cannot_work_together_are_refused_at_load():
    with pytest.raises(ConfigError, match=r"stage2: crop_size 0 .* needs batch_size 1"):
        load_config(CONFIGS / "seed.yaml", ["stage2.batch_size=4"])
    with pytest.raises(ConfigError, match=r"stage2: val_ids and val_from_train"):
        load_config(overrides=["stage2.val_ids=[a0001]", "stage2.val_from_train=2"])


def test_grad_clip_is_null_or_positive_and_old_zero_reads_as_off(tmp_path):
    assert load_config().stage1.grad_clip is None
    assert load_config(overrides=["stage1.grad_clip=1.5"]).stage1.grad_clip == 1.5
    old = tmp_path / "config.yaml"  # what run directories written before the schema hold
    old.write_text("stage1: {grad_clip: 0.0}\nstage2: {grad_clip: 0}\n")
    config = load_config(old)
    assert config.stage1.grad_clip is None and config.stage2.grad_clip is None


def test_the_config_is_frozen():
    config = load_config()
    with pytest.raises(ValueError):
        config.stage1.lr = 1.0


def test_bad_lr_on_the_command_line_stops_before_any_work(tmp_path):
    """``--set stage1.lr=inf`` is exit status 2 and one line, before the dataset is even looked at."""
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    result = CliRunner().invoke(train_main, ["stage1", "--data", str(empty), "--out", str(out), "--set", "stage1.lr=inf"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --set stage1.lr=inf: stage1.lr: Input should be a finite number"
    assert not out.exists()


def test_config_command_lists_every_key_from_the_schema():
    result = CliRunner().invoke(train_main, ["config"])
    assert result.exit_code == 0, result.output
    rows = schema_rows(TrainConfig)
    listed = {line.split()[0] for line in result.output.splitlines()[2:]}
    hidden = {f"model.{kind}.{key}" for kind in ("bno", "neurop") for key in ("operators", "sliders")}
    assert listed == {row.path for row in rows} - hidden
    assert {"stage1.lr", "model.bno.bilateral.grid_depth", "model.neurop.base_channels", "stage2.val_ids"} <= listed
    lr = next(line for line in result.output.splitlines() if line.startswith("stage1.lr "))
    assert "float > 0" in lr and "0.001" in lr and "learning rate" in lr
    for row in rows:
        assert row.meaning, row.path
        if row.path not in hidden:  # the listed default is what the schema accepts for the key
            assert load_config(overrides=[f"{row.path}={row.default}"]) == load_config(), row.path


def test_config_command_for_one_stage_and_the_help_points_to_it():
    stage1 = CliRunner().invoke(train_main, ["config", "stage1"]).output
    assert "stage1.identity_weight" in stage1 and "stage2." not in stage1 and "model.kind" in stage1
    assert "bno-train config" in CliRunner().invoke(train_main, ["stage1", "--help"]).output


def test_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "a.yaml").write_text("seed: 3\nstage1: {lr: 1e-3, epochs: 4}\nstage2: {losses: {l1: 1.0, tv: 0.5}}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nstage1: {epochs: 7}\nstage2: {losses: {ssim: 1.0}}\n")
    config = load_config(tmp_path / "b.yaml", ["stage1.lr=2e-4", "model.operators=[EX, VB]"])
    assert (config.seed, config.stage1.epochs, config.stage1.lr) == (3, 7, 2e-4)
    assert config.stage2.losses == {"ssim": 1.0}  # loss tables replace, not merge
    assert config.model.operators == ("EX", "VB")


def test_losses_known_values():
    x = torch.rand(2, 3, 16, 16)
    for name, fn in LOSSES.items():
        if name == "tv":  # a regulariser on the output alone
            continue
        value = float(fn(x, x))
        assert value == pytest.approx(0.0, abs=2e-3 if name == "charbonnier" else 1e-5), name
    assert float(tv_loss(torch.ones(1, 3, 8, 8))) == 0.0
    assert float(combined_loss(x + 0.1, x, {"l1": 2.0})) == pytest.approx(0.2, abs=1e-5)
    assert float(ssim_loss(x, torch.rand(2, 3, 16, 16))) > 0.5
