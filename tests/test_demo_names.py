"""The demo report finds each test raw's expert render by its exact name (no glob patterns)."""

from __future__ import annotations

from pathlib import Path

from bno.pipelines.demo.targets import expert_render


def test_brackets_in_a_name_are_literal(tmp_path: Path):
    (tmp_path / "a4514-IMG[1].jpg").write_bytes(b"expert of the bracketed raw")
    (tmp_path / "a4514-IMG1.jpg").write_bytes(b"another photo")  # what glob 'a4514-IMG[1].*' would pick
    (tmp_path / "a4733-x[ab].jpg").write_bytes(b"only match")
    assert expert_render(tmp_path, "a4514-IMG[1]") == tmp_path / "a4514-IMG[1].jpg"
    assert expert_render(tmp_path, "a4514-IMG1") == tmp_path / "a4514-IMG1.jpg"
    assert expert_render(tmp_path, "a4733-x[ab]") == tmp_path / "a4733-x[ab].jpg"


def test_other_names_and_folders_do_not_match(tmp_path: Path):
    (tmp_path / "a0001-x.jpg.bak").write_bytes(b"")  # stem 'a0001-x.jpg'
    (tmp_path / "a0001-x").mkdir()
    (tmp_path / "a0001-x*.jpg").write_bytes(b"")
    assert expert_render(tmp_path, "a0001-x") is None
    (tmp_path / "a0001-x.tif").write_bytes(b"")
    (tmp_path / "a0001-x.jpg").write_bytes(b"")
    assert expert_render(tmp_path, "a0001-x") == tmp_path / "a0001-x.jpg"  # first by name
