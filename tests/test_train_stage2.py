"""``bno-train stage2``: init from stage 1, best-by-PSNR checkpoint, operator mismatch refused, NeurOp too."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner


from _train_data import make_operator_dataset, make_paired_dataset, shared, tiny_recipe  # noqa: E402

from bno.pipelines.cli.train import main  # noqa: E402


@pytest.fixture()
def datasets(tmp_path_factory):
    return shared("opdata", make_operator_dataset, tmp_path_factory), shared("pairs", make_paired_dataset, tmp_path_factory)


def _invoke(args, expect=0):
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


@pytest.mark.parametrize("kind", ["bno", "neurop"])
def test_two_stages_end_to_end(datasets, tmp_path, kind):
    op_data, pairs = datasets
    recipe = str(tiny_recipe(tmp_path))
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    _invoke(["stage1", "--data", str(op_data), "--out", str(s1), "--config", recipe, "--model", kind, "--set", "stage1.epochs=1"])
    result = _invoke(["stage2", "--data", str(pairs), "--init", str(s1), "--out", str(s2), "--config", recipe, "--model", kind, "--set", "stage2.epochs=3"])
    assert "validation (test split): PSNR" in result.output and "stage2 done" in result.output
    records = [json.loads(line) for line in (s2 / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["split"] == "test"]
    assert [r["epoch"] for r in val] == [1, 2, 3] and all("psnr" in r and "ssim" in r for r in val)
    best = max(val, key=lambda r: r["psnr"])
    assert json.loads((s2 / "checkpoints" / "best" / "score.json").read_text())["epoch"] == best["epoch"]
    from bno.model import load_checkpoint
    from bno.model import resolve_checkpoint

    assert resolve_checkpoint(s2) == s2 / "checkpoints" / "best"  # a run directory means its best checkpoint
    model = load_checkpoint(resolve_checkpoint(s2))
    assert model.kind == kind and model.order == ("EX", "VB")
    assert model.config.sliders["EX"] == pytest.approx((-4.0, 4.0))  # carried over from stage 1
    info = json.loads((s2 / "run.json").read_text())
    assert info["init"] == str(s1 / "checkpoints" / "best") and info["train_pairs"] == 4


def test_validation_on_held_out_training_pairs_leaves_the_test_split_unseen(datasets, tmp_path):
    from bno.pipelines.train import load_config
    from bno.pipelines.data.paired import load_paired_data
    from bno.pipelines.train.stage2 import build_stage2, split_validation

    _, pairs = datasets
    config = load_config(tiny_recipe(tmp_path), ["stage2.val_from_train=1"])
    spec, info = build_stage2(config, pairs, None)
    assert info["train_pairs"] == 3 and info["val_pairs"] == 1 and "held out" in info["validation_split"]
    trained = {key for key, _, _ in spec.dataset.items}
    data = load_paired_data(pairs)
    kept, held, _ = split_validation(data.train, data.test, 1, config.seed)
    assert {key for key, _, _ in kept} == trained and not trained & {key for key, _, _ in held}
    assert (kept, held) == split_validation(data.train, data.test, 1, config.seed)[:2]  # seeded, repeatable
    result = _invoke(["stage2", "--data", str(pairs), "--out", str(tmp_path / "s"), "--config", str(tiny_recipe(tmp_path)),
                      "--set", "stage2.val_from_train=1", "--set", "stage2.epochs=1"])
    assert "validation (held-out training pairs)" in result.output
    records = [json.loads(line) for line in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    assert [r["images"] for r in records if r["split"] == "val"] == [1] and not [r for r in records if r["split"] == "test"]
    assert len(trained) == 3
    too_many = _invoke(["stage2", "--data", str(pairs), "--out", str(tmp_path / "t"), "--config", str(tiny_recipe(tmp_path)),
                        "--set", "stage2.val_from_train=4"], expect=2)
    assert "leaves no training pairs" in too_many.output


def test_without_a_test_split_the_summary_does_not_claim_held_out_pairs(tmp_path):
    pairs = make_paired_dataset(tmp_path / "pairs", train=3, test=0)
    result = _invoke(["stage2", "--data", str(pairs), "--out", str(tmp_path / "s"), "--config", str(tiny_recipe(tmp_path)), "--set", "stage2.epochs=1"])
    assert "validation (training pairs, no test split): PSNR" in result.output and "held-out" not in result.output


def test_validation_on_training_pairs_chosen_by_id(datasets, tmp_path):
    """``stage2.val_ids`` holds out exactly those pairs (e.g. every shot of one photo); mistakes are named."""
    from bno.pipelines.train import load_config
    from bno.pipelines.data.paired import load_paired_data
    from bno.pipelines.train.stage2 import build_stage2, split_validation

    _, pairs = datasets
    data = load_paired_data(pairs)
    ids = [key for key, _, _ in data.train]
    config = load_config(tiny_recipe(tmp_path), [f"stage2.val_ids=[{ids[0]}, {ids[2]}]"])
    spec, info = build_stage2(config, pairs, None)
    assert info["validation_split"] == "2 training pairs held out by id" and info["val_pairs"] == 2
    assert sorted(key for key, _, _ in spec.dataset.items) == sorted(set(ids) - {ids[0], ids[2]})
    with pytest.raises(ValueError, match=r"\['a9999'\] are not training pair ids"):
        split_validation(data.train, data.test, 0, 0, ("a9999", ids[0]))
    with pytest.raises(ValueError, match="set one of them"):
        split_validation(data.train, data.test, 1, 0, (ids[0],))
    with pytest.raises(ValueError, match="leaves no training pairs"):
        split_validation(data.train, data.test, 0, 0, tuple(ids))


def test_stage1_operators_must_match_the_config(datasets, tmp_path):
    op_data, pairs = datasets
    recipe = str(tiny_recipe(tmp_path))
    s1 = tmp_path / "s1"
    _invoke(["stage1", "--data", str(op_data), "--out", str(s1), "--config", recipe, "--op", "EX", "--set", "stage1.epochs=1"])
    result = _invoke(["stage2", "--data", str(pairs), "--init", str(s1), "--out", str(tmp_path / "s2"), "--config", recipe], expect=2)
    assert "operators do not match the config" in result.output
    assert "missing ['VB']" in result.output and "['EX', 'VB']" in result.output
    wrong_kind = _invoke(["stage2", "--data", str(pairs), "--init", str(s1), "--out", str(tmp_path / "s3"), "--config", recipe, "--model", "neurop"], expect=2)
    assert "'bno' checkpoint cannot initialise a 'neurop' model" in wrong_kind.output


def test_neurop_crops_need_batch_1(datasets, tmp_path):
    _, pairs = datasets
    result = _invoke(["stage2", "--data", str(pairs), "--out", str(tmp_path / "s"), "--config", str(tiny_recipe(tmp_path)), "--set", "stage2.crop_size=0"], expect=2)
    assert "batch_size 1" in result.output
    _invoke(["stage2", "--data", str(pairs), "--out", str(tmp_path / "s"), "--config", str(tiny_recipe(tmp_path)),
             "--set", "stage2.crop_size=0", "--set", "stage2.batch_size=1", "--set", "stage2.epochs=1"])


def test_zero_init_heads_start_the_chain_at_strength_zero(datasets, tmp_path):
    import torch

    from bno.pipelines.train import load_config
    from bno.pipelines.train.stage2 import build_stage2

    _, pairs = datasets
    config = load_config(tiny_recipe(tmp_path), ["stage2.zero_init_heads=true"])
    spec, _ = build_stage2(config, pairs, init=None)
    with torch.no_grad():
        _, strengths = spec.model(torch.rand(1, 3, 32, 40))
    assert all(float(s.abs().max()) == 0.0 for s in strengths.values())


def test_operator_lr_scale_zero_freezes_the_operators(datasets, tmp_path):
    import torch

    from bno.model import load_checkpoint
    from bno.pipelines.train import load_config, run_stage

    op_data, pairs = datasets
    config = load_config(tiny_recipe(tmp_path), ["stage1.epochs=1", "stage2.epochs=1", "stage2.operator_lr_scale=0"])
    run_stage("stage1", config, tmp_path / "s1", data=op_data)
    run_stage("stage2", config, tmp_path / "s2", data=pairs, init=tmp_path / "s1")
    before, after = load_checkpoint(tmp_path / "s1" / "checkpoints" / "best"), load_checkpoint(tmp_path / "s2" / "checkpoints" / "last")
    for code in ("EX", "VB"):
        for (name, a), b in zip(before.operators[code].state_dict().items(), after.operators[code].state_dict().values()):
            assert torch.equal(a, b), name
    assert not torch.equal(before.predictor.encoder.conv1.weight, after.predictor.encoder.conv1.weight)
