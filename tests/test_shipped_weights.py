"""The weights that ship with bno: they load, say where they came from, and bno-enhance uses them by default."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import bno
from bno.model import checkpoint_provenance, load_checkpoint, pretrained_checkpoint
from bno.pipelines.cli.enhance import main as enhance
from bno.synth.io import read_image

KINDS = [kind for kind in ("bno", "neurop") if (bno.resource_path(f"weights/{kind}") / "config.json").is_file()]
RAW = bno.resource_path("samples/raws/a4784-IMG_2775.dng")  # a test-split sample, a portrait stored sideways


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_weights_load_with_their_provenance(kind):
    model = load_checkpoint(pretrained_checkpoint(kind))
    assert model.kind == kind
    provenance = checkpoint_provenance(pretrained_checkpoint(kind))
    assert provenance["stage"] == "stage2" and len(provenance["dataset_manifest_sha256"]) == 64
    assert provenance["recipe"]["model"]["kind"] == kind and provenance["recipe"]["stage2"]["val_ids"]  # chosen on validation photos
    assert provenance["code"]["git_commit"]
    members = provenance["ensemble_of"]  # three stage-2 seeds over one stage 1, their strengths averaged
    assert model.config.predictor_members == len(members) == 3 and provenance["seeds"] == [0, 1, 2]
    assert {m["dataset_manifest_sha256"] for m in members} == {provenance["dataset_manifest_sha256"]}
    assert all(m["validation"]["score"] > 20 and m["init"] == provenance["init"] for m in members)


def test_bno_is_shipped():
    assert "bno" in KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_enhance_without_a_checkpoint_uses_the_shipped_weights(kind, tmp_path):
    result = CliRunner().invoke(enhance, [str(RAW), "--model", kind, "--out", str(tmp_path), "--format", "png"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / f"{RAW.stem}.json").read_text())
    assert record["model"] == kind and all(np.isfinite(v) and -1 <= v <= 1 for v in record["strengths"].values())
    output = read_image(tmp_path / f"{RAW.stem}.png")
    assert output.pixels.ndim == 3 and output.pixels.std() > 0
    if kind == "bno":  # its strengths read as Lightroom sliders
        assert set(record["sliders"]) == {"BC", "EX", "WB", "VB"} and "Exposure" in record["edits"]


def test_a_missing_kind_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(bno, "resource_path", lambda relative: tmp_path / relative)
    result = CliRunner().invoke(enhance, [str(RAW), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no bno weights ship" in result.output and len(result.output.strip().splitlines()) == 1
