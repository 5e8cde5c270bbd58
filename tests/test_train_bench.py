"""bno.pipelines.bench.train: a tiny throughput table for BNO and NeurOp."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from bno.pipelines.cli.bench import main


def test_bench_train_table(tmp_path, monkeypatch):
    import bno.pipelines.bench.train as bench

    monkeypatch.setattr(bench, "MODELS", {"BNO": ("bno", {"bilateral": {"lowres_size": 32}, "predictor_height": 32}), "NeurOp": ("neurop", {"predictor_height": 32})})
    result = CliRunner().invoke(main, ["train", "--device", "cpu", "--batch", "2", "--crop", "32", "--steps", "1", "--warmup", "0", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert re.search(r"\|\s*BNO\s*\|", result.output) and re.search(r"\|\s*NeurOp\s*\|", result.output) and "images/s" in result.output
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert len(rows) == 4 and all(r["images_per_s"] > 0 for r in rows)
