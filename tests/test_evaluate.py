"""``bno-train evaluate``: per-image CSV, summary, strips for best/worst, --json, run dirs, identity."""

from __future__ import annotations

import re

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner


from _train_data import make_paired_dataset, shared, tiny_recipe  # noqa: E402

from bno.synth import metrics
from bno.pipelines.cli.train import main  # noqa: E402


@pytest.fixture()
def pairs(tmp_path_factory):
    return shared("pairs", make_paired_dataset, tmp_path_factory)


def test_identity_metrics_csv_strips_and_json(pairs, tmp_path):
    out, js = tmp_path / "eval", tmp_path / "summary.json"
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", "identity", "--data", str(pairs), "--out", str(out), "--json", str(js), "--strips", "1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\|\s*identity\s*\|", result.output) and "psnr ↑" in result.output
    assert "LPIPS" in result.output  # present → measured, absent → one-line notice
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert [r["id"] for r in rows] == ["a4501", "a4502"]
    from bno.synth.io import read_image

    x = read_image(rows[0]["input"]).pixels
    y = read_image(rows[0]["target"]).pixels
    assert float(rows[0]["psnr"]) == pytest.approx(metrics.psnr(x, y), abs=1e-9)
    assert float(rows[0]["delta_e2000"]) == pytest.approx(metrics.delta_e2000(x, y), abs=1e-9)
    summary = json.loads(js.read_text())
    for name in ("psnr", "ssim", "delta_e76", "delta_e2000"):
        assert summary[name] == pytest.approx(np.mean([float(r[name]) for r in rows]))
    assert summary["per_image_csv"] == str(out / "per_image.csv") and summary["images"] == 2
    strips = sorted(p.name for p in (out / "strips").iterdir())
    assert len(strips) == 2 and strips[0].startswith("best-1-") and strips[1].startswith("worst-1-")
    strip = read_image(out / "strips" / strips[0]).pixels
    assert strip.shape == (40, 4 * 56 + 3 * 4, 3)  # Input | Output | Target | |diff|


def test_a_run_directory_means_its_best_checkpoint(pairs, tmp_path):
    run = tmp_path / "s2"
    recipe = str(tiny_recipe(tmp_path))
    train = CliRunner().invoke(main, ["stage2", "--data", str(pairs), "--out", str(run), "--config", recipe, "--set", "stage2.epochs=1"])
    assert train.exit_code == 0, train.output
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(run), "--data", str(pairs), "--json", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "e.json").read_text())
    assert summary["checkpoint"] == str(run / "checkpoints" / "best")
    assert (run / "eval" / f"{pairs.name}-test" / "per_image.csv").is_file()
    rows = list(csv.DictReader(open(summary["per_image_csv"])))
    assert {"strength_EX", "strength_VB"} <= set(rows[0])  # the predicted slider strengths per image


def test_bad_checkpoint_is_a_one_line_error(pairs, tmp_path):
    (tmp_path / "ckpt").mkdir()
    result = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(tmp_path / "ckpt"), "--data", str(pairs)])
    assert result.exit_code == 2 and result.output.startswith("error:") and "config.json" in result.output
