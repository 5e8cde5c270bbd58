"""Vibrance (VB): a chroma boost weighted towards low-saturation colours.

darktable's ``basicadj`` vibrance: with ``avg`` the mean of R, G, B, ``δ`` the
pixel's saturation and ``v = vibrance/100``,

    P = v · (1 − δ^|v|),    out = avg + (1 + P)(c − avg)

so neutrals (``c = avg``) are unchanged, a pastel (small ``δ``) gets a chroma
gain of nearly ``1 + v`` and a saturated colour (``δ → 1``) nearly none. We take
``δ = (max − min)/max`` (HSV saturation, in [0, 1]) and work in linear ProPhoto;
the result is clipped to the gamut (no negative components).

| argument  | shape     | range / unit              |
|-----------|-----------|---------------------------|
| image     | (..., 3)  | linear ProPhoto, ≥ 0      |
| vibrance  | scalar    | [-100, +100] slider units |

Reference: darktable ``src/iop/basicadj.c`` (vibrance); RawTherapee's vibrance
splits pastel and saturated gains similarly and also protects skin tones (not done here).
"""

from __future__ import annotations

import numpy as np

__all__ = ["chroma_gain", "vibrance"]

_EPS = np.float32(1e-12)


def chroma_gain(saturation: np.ndarray, vibrance: float) -> np.ndarray:
    """``1 + P``: the factor on ``c − avg`` for a pixel of HSV ``saturation`` in [0, 1]."""
    v = np.float32(vibrance / 100.0)
    return 1 + v * (1 - np.power(saturation, abs(v)))


def vibrance(image: np.ndarray, vibrance: float) -> np.ndarray:
    """Apply Lightroom-style Vibrance (slider units, [−100, 100]) to linear ``image``.

    >>> vibrance(np.array([0.2, 0.2, 0.2], np.float32), 100.0)  # neutrals stay put
    array([ 0.2,  0.2,  0.2], dtype=float32)
    """
    image = np.asarray(image, dtype=np.float32)
    if vibrance == 0:
        return image.copy()
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    high = np.maximum(np.maximum(r, g), b)
    low = np.minimum(np.minimum(r, g), b)
    saturation = np.clip((high - low) / np.maximum(high, _EPS), 0, 1)
    avg = (r + g + b) / 3
    gain = chroma_gain(saturation, vibrance)
    out = np.empty_like(image)
    for channel in range(3):
        out[..., channel] = avg + gain * (image[..., channel] - avg)
    return np.maximum(out, 0, out=out)
