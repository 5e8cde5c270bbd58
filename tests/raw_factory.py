"""Test raws made on the spot: a synthetic scene through an inverted camera pipeline into a DNG.

No downloads: tifffile writes the DNG (``bno.synth.dng``), LibRaw reads it back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bno.synth.dng import mosaic, write_dng
from bno.synth.temperature import temperature_tint_to_xy, xy_to_XYZ

__all__ = ["CANON_5D_COLOR_MATRIX", "BLACK", "WHITE", "camera_neutral", "make_scene_dng"]

#: Canon EOS 5D, XYZ (D65) -> camera, dcraw ``adobe_coeff`` (×10000 there).
CANON_5D_COLOR_MATRIX = np.array([6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649], float).reshape(3, 3) / 1e4
BLACK, WHITE = 512, 15000


def camera_neutral(temperature: float, tint: float = 0.0, matrix: np.ndarray = CANON_5D_COLOR_MATRIX) -> np.ndarray:
    """Camera response (G = 1) to the white of Adobe ``(temperature, tint)``: the AsShotNeutral."""
    neutral = matrix @ xy_to_XYZ(temperature_tint_to_xy(temperature, tint))
    return neutral / neutral[1]


def make_scene_dng(
    path: Path,
    *,
    pattern: str = "RGGB",
    temperature: float = 4000.0,
    tint: float = 5.0,
    height: int = 64,
    width: int = 96,
    orientation: int = 1,
    reflectance: np.ndarray | None = None,
) -> Path:
    """Write a DNG of a scene lit by the Adobe white ``(temperature, tint)``, shot at that white.

    ``reflectance`` (H, W, 3) in [0, 1] is the scene in "as-shot-balanced" terms: a
    grey reflectance (R = G = B) decodes neutral. Default: left third 15 % grey, the
    rest a colour ramp, top rows 30 % grey.
    """
    if reflectance is None:
        y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
        reflectance = np.stack([0.1 + 0.6 * x, 0.2 + 0.3 * y, 0.5 - 0.4 * x * y], axis=-1)
        reflectance[:, : width // 3] = 0.15
        reflectance[: height // 4] = 0.30
    neutral = camera_neutral(temperature, tint)
    camera = reflectance * neutral  # camera RGB: a grey object reflects the illuminant's response
    cfa = np.round(BLACK + mosaic(camera, pattern) * (WHITE - BLACK)).astype(np.uint16)
    write_dng(path, cfa, pattern, BLACK, WHITE, CANON_5D_COLOR_MATRIX, neutral, orientation=orientation)
    return Path(path)
