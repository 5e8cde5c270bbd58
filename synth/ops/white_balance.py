"""White balance (WB): Lightroom's Temperature (K) and Tint as a chromatic adaptation.

An image decoded at its as-shot white balance shows objects lit by the as-shot
illuminant ``W0`` as neutral. Choosing a new white ``W`` (Adobe Temperature/Tint,
see :mod:`bno.synth.temperature`) means objects lit by ``W`` should be neutral instead:
in Bradford cone space (the DNG SDK's adaptation) every pixel is scaled by
``LMS(W0) / LMS(W)``. The adaptation is one 3×3 matrix in linear ProPhoto.

Raising Temperature above the as-shot value names a bluer illuminant, which is
neutralised by warming the image; raising Tint names a greener one and turns the
image magenta — Camera Raw's behaviour.

* **Raws (absolute)**: ``as_shot`` is the white the camera balanced for, read from
  the file (``ColorMatrix`` + ``AsShotNeutral``, see :mod:`bno.synth.raw`).
* **Rendered images (relative)**: the image is taken as balanced for its display
  white, D65 (6504 K, tint +9.8 in Adobe units), unless told otherwise.

| argument      | shape    | range / unit                         |
|---------------|----------|--------------------------------------|
| image         | (..., 3) | linear ProPhoto, ≥ 0                 |
| temperature   | scalar   | [2000, 50000] K                      |
| tint          | scalar   | [-150, +150] Adobe tint              |
| as_shot       | pair     | the image's current white (K, tint)  |

References: Adobe DNG SDK ``dng_color_spec`` (Bradford adaptation);
Lam (1985) / Bradford cone response matrix; colour-science
``matrix_chromatic_adaptation_VonKries``.
"""

from __future__ import annotations

import colour
import numpy as np

from ..colour_spaces import PROPHOTO_TO_XYZ, XYZ_TO_PROPHOTO, apply_matrix
from ..temperature import D65_WHITE, WhitePoint, temperature_tint_to_xy, xy_to_XYZ

__all__ = ["D65_WHITE", "white_balance", "white_balance_matrix"]


_BRADFORD = np.asarray(colour.adaptation.CAT_BRADFORD, dtype=np.float64)


def white_balance_matrix(as_shot: WhitePoint, target: WhitePoint) -> np.ndarray:
    """3×3 matrix on linear ProPhoto that re-balances from ``as_shot`` to ``target``."""
    lms_shot = _BRADFORD @ xy_to_XYZ(temperature_tint_to_xy(*as_shot))
    lms_target = _BRADFORD @ xy_to_XYZ(temperature_tint_to_xy(*target))
    cone_scale = np.diag(lms_shot / lms_target)
    xyz_scale = np.linalg.inv(_BRADFORD) @ cone_scale @ _BRADFORD
    return XYZ_TO_PROPHOTO @ xyz_scale @ PROPHOTO_TO_XYZ


def white_balance(
    image: np.ndarray, temperature: float, tint: float | None = None, as_shot: WhitePoint = D65_WHITE
) -> np.ndarray:
    """Re-balance linear ``image`` so that the white ``(temperature, tint)`` becomes neutral.

    ``tint=None`` keeps the as-shot tint. Setting the as-shot values is the identity.
    """
    image = np.asarray(image, dtype=np.float32)
    as_shot = WhitePoint(*as_shot)
    target = WhitePoint(float(temperature), as_shot.tint if tint is None else float(tint))
    if target == as_shot:
        return image.copy()
    out = apply_matrix(image, white_balance_matrix(as_shot, target))
    return np.maximum(out, 0, out=out)
