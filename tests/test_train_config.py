"""bno.pipelines.train.config and losses: strict typed recipes, inheritance, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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


@pytest.mark.parametrize("name", ["quick", "quick-neurop", "seed", "neurop"])
def test_bundled_recipes_load(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.model.kind == ("neurop" if "neurop" in name else "bno")


def test_unknown_keys_are_errors_naming_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stage1:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"stage1\.lrr"):
        load_config(path)
    with pytest.raises(ConfigError, match="'epoch'"):
        load_config(overrides=["epoch=3"])


def test_types_are_checked():
    with pytest.raises(ConfigError, match="stage1.batch_size: expected an integer"):
        load_config(overrides=["stage1.batch_size=two"])
    with pytest.raises(ConfigError, match="workers: expected an integer"):
        load_config(overrides=["workers=1.5"])
    with pytest.raises(ConfigError, match="unknown loss 'foo'"):
        load_config(overrides=["stage2.losses={foo: 1}"])
    with pytest.raises(ConfigError, match="model.kind"):
        load_config(overrides=["model.kind=hdrnet"])


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
