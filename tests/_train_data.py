"""Tiny datasets for the training tests (no network, a few seconds to build).

* :func:`make_operator_dataset` — DNG scenes from ``tests/raw_factory.py`` rendered by the
  real ``bno-synth generate`` pipeline (in process) into the NeurOp layout with manifests;
* :func:`make_paired_dataset` — FiveK-Dark-style ``trainA/trainB/testA/testB`` folders of
  smooth synthetic images whose targets are a fixed global tone/colour change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


from raw_factory import make_scene_dng  # noqa: E402


def _reflectance(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    base = rng.uniform(0.1, 0.6, size=3)
    slope = rng.uniform(-0.3, 0.3, size=(2, 3))
    image = base + x[..., None] * slope[0] + y[..., None] * slope[1]
    return np.clip(image, 0.02, 0.95)


def make_operator_dataset(root: Path, ops=("EX", "VB"), levels: int = 5, train: int = 3, test: int = 2, size=(48, 64)) -> Path:
    """Render ``train + test`` small scenes with ``ops`` at ``levels`` levels into ``root/data``."""
    from bno.pipelines.data.generate import generate
    from bno.pipelines.data.manifest import load_declaration

    raws = root / "raws"
    raws.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ids = [f"a{n:04d}" for n in range(1, train + 1)] + [f"a{n:04d}" for n in range(4501, 4501 + test)]
    for i, scene_id in enumerate(ids):
        make_scene_dng(
            raws / f"{scene_id}-TEST_{i}.dng",
            height=size[0] * 2,
            width=size[1] * 2,
            temperature=4000 + 300 * i,
            reflectance=_reflectance(rng, size[0] * 2, size[1] * 2),
        )
    names = {"EX": "exposure", "VB": "vibrance", "BC": "blacks", "WB": "white-balance"}
    declaration = root / "declaration.yaml"
    declaration.write_text(
        "version: 1\n"
        "source: {raws: raws}\n"
        "render: {half_size: true, long_edge: null, format: png8}\n"
        "operators:\n" + "".join(f"  {names[op]}: {{levels: {levels}}}\n" for op in ops)
    )
    out = root / "data"
    generate(load_declaration(declaration), list(ops), out, workers=0, progress_interval=1e9)
    return out


def make_paired_dataset(root: Path, train: int = 4, test: int = 2, size=(40, 56)) -> Path:
    """FiveK-Dark layout: 16-bit TIFF inputs, 8-bit JPEG targets = ``clip(1.3·x^0.8 + tint)``."""
    from bno.synth.io import write_image

    rng = np.random.default_rng(1)
    for split, count, first in (("train", train, 1), ("test", test, 4501)):
        (root / f"{split}A").mkdir(parents=True, exist_ok=True)
        (root / f"{split}B").mkdir(parents=True, exist_ok=True)
        for n in range(first, first + count):
            x = _reflectance(rng, *size) * 0.6
            y = np.clip(1.3 * x**0.8 + np.array([0.02, 0.0, -0.02]), 0, 1)
            write_image(root / f"{split}A" / f"a{n:04d}.tif", x, 16)
            write_image(root / f"{split}B" / f"a{n:04d}-expert.jpg", y, 8)
    return root


# --------------------------------------------------------------------------- shared fixtures

_CACHE: dict[str, Path] = {}

#: A tiny recipe: two operators, 32² low-res path, a few steps (seconds per run on one core).
TINY_RECIPE = """
workers: 0
threads: 1
progress: false
tensorboard: false
model:
  kind: bno
  operators: [EX, VB]
  bno: {bilateral: {lowres_size: 32}, predictor_height: 32}
  neurop: {predictor_height: 32}
stage1:
  epochs: 2
  steps_per_epoch: 3
  batch_size: 2
  crop_size: 32
  lr: 3.0e-3
  eval_pairs_per_scene: 2
stage2:
  epochs: 2
  steps_per_epoch: 2
  batch_size: 2
  crop_size: 32
  lr: 1.0e-3
"""


def shared(name: str, factory, tmp_path_factory) -> Path:
    """Build a dataset once per test session (``name`` → folder)."""
    if name not in _CACHE or not _CACHE[name].exists():
        _CACHE[name] = factory(tmp_path_factory.mktemp(name))
    return _CACHE[name]


def tiny_recipe(folder: Path, extra: str = "") -> Path:
    """Write :data:`TINY_RECIPE` (+ ``extra`` YAML lines) into ``folder/tiny.yaml``."""
    path = folder / "tiny.yaml"
    path.write_text(TINY_RECIPE + extra)
    return path
