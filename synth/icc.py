"""ICC profiles for written images: sRGB, and linear ProPhoto (ROMM primaries, D50, gamma 1.0).

Both are built by LittleCMS 2 — nothing here assembles profile bytes:

| name                | built by                                                     | description (``desc`` tag) |
|---------------------|--------------------------------------------------------------|----------------------------|
| ``srgb``            | Pillow ``ImageCms.createProfile("sRGB")`` (IEC 61966-2-1)    | ``sRGB built-in``          |
| ``linear-prophoto`` | imagecodecs ``cms_profile("rgb", whitepoint, primaries, gamma=1.0)`` | ``RGB built-in``   |

Pillow's ImageCms cannot make an RGB profile with other primaries or a tone curve, so the
linear ProPhoto one comes from imagecodecs (its LittleCMS binding; LittleCMS's
``cmsCreateRGBProfile`` names every such profile "RGB built-in" and neither binding can
change that). Primaries and white are colour-science's ProPhoto RGB, i.e. ROMM RGB
(ANSI/I3A IT10.7666, ISO 22028-2): R (0.7347, 0.2653), G (0.1596, 0.8404),
B (0.0366, 0.0001), white D50 (0.3457, 0.3585).

LittleCMS stamps each profile with the time it was made (header bytes 24–35, a
``dateTimeNumber``, ICC.1:2022 §7.2.1). That field is set here to :data:`PROFILE_DATE`, so that
the same pixels always give the same file bytes (dataset manifests record sha256 values).
The profile ID (bytes 84–99) is left as LittleCMS writes it: zero, "not calculated".
Profiles are built once per process and cached.

>>> from PIL import ImageCms
>>> import io
>>> ImageCms.ImageCmsProfile(io.BytesIO(profile_bytes("srgb"))).profile.profile_description
'sRGB built-in'
"""

from __future__ import annotations

import functools
import struct
from typing import Literal

import colour
import imagecodecs
from PIL import ImageCms

__all__ = ["PROFILE_DATE", "PROFILE_NAMES", "ProfileName", "linear_prophoto_profile", "profile_bytes", "srgb_profile"]

#: Creation date written into every profile header: (year, month, day, hour, minute, second), UTC.
PROFILE_DATE = (2026, 1, 1, 0, 0, 0)
#: Names accepted by :func:`profile_bytes`.
ProfileName = Literal["srgb", "linear-prophoto"]
PROFILE_NAMES: tuple[str, ...] = ("srgb", "linear-prophoto")

_DATE_FIELD = slice(24, 36)  # ICC header: dateTimeNumber, six big-endian uInt16Numbers
_PROFILE_ID = slice(84, 100)


def _pin_date(profile: bytes) -> bytes:
    """``profile`` with its header's creation date set to :data:`PROFILE_DATE`."""
    if any(profile[_PROFILE_ID]):  # an MD5 profile ID would cover the date; LittleCMS writes none
        raise ValueError("ICC profile carries a profile ID; changing its date would invalidate it")
    return profile[: _DATE_FIELD.start] + struct.pack(">6H", *PROFILE_DATE) + profile[_DATE_FIELD.stop :]


@functools.cache
def srgb_profile() -> bytes:
    """The sRGB profile (LittleCMS's built-in, via Pillow's ImageCms), date pinned."""
    return _pin_date(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


@functools.cache
def linear_prophoto_profile() -> bytes:
    """Linear ProPhoto RGB: ROMM primaries, D50 white, gamma 1.0 (LittleCMS via imagecodecs), date pinned."""
    prophoto = colour.RGB_COLOURSPACES["ProPhoto RGB"]
    primaries = [value for x, y in prophoto.primaries for value in (float(x), float(y), 1.0)]
    white = [float(prophoto.whitepoint[0]), float(prophoto.whitepoint[1]), 1.0]
    return _pin_date(imagecodecs.cms_profile("rgb", whitepoint=white, primaries=primaries, gamma=1.0))


def profile_bytes(name: ProfileName) -> bytes:
    """The ICC profile called ``name`` (one of :data:`PROFILE_NAMES`)."""
    if name == "srgb":
        return srgb_profile()
    if name == "linear-prophoto":
        return linear_prophoto_profile()
    raise ValueError(f"unknown ICC profile {name!r} (use one of {', '.join(PROFILE_NAMES)})")
