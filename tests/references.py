"""Published reference values the tests check our code against (never computed by our code).

Each table names its source. Values are facts (numbers) taken from the cited documents;
nothing here is derived from ``bno``'s own formulas.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ADOBE_TEMPERATURE_TINT_XY",
    "CIE_A_XY",
    "CIE_D50_XY",
    "CIE_D65_XY",
    "LINDBLOOM_D50_XYZ",
    "LINDBLOOM_PROPHOTO_TO_XYZ",
    "LINDBLOOM_SRGB_LAB",
    "XYZ_of_xy",
]

#: Adobe Camera Raw / DNG SDK white balance: (temperature K, tint) -> CIE 1931 xy, as
#: Camera Raw reads and writes them (SPEC §2, "Reference values … for tests").
ADOBE_TEMPERATURE_TINT_XY: dict[tuple[float, float], tuple[float, float]] = {
    (2850, 0): (0.44799, 0.40755),
    (5000, 0): (0.34510, 0.35162),
    (5000, 20): (0.34641, 0.36624),
    (5000, -20): (0.34386, 0.33774),
    (10000, 0): (0.28063, 0.28828),
}

#: CIE standard illuminants, CIE 1931 2° xy (CIE 15:2004, Table T.3). D65 reads in Camera Raw
#: as 6503 K / tint +9.8 and D50 as 5002 K / tint +9.6 (SPEC §2). Illuminant A is a Planckian
#: radiator at 2856 K (CIE 15:2004 §3.1), so it lies on the locus: tint 0.
CIE_D65_XY = (0.31271, 0.32902)
CIE_D50_XY = (0.34567, 0.35850)
CIE_A_XY = (0.44757, 0.40745)

#: Linear ProPhoto (ROMM) RGB -> XYZ, D50 reference white; Bruce Lindbloom, "RGB/XYZ Matrices"
#: (brucelindbloom.com, Eqn_RGB_XYZ_Matrix), ProPhoto RGB row. Rows sum to the D50 white below.
LINDBLOOM_PROPHOTO_TO_XYZ = np.array(
    [
        [0.7976749, 0.1351917, 0.0313534],
        [0.2880402, 0.7118741, 0.0000857],
        [0.0000000, 0.0000000, 0.8252100],
    ]
)
#: Lindbloom's D50 reference white, XYZ (Y = 1).
LINDBLOOM_D50_XYZ = np.array([0.96422, 1.00000, 0.82521])

#: CIELAB (D65) of the sRGB primaries and white at full intensity; Bruce Lindbloom's colour
#: calculator (sRGB, D65 reference white, no adaptation).
LINDBLOOM_SRGB_LAB: dict[tuple[float, float, float], tuple[float, float, float]] = {
    (1.0, 0.0, 0.0): (53.2408, 80.0925, 67.2032),
    (0.0, 1.0, 0.0): (87.7347, -86.1827, 83.1793),
    (0.0, 0.0, 1.0): (32.2970, 79.1875, -107.8602),
    (1.0, 1.0, 1.0): (100.0, 0.0, 0.0),
    (0.0, 0.0, 0.0): (0.0, 0.0, 0.0),
}


def XYZ_of_xy(xy) -> np.ndarray:
    """CIE xy -> XYZ with Y = 1 (the definition of chromaticity: x = X/(X+Y+Z), y = Y/(X+Y+Z))."""
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])
