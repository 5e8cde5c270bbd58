"""The dataset declaration (data_manifest.yaml): one strict schema, bounded numbers, one-line errors."""

from __future__ import annotations

import time
from dataclasses import asdict, replace

import pytest

from bno.pipelines.data.manifest import (
    MAX_LEVELS,
    RenderSettings,
    check_render,
    load_declaration,
    with_overrides,
)


def test_the_shipped_declaration_keeps_its_values():
    declaration = load_declaration()
    assert declaration.to_dict() == {
        "version": 1,
        "source": {"name": "MIT-Adobe FiveK", "raws": declaration.raws, "id_pattern": r"^a(\d{4})", "expected_files": 5000},
        "output": "data/init",
        "render": {"half_size": True, "long_edge": 500, "format": "png8"},
        "split": {"train_ids": [1, 4500], "test_ids": [4501, 5000], "test_list": None, "unmatched": "train"},
        "operators": {
            "blacks": {"code": "BC", "unit": "slider", "slider_range": [-100.0, 100.0], "levels": 21},
            "exposure": {"code": "EX", "unit": "EV", "slider_range": [-5.0, 5.0], "levels": 21},
            "white-balance": {"code": "WB", "unit": "K", "slider_range": [2000.0, 50000.0], "levels": 21},
            "vibrance": {"code": "VB", "unit": "slider", "slider_range": [-100.0, 100.0], "levels": 21},
        },
        "pairs": {"targets": declaration.pairs_targets, "output": "data/pairs"},
    }
    assert declaration.raws.endswith("samples/raws") and declaration.pairs_targets.endswith("samples/expert")


def test_huge_level_counts_are_refused_at_once(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("operators:\n  exposure: {levels: 200000000}\n")
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        load_declaration(path)
    assert time.perf_counter() - started < 1.0
    assert str(error.value) == f"{path}: operators.exposure.levels: Input should be less than or equal to {MAX_LEVELS}"
    path.write_text(f"operators:\n  exposure: {{levels: {MAX_LEVELS}}}\n")
    assert load_declaration(path).operator("EX").levels == MAX_LEVELS


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ("render: {half_size: 'yes'}", "render.half_size", "valid boolean"),
        ("render: {long_edge: 500.0}", "render.long_edge", "valid integer"),
        ("render: {long_edge: 0}", "render.long_edge", "greater than or equal to 1"),
        ("render: {format: jpg}", "render.format", "'png8', 'png16' or 'tiff16'"),
        ("render: {colour: 3}", "render.colour", "unknown key (allowed here: half_size, long_edge, format)"),
        ("sourse: {raws: x}", "sourse", "unknown key (allowed here: version, source"),
        ("version: 2", "version", "Input should be 1"),
        ("split: {train_ids: [4500, 1]}", "split.train_ids", "empty id range [4500, 1]"),
        ("split: {train_ids: ['1', 4500]}", "split.train_ids.0", "valid integer"),
        ("split: {unmatched: drop}", "split.unmatched", "'train', 'test' or 'skip'"),
        ("source: {id_pattern: 'a\\d+'}", "source.id_pattern", "needs a group"),
        ("source: {id_pattern: '(('}", "source.id_pattern", "not a valid regex"),
        ("source: {expected_files: -1}", "source.expected_files", "greater than or equal to 0"),
        ("operators: {exposure: {levels: 1}}", "operators.exposure.levels", "greater than or equal to 2"),
        ("operators: {exposure: {slider_range: [-5, .inf]}}", "operators.exposure.slider_range.1", "finite number"),
        ("output: 3", "output", "valid string"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_key(tmp_path, text, key, reason):
    path = tmp_path / "d.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError) as error:
        load_declaration(path)
    message = str(error.value)
    assert message.startswith(f"{path}: {key}: ") and reason in message and "\n" not in message


def test_registry_disagreements_and_non_mappings(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("operators:\n  exposure: {slider_range: [-9, 9]}\n")
    with pytest.raises(ValueError, match=r"operators\.exposure\.slider_range \[-9\.0, 9\.0\] differs from the registry"):
        load_declaration(path)
    path.write_text("operators:\n  sharpen: {levels: 3}\n")
    with pytest.raises(ValueError, match=r"operators\.sharpen: unknown operator"):
        load_declaration(path)
    path.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="a declaration is a mapping"):
        load_declaration(path)


def test_render_settings_validate_on_construction_and_override():
    assert asdict(RenderSettings(True, 40, "png16")) == {"half_size": True, "long_edge": 40, "format": "png16"}
    with pytest.raises(ValueError):
        RenderSettings(True, 0, "png8")
    with pytest.raises(ValueError):
        RenderSettings("yes", 500, "png8")
    declaration = load_declaration()
    assert with_overrides(declaration, format="tiff16").render.format == "tiff16"
    with pytest.raises(ValueError, match=r"^render: format: Input should be"):
        with_overrides(declaration, format="jpg")
    check_render(replace(declaration.render, long_edge=None), "options")  # null keeps the decoded size


def test_a_written_declaration_reads_back_the_same(tmp_path):
    """What ``Declaration.to_dict`` writes (datasets' data_manifest.yaml, ``bno-synth photoset``) is a valid declaration."""
    import yaml

    declaration = load_declaration()
    path = tmp_path / "data_manifest.yaml"
    path.write_text(yaml.safe_dump(declaration.to_dict(), sort_keys=False))
    again = load_declaration(path)
    assert again.to_dict() == declaration.to_dict() and again.render == declaration.render
