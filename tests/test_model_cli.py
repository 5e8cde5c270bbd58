"""bno-enhance and bno-bench model, end to end on tiny inputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from bno.model import BilateralConfig, BilateralNeuralOperators, BNOConfig, save_checkpoint

enhance_cli = pytest.importorskip("bno.pipelines.cli.enhance")


def test_enhance_writes_images_and_strengths(tmp_path):
    ckpt = save_checkpoint(
        BilateralNeuralOperators(BNOConfig(bilateral=BilateralConfig(lowres_size=32), sliders={"EX": (-4.0, 4.0)})),
        tmp_path / "ckpt",
    )
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "a.png"), rng.integers(0, 65535, (37, 53, 3), dtype=np.uint16))
    cv2.imwrite(str(tmp_path / "b.jpg"), rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        enhance_cli.main,
        [str(tmp_path / "a.png"), str(tmp_path / "bad.png"), str(tmp_path / "b.jpg"),
         "--checkpoint", str(ckpt), "--model", "bno", "--out", str(out)],
    )
    assert result.exit_code == 1, result.output
    assert "bad.png" in result.output
    a = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    assert a.dtype == np.uint16 and a.shape == (37, 53, 3)
    assert cv2.imread(str(out / "b.jpg")).shape == (40, 30, 3)
    record = json.loads((out / "a.json").read_text())
    assert set(record["strengths"]) == {"BC", "EX", "WB", "VB"} and "EX" in record["sliders"]


def test_bench_model_small(tmp_path):
    from bno.pipelines.cli.bench import main as bench

    rows_path = tmp_path / "bench.json"
    result = CliRunner().invoke(
        bench, ["model", "--resolutions", "64x48", "--repeats", "1", "--json", str(rows_path)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(rows_path.read_text())["rows"]
    assert {r["model"] for r in rows} == {"bno", "neurop"}
    assert all({"model", "resolution", "device", "ms", "peak_mb", "params"} <= set(r) for r in rows)
    assert (tmp_path / "bench.png").stat().st_size > 0
