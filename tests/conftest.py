"""Shared fixtures: small FiveK-named DNGs made on the spot with ``bno.synth.dng`` (no downloads).

* :func:`make_dng` (also the ``make_dng`` fixture): one deterministic, colourful Bayer DNG.
* ``good_raws``: a session folder of four valid FiveK-named DNGs (train and test ids,
  one name with spaces and parentheses).
* ``raw_folder``: the same plus bad inputs — a corrupt ``.dng`` (random bytes), a truncated
  DNG, a text file named ``.dng`` and a non-raw ``notes.txt``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from raw_factory import BLACK, WHITE
from raw_factory import CANON_5D_COLOR_MATRIX as COLOR_MATRIX
from bno.synth.dng import mosaic, write_dng

#: Valid scenes of ``good_raws``: (scene name, CFA pattern, AsShotNeutral).
GOOD_SCENES = (
    ("a0007-IMG_0007", "RGGB", (0.47, 1.0, 0.71)),
    ("a0411-2004-07-29 14-30-22 CRW_3063 (original)", "BGGR", (0.52, 1.0, 0.64)),
    ("a1379-_DSC5348", "GRBG", (0.43, 1.0, 0.78)),
    ("a4603-IMG_4603", "GBRG", (0.50, 1.0, 0.69)),
)
#: Bad inputs of ``raw_folder``: file name -> how it is broken.
BAD_FILES = ("a0500-corrupt.dng", "a0600-truncated.dng", "a0700-text.dng", "notes.txt")


def make_dng(path: Path, *, height: int = 64, width: int = 96, seed: int | None = None, pattern: str = "RGGB", neutral=(0.5, 1.0, 0.7), orientation: int = 1) -> Path:
    """Write a colourful (H, W) Bayer DNG; the scene depends only on ``seed`` (default: from the file name)."""
    path = Path(path)
    if seed is None:
        seed = int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width], float)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (3, 2))
    freq = rng.uniform(1.0, 4.0, (3, 2))
    scene = np.stack([0.35 + 0.3 * np.sin(freq[c, 0] * np.pi * x + phase[c, 0]) * np.cos(freq[c, 1] * np.pi * y + phase[c, 1]) for c in range(3)], axis=-1)
    scene[: height // 6] = 0.3  # a grey band
    camera = np.clip(scene, 0.0, 1.0) * np.asarray(neutral)
    cfa = np.round(BLACK + mosaic(camera, pattern) * (WHITE - BLACK)).astype(np.uint16)
    return write_dng(path, cfa, pattern, BLACK, WHITE, COLOR_MATRIX, neutral, orientation=orientation)


def make_good_raws(folder: Path, height: int = 64, width: int = 96) -> Path:
    """Write the :data:`GOOD_SCENES` DNGs into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, pattern, neutral in GOOD_SCENES:
        make_dng(folder / f"{name}.dng", height=height, width=width, pattern=pattern, neutral=neutral)
    return folder


def add_bad_files(folder: Path) -> Path:
    """Add :data:`BAD_FILES` to ``folder``: random bytes, a truncated DNG, text named .dng, a .txt."""
    rng = np.random.default_rng(0)
    (folder / BAD_FILES[0]).write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    whole = make_dng(folder / "whole.dng").read_bytes()
    (folder / "whole.dng").unlink()
    (folder / BAD_FILES[1]).write_bytes(whole[: len(whole) // 2])
    (folder / BAD_FILES[2]).write_text("this is not a raw file\n")
    (folder / BAD_FILES[3]).write_text("notes\n")
    return folder


@pytest.fixture(name="make_dng")
def make_dng_fixture():
    """The :func:`make_dng` helper."""
    return make_dng


@pytest.fixture(scope="session")
def good_raws(tmp_path_factory) -> Path:
    """A folder of four valid FiveK-named 64×96 DNGs (three train, one test id)."""
    return make_good_raws(tmp_path_factory.mktemp("good_raws"))


@pytest.fixture(scope="session")
def raw_folder(tmp_path_factory, good_raws) -> Path:
    """The good DNGs plus a corrupt, a truncated and a text ``.dng`` and a ``notes.txt``."""
    folder = tmp_path_factory.mktemp("raw_folder")
    for path in good_raws.iterdir():
        shutil.copy2(path, folder / path.name)
    return add_bad_files(folder)


def tree_bytes(root: Path, skip: tuple[str, ...] = ("data_manifest.yaml",)) -> dict[str, bytes]:
    """Every file under ``root`` (relative posix path -> bytes), except names in ``skip``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip}
