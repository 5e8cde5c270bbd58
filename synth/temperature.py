"""Adobe's Temperature/Tint white-balance coordinates <-> CIE xy chromaticity.

Adobe (DNG SDK ``dng_temperature``, Camera Raw) describes a white point by a
correlated colour temperature ``T`` in kelvin, found with Robertson's (1968)
isotemperature lines in the CIE 1960 UCS (u, v) diagram, and a ``tint`` equal to
``3000 × Duv``, the signed distance from the Planckian locus along the isotherm.
A positive tint is a greener (higher v) illuminant, which Camera Raw corrects
with magenta, so the *image* turns magenta as the Tint slider rises.

| quantity | unit   | domain                |
|----------|--------|-----------------------|
| ``T``    | kelvin | [1667, 100000]        |
| ``tint`` | Adobe  | [-150, 150]           |
| ``xy``   | CIE xy | inside the locus      |

References: Robertson, A. R. (1968) "Computation of correlated color temperature
and distribution temperature", JOSA 58(11); Adobe DNG SDK 1.6 ``dng_temperature.cpp``;
colour-science ``colour.temperature.robertson1968``. Reference values of SPEC §2
(e.g. 5000 K, tint +20 -> xy 0.34641, 0.36624) hold to < 5e-6.
"""

from __future__ import annotations

from typing import NamedTuple

import colour
import numpy as np

__all__ = ["D50_WHITE", "D65_WHITE", "TINT_PER_DUV", "WhitePoint", "temperature_tint_to_xy", "xy_to_temperature_tint", "xy_to_XYZ"]

#: Adobe tint units per unit of Duv (CIE 1960 UCS distance from the Planckian locus).
TINT_PER_DUV = 3000.0


class WhitePoint(NamedTuple):
    """A white point in Adobe's coordinates: ``temperature`` (K) and ``tint``."""

    temperature: float
    tint: float


def temperature_tint_to_xy(temperature: float | np.ndarray, tint: float | np.ndarray = 0.0) -> np.ndarray:
    """Adobe Temperature (K) and Tint -> CIE xy, shape ``(..., 2)``.

    >>> temperature_tint_to_xy(5000, 20).round(5)
    array([ 0.34641,  0.36624])
    """
    temperature, tint = np.broadcast_arrays(np.asarray(temperature, float), np.asarray(tint, float))
    uv = colour.temperature.CCT_to_uv_Robertson1968(np.stack([temperature, tint / TINT_PER_DUV], axis=-1))
    return np.asarray(colour.UCS_uv_to_xy(uv), dtype=np.float64)


def xy_to_temperature_tint(xy: np.ndarray) -> WhitePoint:
    """CIE xy ``(2,)`` -> Adobe ``WhitePoint(temperature, tint)`` (Robertson isotherms)."""
    uv = colour.xy_to_UCS_uv(np.asarray(xy, dtype=np.float64))
    temperature, duv = colour.temperature.uv_to_CCT_Robertson1968(uv)
    return WhitePoint(float(temperature), float(duv * TINT_PER_DUV))


def xy_to_XYZ(xy: np.ndarray) -> np.ndarray:
    """CIE xy ``(..., 2)`` -> XYZ ``(..., 3)`` with Y = 1."""
    xy = np.asarray(xy, dtype=np.float64)
    x, y = xy[..., 0], xy[..., 1]
    return np.stack([x / y, np.ones_like(x), (1.0 - x - y) / y], axis=-1)


_CIE_1931 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]
#: CIE D65 in Adobe coordinates (≈ 6504 K, tint +9.8): sRGB's white, the as-shot white assumed for rendered images.
D65_WHITE: WhitePoint = xy_to_temperature_tint(_CIE_1931["D65"])
#: CIE D50 in Adobe coordinates (≈ 5001 K, tint +9.6): ProPhoto's white, assumed for a raw without white-balance metadata.
D50_WHITE: WhitePoint = xy_to_temperature_tint(_CIE_1931["D50"])
