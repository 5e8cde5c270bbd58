"""Colour-space conversions between linear ProPhoto RGB (the working space) and sRGB.

The working space is linear, scene-referred ROMM / ProPhoto RGB with a D50 white,
as in Adobe Camera Raw. Display images are sRGB (IEC 61966-2-1) with a D65
white; the two are linked by a Bradford chromatic adaptation, the same choice as
LibRaw/dcraw's ``prophoto_rgb`` table and the DNG SDK.

| array            | shape       | range                    |
|------------------|-------------|--------------------------|
| ``prophoto``     | (..., 3)    | linear, [0, inf)         |
| ``srgb_linear``  | (..., 3)    | linear, [0, inf)         |
| ``srgb``         | (..., 3)    | display-encoded, [0, 1]  |

References: IEC 61966-2-1:1999 (sRGB); ANSI/I3A IT10.7666 (ROMM RGB);
colour-science ``RGB_COLOURSPACES``.
"""

from __future__ import annotations

import colour
import numpy as np

__all__ = [
    "PROPHOTO_TO_XYZ",
    "XYZ_TO_PROPHOTO",
    "PROPHOTO_TO_SRGB",
    "SRGB_TO_PROPHOTO",
    "PROPHOTO_WHITE_XY",
    "srgb_encode",
    "srgb_decode",
    "prophoto_to_srgb",
    "prophoto_to_srgb8",
    "srgb_to_prophoto",
    "apply_matrix",
    "romm_decode",
]

_PROPHOTO = colour.RGB_COLOURSPACES["ProPhoto RGB"]
_SRGB = colour.RGB_COLOURSPACES["sRGB"]

#: CIE xy of the ProPhoto white (D50 as ROMM defines it: 0.3457, 0.3585).
PROPHOTO_WHITE_XY: np.ndarray = np.asarray(_PROPHOTO.whitepoint, dtype=np.float64)
#: Linear ProPhoto RGB -> CIE XYZ (D50), (3, 3).
PROPHOTO_TO_XYZ: np.ndarray = np.asarray(_PROPHOTO.matrix_RGB_to_XYZ, dtype=np.float64)
#: CIE XYZ (D50) -> linear ProPhoto RGB, (3, 3).
XYZ_TO_PROPHOTO: np.ndarray = np.linalg.inv(PROPHOTO_TO_XYZ)
_P2S = np.asarray(
    colour.matrix_RGB_to_RGB(_PROPHOTO, _SRGB, chromatic_adaptation_transform="Bradford"),
    dtype=np.float64,
)
#: Linear ProPhoto (D50) -> linear sRGB (D65), Bradford-adapted, (3, 3). Rows are
#: normalised to sum to 1 so that neutrals stay exactly neutral (as dcraw's tables do;
#: the unnormalised rows differ from 1 by < 4e-4 through white-point rounding).
PROPHOTO_TO_SRGB: np.ndarray = _P2S / _P2S.sum(axis=1, keepdims=True)
#: Linear sRGB (D65) -> linear ProPhoto (D50), (3, 3).
SRGB_TO_PROPHOTO: np.ndarray = np.linalg.inv(PROPHOTO_TO_SRGB)


def apply_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 3×3 colour matrix to the last axis: ``out[..., i] = Σ_j M[i, j] image[..., j]``.

    ``image`` (..., 3) float32 -> (..., 3) float32.
    """
    return image @ matrix.T.astype(np.float32, copy=False)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """sRGB OETF (IEC 61966-2-1): linear [0, 1] -> encoded [0, 1]; input is clipped to [0, 1].

    >>> float(srgb_encode(np.float32(0.5)))  # doctest: +ELLIPSIS
    0.735...
    """
    x = np.clip(linear, 0.0, 1.0).astype(np.float32, copy=False)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055).astype(np.float32)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB EOTF (IEC 61966-2-1): encoded [0, 1] -> linear [0, 1]."""
    x = np.clip(encoded, 0.0, 1.0).astype(np.float32, copy=False)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4)).astype(np.float32)


def prophoto_to_srgb(prophoto: np.ndarray) -> np.ndarray:
    """Linear ProPhoto (..., 3) -> display sRGB (..., 3) float32 in [0, 1] (gamut and white clipped)."""
    return srgb_encode(apply_matrix(np.asarray(prophoto, dtype=np.float32), PROPHOTO_TO_SRGB))


def srgb_to_prophoto(srgb: np.ndarray) -> np.ndarray:
    """Display sRGB (..., 3) in [0, 1] -> linear ProPhoto (..., 3) float32."""
    return apply_matrix(srgb_decode(srgb), SRGB_TO_PROPHOTO)


def _srgb8_table(size: int) -> np.ndarray:
    linear = np.arange(size, dtype=np.float64) / (size - 1)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.rint(encoded * 255).astype(np.uint8)


#: sRGB OETF to 8 bits, indexed by linear value × 65535 (rounded): a lookup instead of a power.
#: Quantising linear light to 16 bits first moves a code by at most 12.92 × 255 / 65535 ≈ 0.05.
_SRGB8_TABLE = _srgb8_table(65536)


def prophoto_to_srgb8(prophoto: np.ndarray) -> np.ndarray:
    """Linear ProPhoto (..., 3) -> display sRGB (..., 3) uint8, via a 16-bit lookup table.

    Equal to ``round(255 · prophoto_to_srgb(x))`` except at rounding ties (±1 code), ~4× faster.
    """
    linear = apply_matrix(np.asarray(prophoto, dtype=np.float32), PROPHOTO_TO_SRGB)
    np.clip(linear, 0.0, 1.0, out=linear)
    linear *= np.float32(65535.0)
    linear += np.float32(0.5)
    return _SRGB8_TABLE[linear.astype(np.uint16)]


#: ROMM RGB's linear-segment threshold ``Et`` (ISO 22028-2), in the linear domain.
ROMM_ET = 1.0 / 512.0


def romm_decode(encoded: np.ndarray) -> np.ndarray:
    """ROMM RGB (ProPhoto) encoded values in [0, 1] → linear, float32, any shape.

    ISO 22028-2 / ANSI/I3A IT10.7666: ``E/16`` below ``16·Et`` (Et = 1/512), else ``E**1.8``.
    FiveK's 16-bit ``tiff16_*`` targets are stored this way.

    >>> romm_decode(np.array([0.0, 0.01, 0.5, 1.0])).astype(np.float64).round(6).tolist()
    [0.0, 0.000625, 0.287175, 1.0]
    """
    encoded = np.clip(np.asarray(encoded, dtype=np.float32), 0.0, 1.0)
    return np.where(encoded < 16 * ROMM_ET, encoded / 16.0, encoded ** np.float32(1.8)).astype(np.float32)
