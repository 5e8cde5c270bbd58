"""bno.pipelines.train.data: pairing by id, reproducible sampling, DDP batch split, unreadable files."""

from __future__ import annotations


import numpy as np
import pytest
import torch


from _train_data import make_operator_dataset, make_paired_dataset, shared  # noqa: E402

from bno.pipelines.data.paired import load_paired_data
from bno.pipelines.train.data import (  # noqa: E402
    ImageStore,
    KeySampler,
    Stage1Pairs,
    Stage2Pairs,
    load_operator_data,
    relight,
    stage1_eval_pairs,
)


@pytest.fixture()
def op_data(tmp_path_factory):
    return shared("opdata", make_operator_dataset, tmp_path_factory)


def test_pairs_by_id_not_by_sorted_order(tmp_path):
    from bno.synth.io import write_image

    for split in ("trainA", "trainB"):
        (tmp_path / split).mkdir()
    # Sorted orders differ: inputs a0002 < a0010, targets "10_x" < "2_y" lexically.
    write_image(tmp_path / "trainA" / "a0002.tif", np.full((8, 8, 3), 0.2), 16)
    write_image(tmp_path / "trainA" / "a0010.tif", np.full((8, 8, 3), 0.7), 16)
    write_image(tmp_path / "trainB" / "0010_target.jpg", np.full((8, 8, 3), 0.7), 8)
    write_image(tmp_path / "trainB" / "0002_target.jpg", np.full((8, 8, 3), 0.2), 8)
    data = load_paired_data(tmp_path)
    assert [(k, a.name, b.name) for k, a, b in data.train] == [
        ("a0002", "a0002.tif", "0002_target.jpg"),
        ("a0010", "a0010.tif", "0010_target.jpg"),
    ]
    write_image(tmp_path / "trainB" / "a0099.jpg", np.full((8, 8, 3), 0.2), 8)
    with pytest.raises(ValueError, match="a0099"):
        load_paired_data(tmp_path)


def test_key_sampler_splits_the_global_batch_across_ranks():
    single = list(KeySampler(epoch=2, steps=3, batch=4))
    ranks = [list(KeySampler(epoch=2, steps=3, batch=4, rank=r, world=2)) for r in range(2)]
    for step in range(3):
        union = ranks[0][2 * step : 2 * step + 2] + ranks[1][2 * step : 2 * step + 2]
        assert union == single[4 * step : 4 * step + 4]
    assert list(KeySampler(epoch=0, steps=3, batch=2, start_step=2)) == [(0, 4), (0, 5)]
    with pytest.raises(ValueError, match="divisible"):
        KeySampler(0, 1, 3, world=2)


def test_stage1_pairs_are_a_pure_function_of_the_key(op_data):
    data = load_operator_data(op_data, ["EX", "VB"])
    assert data.levels == {"EX": 5, "VB": 5}
    assert data.scenes("test") and data.scenes("train")
    one = Stage1Pairs(data, ["EX", "VB"], 24, seed=5, store=ImageStore(cache=False))
    two = Stage1Pairs(data, ["EX", "VB"], 24, seed=5, store=ImageStore(cache=True))
    a, b = one[(3, 17)], two[(3, 17)]
    for op in ("EX", "VB"):
        for x, y in zip(a[op], b[op]):
            assert torch.equal(x, y)
        assert a[op][0].shape == (3, 24, 24)
        assert -1.0 <= float(a[op][2]) <= 1.0
        assert float(a[op][2]) * 4 == pytest.approx(round(float(a[op][2]) * 4))  # v = (lB − lA)/(N − 1)
    other = one[(3, 18)]
    assert not torch.equal(other["EX"][0], a["EX"][0]) or not torch.equal(other["VB"][0], a["VB"][0])


def test_stage1_strength_matches_the_levels(op_data):
    """Two distinct levels of one scene; B is brighter exactly when v > 0 (exposure)."""
    data = load_operator_data(op_data, ["EX"])
    pairs = Stage1Pairs(data, ["EX"], 16, seed=0, store=ImageStore(), flips=False, rot90=False)
    signs = set()
    for i in range(40):
        a, b, v = pairs[(0, i)]["EX"]
        assert float(v) != 0.0
        assert (b.mean() > a.mean()) == (float(v) > 0)  # more exposure is brighter
        signs.add(float(v) > 0)
    assert signs == {True, False}


def test_stage1_eval_pairs_do_not_depend_on_the_other_operators(op_data):
    """BNO (BC, EX, WB, VB) and NeurOp (BC, EX, VB) must be scored on the same Vibrance pairs."""
    data = load_operator_data(op_data)
    both = [p for p in stage1_eval_pairs(data, ["EX", "VB"], 3, seed=0) if p.op == "VB"]
    alone = stage1_eval_pairs(data, ["VB"], 3, seed=0)
    assert both == alone and len(alone) == 2 * 3 * len(data.scenes("test")) > 0
    assert stage1_eval_pairs(data, ["VB"], 3, seed=1) != alone


