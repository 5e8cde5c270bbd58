"""Exposure (EX): Lightroom's Exposure slider, in EV, on scene-linear data.

Positive EV is the linear gain ``s = 2**EV`` (darktable ``exposure.c``, RawTherapee,
and LibRaw's ``exp_shift`` which is the same gain given as a factor). Negative EV
follows the DNG SDK's white-preserving exposure tone (``dng_function_exposure_tone``):
``y = s·x`` for ``x ≤ 1/4`` and ``y = a x² + b x + c`` above, with
``a = 16/9 (1 − s)``, ``b = s − a/2``, ``c = 1 − a − b``; the two pieces meet with
equal value and slope at ``x = 1/4`` and white (1) stays white.

| argument | shape     | range / unit             |
|----------|-----------|--------------------------|
| image    | (..., 3)  | linear ProPhoto, ≥ 0     |
| ev       | scalar    | [-5, +5] EV              |
"""

from __future__ import annotations

import numpy as np

__all__ = ["exposure"]

#: Knee of the DNG SDK's negative-exposure tone curve.
_KNEE = 0.25


def exposure(image: np.ndarray, ev: float) -> np.ndarray:
    """Apply ``ev`` stops of exposure to linear ``image`` (float32, any shape).

    >>> exposure(np.array([0.1, 0.5], np.float32), 1.0)
    array([ 0.2,  1. ], dtype=float32)
    >>> float(exposure(np.float32(1.0), -1.0))  # white is preserved for -EV
    1.0
    """
    image = np.asarray(image, dtype=np.float32)
    gain = np.float32(2.0**ev)
    if ev >= 0:
        return image * gain
    a = np.float32(16.0 / 9.0 * (1.0 - gain))
    b = gain - a / 2
    c = 1 - a - b
    curve = (a * image + b) * image + c
    return np.where(image <= _KNEE, image * gain, curve).astype(np.float32, copy=False)
