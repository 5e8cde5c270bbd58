"""Large synthetic raws for the benchmarks: deterministic 24 MP Bayer DNGs made with :mod:`bno.synth.dng`.

By default they are laid out as FiveK's DNGs are (LJ92 lossless-JPEG tiles in a SubIFD, a
preview in IFD0), so decode times include LibRaw's Huffman decoding as on real camera raws.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from bno.synth.dng import mosaic, write_dng

__all__ = ["make_large_dng"]

#: Canon EOS 5D, XYZ (D65) -> camera, dcraw ``adobe_coeff`` (×10000 there).
_COLOR_MATRIX = np.array([6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649], float).reshape(3, 3) / 1e4
_BLACK, _WHITE = 512, 15000
_NEUTRAL = (0.55, 1.0, 0.62)


def make_large_dng(path: Path, width: int = 6000, height: int = 4000, compression: str | None = "ljpeg") -> Path:
    """Write a ``width``×``height`` RGGB DNG of smooth random colour plus sensor noise.

    ``compression``: ``"ljpeg"`` (FiveK-like LJ92 tiles, ~1.1 bytes/pixel here) or ``None``
    (uncompressed, 2 bytes/pixel); see :func:`bno.synth.dng.write_dng`. The content depends
    only on the file name (seeded by its SHA-256), so reruns give the same bytes and
    differently named files differ.
    """
    path = Path(path)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(path.name.encode()).digest()[:4], "big"))
    coarse = rng.random((height // 100, width // 100, 3), dtype=np.float32)
    scene = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0.02, 1) * 0.8
    cfa = mosaic(scene * np.float32(_NEUTRAL), "RGGB") + rng.normal(0, 0.003, (height, width)).astype(np.float32)
    raw = np.clip(np.round(_BLACK + cfa * (_WHITE - _BLACK)), 0, 16383).astype(np.uint16)
    return write_dng(path, raw, "RGGB", _BLACK, _WHITE, _COLOR_MATRIX, _NEUTRAL, compression=compression)