def test_stage2_crops_and_unreadable_file_is_named(tmp_path):
    root = make_paired_dataset(tmp_path / "pairs")
    data = load_paired_data(root)
    neurop = Stage2Pairs(data.train, crop=0, seed=1, store=ImageStore())
    x, y = neurop[(0, 0)]
    assert x.shape == y.shape and 40 - 20 <= min(x.shape[1:]) <= 55
    square = Stage2Pairs(data.train, crop=24, seed=1, store=ImageStore())
    assert square[(0, 1)][0].shape == (3, 24, 24)
    bad = data.train[0][1]
    bad.write_bytes(b"not an image")
    from bno.synth.io import ImageReadError

    with pytest.raises(ImageReadError, match=bad.name):
        Stage2Pairs(data.train, crop=24, seed=1, store=ImageStore())[(0, int(np.argmax(square.order(0) == 0)))]


def test_relight_is_an_exposure_gain_and_a_white_balance_shift_in_linear_light():
    colour = pytest.importorskip("colour")
    srgb = np.random.default_rng(0).uniform(0.05, 0.6, (6, 7, 3)).astype(np.float32)
    linear = colour.cctf_decoding(srgb.astype(np.float64), function="sRGB")  # an independent sRGB decoder
    brighter = colour.cctf_decoding(relight(srgb, 1.0, 0.0).astype(np.float64), function="sRGB")
    np.testing.assert_allclose(brighter, 2 * linear, rtol=2e-3, atol=2e-5)  # +1 EV doubles the light
    np.testing.assert_allclose(relight(srgb, 0.0, 0.0), srgb, atol=2e-6)
    grey = np.full((2, 2, 3), 0.4, np.float32)
    warm, cool = relight(grey, 0.0, 40.0)[0, 0], relight(grey, 0.0, -40.0)[0, 0]
    assert warm[0] > 0.4 > warm[2] and cool[2] > 0.4 > cool[0]  # warmer: more red, less blue


def test_stage2_jitter_relights_the_input_only_and_is_repeatable(tmp_path):
    data = load_paired_data(make_paired_dataset(tmp_path / "pairs"))
    plain = Stage2Pairs(data.train, crop=24, seed=1, store=ImageStore())
    jittered = Stage2Pairs(data.train, crop=24, seed=1, store=ImageStore(), jitter=(0.5, 30.0))
    for key in ((0, 0), (0, 1), (2, 3)):
        (x0, y0), (x1, y1) = plain[key], jittered[key]
        assert torch.equal(y0, y1) and not torch.equal(x0, x1)  # same crop and target, another light
        assert torch.equal(jittered[key][0], x1)  # a pure function of the key
    ratios = [float(jittered[(0, i)][0].mean() / plain[(0, i)][0].mean()) for i in range(8)]
    assert min(ratios) < 1 < max(ratios)  # brighter and darker both occur


# --------------------------------------------------------------------------- paths stay inside the dataset


def _copy_with_link_outside(op_data, tmp_path):
    """A copy of the operator dataset whose first EX file is a symlink to an identical file outside it."""
    import json
    import shutil

    root = tmp_path / "data"
    shutil.copytree(op_data, root)
    record = next(json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if '"EX"' in line)
    outside = tmp_path / "outside.png"
    (root / record["path"]).rename(outside)
    (root / record["path"]).symlink_to(outside)
    return root, record["path"]


def test_a_symlink_out_of_the_dataset_is_refused(op_data, tmp_path):
    root, linked = _copy_with_link_outside(op_data, tmp_path)
    with pytest.raises(ValueError, match="outside the root") as caught:
        load_operator_data(root, ["EX"])
    assert linked in str(caught.value) and "manifest.jsonl:" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1


@pytest.mark.parametrize("path", ["../escape.png", "/etc/passwd", ["a"], None])
def test_unsafe_manifest_paths_are_refused(op_data, tmp_path, path):
    import json
    import shutil

    root = tmp_path / "data"
    shutil.copytree(op_data, root)
    lines = (root / "manifest.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["path"] = path
    (root / "manifest.jsonl").write_text("\n".join([json.dumps(record)] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"manifest\.jsonl:1: "):
        load_operator_data(root)


def test_stage1_cli_refuses_the_link_in_one_line_without_a_run_folder(op_data, tmp_path):
    from click.testing import CliRunner

    from bno.pipelines.cli.train import main

    root, linked = _copy_with_link_outside(op_data, tmp_path)
    out = tmp_path / "run"
    for extra in ([], ["--skip-audit"]):  # the audit refuses it; without the audit, loading does
        result = CliRunner().invoke(main, ["stage1", "--data", str(root), "--out", str(out), "--op", "EX", *extra])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error:") and linked in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_preview_refuses_the_link(op_data, tmp_path):
    from click.testing import CliRunner

    from bno.pipelines.cli.synth import main

    root, linked = _copy_with_link_outside(op_data, tmp_path)
    result = CliRunner().invoke(main, ["preview", str(root)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and linked in result.output and "outside the root" in result.output
