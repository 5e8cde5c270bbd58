"""``bno-train compare``: paired bootstrap comparison of two evaluations, against known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from _train_data import make_paired_dataset, shared
from bno.pipelines.cli.train import main
from bno.pipelines.evaluate.compare import compare_evaluations, compare_scores, read_per_image, read_runs
from bno.pipelines.evaluate.evaluation import write_per_image_csv


def _scores(metric: str, values) -> dict[str, dict[str, float]]:
    return {f"a{4501 + i}": {metric: float(v)} for i, v in enumerate(values)}


def test_constant_differences_collapse_the_interval_onto_the_value():
    b = np.linspace(20, 30, 25)
    comparison = compare_scores(_scores("psnr", b + 0.5), _scores("psnr", b), resamples=2000)
    (psnr,) = comparison.metrics
    assert psnr.mean_difference == pytest.approx(0.5) and psnr.ci_low == pytest.approx(0.5) and psnr.ci_high == pytest.approx(0.5)
    assert (psnr.wins, psnr.ties, psnr.losses) == (25, 0, 0)
    assert psnr.mean_a == pytest.approx(25.5) and psnr.mean_b == pytest.approx(25.0)


def test_interval_matches_a_direct_percentile_bootstrap_and_normal_theory():
    rng = np.random.default_rng(7)
    b = rng.uniform(20, 30, 60)
    differences = rng.normal(0.3, 1.0, 60)
    comparison = compare_scores(_scores("psnr", b + differences), _scores("psnr", b), seed=3, resamples=10_000)
    (psnr,) = comparison.metrics
    # direct: resample the 60 images with replacement, take the 2.5th and 97.5th percentile of the mean difference
    means = differences[np.random.default_rng(11).integers(0, 60, (40_000, 60))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert psnr.ci_low == pytest.approx(low, abs=0.02) and psnr.ci_high == pytest.approx(high, abs=0.02)
    # and the textbook interval mean ± 1.96·s/√n, which the bootstrap approaches for a normal sample
    half = 1.959964 * differences.std(ddof=1) / np.sqrt(60)
    assert psnr.ci_low == pytest.approx(differences.mean() - half, abs=0.04)
    assert psnr.ci_high == pytest.approx(differences.mean() + half, abs=0.04)
    assert psnr.mean_difference == pytest.approx(differences.mean())


def test_wins_ties_losses_follow_each_metrics_direction():
    a = {"x": {"psnr": 30.0, "delta_e76": 5.0}, "y": {"psnr": 25.0, "delta_e76": 5.0}, "z": {"psnr": 20.0, "delta_e76": 3.0}}
    b = {"x": {"psnr": 29.0, "delta_e76": 6.0}, "y": {"psnr": 25.0, "delta_e76": 4.0}, "z": {"psnr": 21.0, "delta_e76": 2.0}}
    comparison = {m.metric: m for m in compare_scores(a, b, resamples=100).metrics}
    assert list(comparison) == ["psnr", "delta_e76"]
    assert (comparison["psnr"].wins, comparison["psnr"].ties, comparison["psnr"].losses) == (1, 1, 1)
    assert (comparison["delta_e76"].wins, comparison["delta_e76"].ties, comparison["delta_e76"].losses) == (1, 0, 2)  # lower ΔE wins
    assert comparison["delta_e76"].mean_difference == pytest.approx((-1 + 1 + 1) / 3)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(1)
    a, b = _scores("ssim", rng.random(30)), _scores("ssim", rng.random(30))
    first, again, other = (compare_scores(a, b, seed=s, resamples=500).metrics[0] for s in (0, 0, 1))
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_unpaired_ids_and_bad_files_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"2 missing from A: a4503, a4504; 1 missing from B: a4502"):
        compare_scores(_scores("psnr", [1, 2]), {"a4501": {"psnr": 1.0}, "a4503": {"psnr": 1.0}, "a4504": {"psnr": 1.0}})
    with pytest.raises(ValueError, match="no per_image.csv"):
        read_per_image(tmp_path)
    (tmp_path / "per_image.csv").write_text("id,psnr\na4501,30.5\na4501,31\n")
    with pytest.raises(ValueError, match=r"line 3: id 'a4501' appears twice"):
        read_per_image(tmp_path)
    (tmp_path / "per_image.csv").write_text("id,psnr\na4501,high\n")
    with pytest.raises(ValueError, match=r"psnr of 'a4501' is 'high', not a number"):
        read_per_image(tmp_path)


def test_several_runs_put_the_training_seeds_spread_into_the_interval():
    # every image gains exactly 0.5 dB; the three runs of A sit −0.2, 0, +0.2 dB around that. Images
    # then add no variance and the interval is the runs' alone: the mean of 3 runs drawn with
    # replacement from {−0.2, 0, +0.2} is −0.2 or +0.2 with probability 1/27 = 3.7 % each (> 2.5 %).
    b = np.linspace(20, 30, 40)
    runs_a = [_scores("psnr", b + 0.5 + shift) for shift in (-0.2, 0.0, 0.2)]
    (psnr,) = compare_scores(runs_a, _scores("psnr", b), resamples=20_000).metrics
    assert psnr.mean_difference == pytest.approx(0.5)
    assert psnr.ci_low == pytest.approx(0.3) and psnr.ci_high == pytest.approx(0.7)
    assert psnr.run_means_a == pytest.approx((25.3, 25.5, 25.7)) and psnr.run_means_b == pytest.approx((25.0,))
    # one run of A alone: no seed term, the interval collapses again
    (single,) = compare_scores(runs_a[:1], _scores("psnr", b), resamples=2000).metrics
    assert single.ci_low == pytest.approx(0.3) and single.ci_high == pytest.approx(0.3)


def _write(rows, folder):
    folder.mkdir(parents=True, exist_ok=True)
    write_per_image_csv(rows, folder / "per_image.csv")


def test_folders_of_runs_are_averaged_per_image_and_missing_ids_named(tmp_path):
    for name, values in (("seed0", [30.0, 20.0]), ("seed1", [32.0, 22.0])):
        rows = [{"id": key, "psnr": v} for key, v in zip(("a4501", "a4502"), values)]
        _write(rows, tmp_path / "bno" / name)
    _write([{"id": "a4501", "psnr": 29.0}, {"id": "a4502", "psnr": 23.0}], tmp_path / "neurop")
    comparison = compare_evaluations(tmp_path / "bno", tmp_path / "neurop", resamples=200)
    (psnr,) = comparison.metrics
    assert (comparison.runs_a, comparison.runs_b) == (2, 1)
    assert psnr.run_means_a == (25.0, 27.0) and psnr.mean_a == 26.0 and psnr.mean_difference == pytest.approx(0.0)
    assert (psnr.wins, psnr.ties, psnr.losses) == (1, 0, 1)  # a4501: 31 vs 29, a4502: 21 vs 23
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "bno"), str(tmp_path / "neurop"), "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert "(2 runs averaged per image; psnr per run: 25.00, 27.00)" in result.output and "bootstrap over images and runs" in result.output
    _write([{"id": "a4501", "psnr": 31.0}], tmp_path / "bno" / "seed1")
    with pytest.raises(ValueError, match=r"1 missing from .*bno run 2: a4502$"):
        compare_evaluations(tmp_path / "bno", tmp_path / "neurop")
    (tmp_path / "empty" / "seed0").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"empty: no per_image.csv, nor a subfolder with one"):
        read_runs(tmp_path / "empty")


def test_reads_the_csv_evaluate_writes(tmp_path):
    rows = [{"id": "a4501", "input": "x.tif", "target": "y.jpg", "psnr": 31.25, "ssim": 0.9, "delta_e76": 4.5, "delta_e2000": 3.0, "strength_EX": 0.2}]
    write_per_image_csv(rows, tmp_path / "per_image.csv")
    assert read_per_image(tmp_path) == {"a4501": {"psnr": 31.25, "ssim": 0.9, "delta_e76": 4.5, "delta_e2000": 3.0}}


@pytest.fixture()
def evaluations(tmp_path_factory, tmp_path):
    """Real `bno-train evaluate` folders: the identity on all test pairs, and on the first one only."""
    pairs = shared("pairs", make_paired_dataset, tmp_path_factory)
    folders = {}
    for name, extra in (("all", []), ("first", ["--limit", "1"])):
        folders[name] = tmp_path / name
        result = CliRunner().invoke(main, ["evaluate", "--checkpoint", "identity", "--data", str(pairs), "--out", str(folders[name]), "--no-lpips", *extra])
        assert result.exit_code == 0, result.output
    return folders


def test_compare_command_table_json_and_unpaired_error(evaluations):
    folder = evaluations["all"]
    result = CliRunner().invoke(main, ["compare", str(folder), str(folder), "--resamples", "200"])
    assert result.exit_code == 0, result.output
    assert "psnr ↑" in result.output and "delta_e76 ↓" in result.output and "0 / 2 / 0" in result.output
    result = CliRunner().invoke(main, ["compare", str(folder), str(folder), "--json", "--seed", "3", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    summary = json.loads((folder / "summary.json").read_text())
    assert data["images"] == 2 and data["seed"] == 3 and data["resamples"] == 200
    assert set(data["metrics"]) == {"psnr", "ssim", "delta_e76", "delta_e2000"}
    for metric, values in data["metrics"].items():
        assert values["mean_a"] == pytest.approx(summary[metric]) and values["mean_difference"] == 0.0
        assert values["ci_low"] == values["ci_high"] == 0.0 and values["ties"] == 2
    assert compare_evaluations(folder, folder / "per_image.csv", resamples=50).images == 2  # the CSV itself also works
    result = CliRunner().invoke(main, ["compare", str(folder), str(evaluations["first"])])
    assert result.exit_code == 2 and result.output.strip() == f"error: images do not pair by id: 1 missing from {evaluations['first']}: a4502"
