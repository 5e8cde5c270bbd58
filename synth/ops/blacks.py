"""Black clipping (BC): Lightroom's Blacks slider as the DNG SDK's exposure ramp.

The DNG SDK (``dng_function_exposure_ramp``) maps linear ``x`` through a black point
``b`` with ``slope = 1/(white − b)`` and a quadratic toe of half-width
``R = min(b/2, (1/16)/slope)``:

* ``f(x) = 0``                       for ``x ≤ b − R``
* ``f(x) = q (x − b + R)²``, ``q = slope/(4R)``   for ``b − R < x < b + R``
* ``f(x) = (x − b)·slope``           for ``x ≥ b + R``

so ``f`` is C¹-continuous, monotonic and ``f(white) = white``. A negative black
point (no toe needed) lifts the shadows instead: ``f(0) = −b·slope > 0``.

Slider mapping (ours, documented): ``b = −blacks / 100 × 0.05`` with the slider in
[−100, +100], so −100 crushes everything below 5 % linear (≈ −4.3 EV below white)
and +100 lifts black to ≈ 4.8 % linear. Raising the slider lifts shadows, as in
Lightroom.

| argument | shape     | range / unit              |
|----------|-----------|---------------------------|
| image    | (..., 3)  | linear ProPhoto, ≥ 0      |
| blacks   | scalar    | [-100, +100] slider units |
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLACK_POINT_AT_FULL_SLIDER", "black_point", "black_ramp", "blacks"]

#: Black point (linear) reached at Blacks = −100; +100 gives its negative.
BLACK_POINT_AT_FULL_SLIDER = 0.05
#: The DNG SDK limits the toe so that it spans at most 1/16 of output range.
_MAX_TOE_OUTPUT = 1.0 / 16.0
_WHITE = 1.0


def black_point(blacks: float) -> float:
    """Slider value in [−100, 100] -> linear black point ``b`` (positive crushes)."""
    return -float(blacks) / 100.0 * BLACK_POINT_AT_FULL_SLIDER


def black_ramp(image: np.ndarray, b: float) -> np.ndarray:
    """The DNG SDK exposure ramp with black point ``b`` (linear), white fixed at 1."""
    image = np.asarray(image, dtype=np.float32)
    slope = 1.0 / (_WHITE - b)
    linear = (image - np.float32(b)) * np.float32(slope)
    if b <= 0:
        return linear
    radius = min(b / 2.0, _MAX_TOE_OUTPUT / slope)
    q = np.float32(slope / (4.0 * radius))
    toe = q * np.square(np.maximum(image - np.float32(b - radius), 0))
    return np.where(image < b + radius, toe, linear).astype(np.float32, copy=False)


def blacks(image: np.ndarray, blacks: float) -> np.ndarray:
    """Apply Lightroom-style Blacks (slider units, [−100, 100]) to linear ``image``.

    >>> blacks(np.array([0.0, 1.0], np.float32), -100.0)
    array([ 0.,  1.], dtype=float32)
    """
    return black_ramp(image, black_point(blacks))
