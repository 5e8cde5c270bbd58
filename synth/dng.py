"""Minimal Bayer-CFA DNG writer (tifffile) and a Bayer mosaic sampler.

The smallest DNG that LibRaw / rawpy and RawTherapee open: one uncompressed
16-bit CFA image in IFD0 (``NewSubfileType = 0``, ``Photometric = 32803``)
with the DNG colour tags needed to render it. Used to make the bundled sample
raws (``scripts/make_samples.py``) and test raws without downloading anything.

Tags written (Adobe DNG Specification 1.4.0.0, chapters 4–6; TIFF/EP for the
CFA tags):

====== ========================== ========= =====================================
code   name                       type      value
====== ========================== ========= =====================================
254    NewSubfileType             LONG      0 (main image)
262    PhotometricInterpretation  SHORT     32803 (CFA)
271    Make                       ASCII     ``make``
272    Model                      ASCII     ``model``
274    Orientation                SHORT     ``orientation`` (1–8, TIFF/EXIF)
33421  CFARepeatPatternDim        SHORT[2]  (2, 2)
33422  CFAPattern                 BYTE[4]   ``pattern`` as 0 = R, 1 = G, 2 = B
50706  DNGVersion                 BYTE[4]   (1, 4, 0, 0)
50707  DNGBackwardVersion         BYTE[4]   (1, 1, 0, 0)
50708  UniqueCameraModel          ASCII     ``unique_camera_model``
50710  CFAPlaneColor              BYTE[3]   (0, 1, 2)
50711  CFALayout                  SHORT     1 (rectangular)
50713  BlackLevelRepeatDim        SHORT[2]  (1, 1)
50714  BlackLevel                 LONG      ``black_level``
50717  WhiteLevel                 LONG      ``white_level``
50721  ColorMatrix1               SRATIONAL ``color_matrix`` (row-major, /10000)
50728  AsShotNeutral              RATIONAL  ``as_shot_neutral`` (/1000000)
50778  CalibrationIlluminant1     SHORT     21 (D65)
====== ========================== ========= =====================================

Decoding facts (LibRaw 0.21, as exposed by rawpy): ``raw_image`` is the CFA
array as written; ``raw_pattern`` / ``color_desc`` give the pattern (``color_desc``
is ``b"RGBG"``, the second green of a 2×2 block has index 3);
``black_level_per_channel`` / ``white_level`` read back the levels;
``camera_whitebalance`` is ``1 / AsShotNeutral`` (up to a common factor);
``sizes.flip`` is the Orientation tag in LibRaw's code (1→0, 3→3, 6→6, 8→5);
``rgb_xyz_matrix`` stays all zeros for DNGs (read ColorMatrix1 from the file).

References
----------
* Adobe, *Digital Negative (DNG) Specification*, version 1.4.0.0 (2012).
* ISO 12234-2 (TIFF/EP), tags 33421/33422.
* LibRaw ``identify.cpp`` / ``tiff.cpp`` (DNG parsing), dcraw ``adobe_coeff``
  (ColorMatrix tables stored ×10000).

Examples
--------
>>> import numpy as np, tempfile, os
>>> rgb = np.full((32, 48, 3), 0.25)  # camera RGB, 1.0 = white level
>>> cfa = mosaic(rgb, "RGGB")
>>> cfa.shape
(32, 48)
>>> raw = np.round(512 + cfa * (15000 - 512)).astype(np.uint16)
>>> with tempfile.TemporaryDirectory() as d:
...     path = write_dng(os.path.join(d, "x.dng"), raw, "RGGB", 512, 15000,
...                      np.eye(3), (0.5, 1.0, 0.8))
...     path.stat().st_size > raw.nbytes
True
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from .io import atomic_write_bytes

__all__ = [
    "CFA_PATTERNS",
    "CFA_COLOR_INDEX",
    "ORIENTATIONS",
    "cfa_pattern_indices",
    "mosaic",
    "write_dng",
]

#: The four 2×2 Bayer layouts, named by their colours in reading order
#: (top-left, top-right, bottom-left, bottom-right).
CFA_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")

#: TIFF/EP CFAPattern colour codes (and channel index in an RGB array).
CFA_COLOR_INDEX: dict[str, int] = {"R": 0, "G": 1, "B": 2}

#: Valid TIFF/EXIF Orientation values: 1 normal, 2 mirror, 3 rotate 180,
#: 4 flip, 5 transpose, 6 rotate 90° CW, 7 transverse, 8 rotate 90° CCW (the
#: rotation needed to *display* the stored image).
ORIENTATIONS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)

_DNG_VERSION = (1, 4, 0, 0)
_DNG_BACKWARD_VERSION = (1, 1, 0, 0)
_ILLUMINANT_D65 = 21
_MATRIX_DENOMINATOR = 10_000
_NEUTRAL_DENOMINATOR = 1_000_000


def cfa_pattern_indices(pattern: str) -> np.ndarray:
    """Colour index (0 = R, 1 = G, 2 = B) of each cell of a 2×2 Bayer pattern.

    Parameters
    ----------
    pattern
        One of :data:`CFA_PATTERNS` (case-insensitive), e.g. ``"RGGB"``.

    Returns
    -------
    numpy.ndarray
        ``(2, 2)`` uint8 array; ``out[y % 2, x % 2]`` is the colour at pixel
        ``(y, x)``.

    Examples
    --------
    >>> cfa_pattern_indices("GBRG").tolist()
    [[1, 2], [0, 1]]
    """
    key = str(pattern).upper()
    if key not in CFA_PATTERNS:
        raise ValueError(f"pattern must be one of {CFA_PATTERNS}, got {pattern!r}")
    return np.array([CFA_COLOR_INDEX[c] for c in key], dtype=np.uint8).reshape(2, 2)


def mosaic(rgb_camera: np.ndarray, pattern: str) -> np.ndarray:
    """Sample a Bayer mosaic from a full-colour camera-RGB image.

    Parameters
    ----------
    rgb_camera
        ``(H, W, 3)`` float (or integer) image in camera RGB, any units
        (typically linear, ``[0, 1]`` = black … white level).
    pattern
        Bayer layout, one of :data:`CFA_PATTERNS`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` array of ``rgb_camera``'s dtype: pixel ``(y, x)`` holds
        channel ``cfa_pattern_indices(pattern)[y % 2, x % 2]``. H and W need not
        be even (DNG readers prefer even sizes).

    Examples
    --------
    >>> rgb = np.zeros((2, 2, 3)); rgb[..., 0] = 1; rgb[..., 1] = 2; rgb[..., 2] = 3
    >>> mosaic(rgb, "BGGR").tolist()
    [[3.0, 2.0], [2.0, 1.0]]
    """
    rgb = np.asarray(rgb_camera)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_camera must have shape (H, W, 3), got {rgb.shape}")
    idx = cfa_pattern_indices(pattern)
    h, w = rgb.shape[:2]
    yy = np.arange(h)[:, None] % 2
    xx = np.arange(w)[None, :] % 2
    channel = idx[yy, xx]  # (H, W) colour index per pixel
    return np.take_along_axis(rgb, channel[..., None].astype(np.intp), axis=2)[..., 0]


def _rationals(values: np.ndarray, denominator: int, signed: bool) -> list[int]:
    """Flatten values to ``[num0, den0, num1, den1, …]`` with a fixed denominator."""
    nums = np.round(np.asarray(values, dtype=np.float64).ravel() * denominator)
    lo, hi = (-(2**31), 2**31 - 1) if signed else (0, 2**32 - 1)
    if np.any(nums < lo) or np.any(nums > hi):
        raise ValueError("value out of range for a TIFF (S)RATIONAL")
    out: list[int] = []
    for n in nums.astype(np.int64):
        out += [int(n), denominator]
    return out


def write_dng(
    path: str | os.PathLike[str],
    cfa: np.ndarray,
    pattern: str,
    black_level: int,
    white_level: int,
    color_matrix: np.ndarray,
    as_shot_neutral: Sequence[float],
    orientation: int = 1,
    make: str = "BNO",
    model: str = "Synthetic",
    unique_camera_model: str | None = None,
) -> Path:
    """Write a Bayer CFA image as an uncompressed DNG, atomically.

    The file is written to a temporary file in the destination folder and
    moved into place with :func:`os.replace`, so readers never see a partial
    file. Output bytes depend only on the arguments (no time stamps).

    Parameters
    ----------
    path
        Destination ``.dng`` path (its folder must exist). Spaces and
        parentheses are fine.
    cfa
        ``(H, W)`` uint16 raw values in sensor orientation, ``black_level`` …
        ``white_level`` (values outside are kept as they are). Use even sizes
        of at least 22 px: LibRaw refuses smaller images.
    pattern
        Bayer layout of ``cfa``, one of :data:`CFA_PATTERNS`.
    black_level, white_level
        Raw black and saturation levels, ``0 <= black_level < white_level <= 65535``.
    color_matrix
        ``(3, 3)`` ColorMatrix1: XYZ (D65-calibrated, Y = 1 for the white) →
        reference camera RGB, as in Adobe DNG Converter / dcraw ``adobe_coeff``
        (which stores it ×10000). Stored with a precision of 1e-4.
    as_shot_neutral
        Three positive floats: camera RGB of the scene's white (usually G = 1).
        Stored with a precision of 1e-6. White balance multipliers are its
        reciprocal.
    orientation
        TIFF/EXIF Orientation, one of :data:`ORIENTATIONS` (6 = rotate the
        stored image 90° clockwise to display it).
    make, model
        Make and Model strings (7-bit ASCII). Avoid names of real cameras:
        raw decoders may then swap in their own built-in colour matrices.
    unique_camera_model
        DNG UniqueCameraModel; defaults to ``f"{make} {model}"``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    raw = np.asarray(cfa)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"cfa must be a 2-D uint16 array, got {raw.dtype} {raw.shape}")
    pat = cfa_pattern_indices(pattern)
    black_level, white_level = int(black_level), int(white_level)
    if not 0 <= black_level < white_level <= 65535:
        raise ValueError(
            f"need 0 <= black_level < white_level <= 65535, got {black_level}, {white_level}"
        )
    matrix = np.asarray(color_matrix, dtype=np.float64)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise ValueError("color_matrix must be a finite (3, 3) array")
    neutral = np.asarray(as_shot_neutral, dtype=np.float64)
    if neutral.shape != (3,) or not np.all(np.isfinite(neutral)) or np.any(neutral <= 0):
        raise ValueError("as_shot_neutral must be three positive finite floats")
    if int(orientation) not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation}")
    if unique_camera_model is None:
        unique_camera_model = f"{make} {model}"

    # (code, TIFF type, count, value, writeonce); types: 1 BYTE, 2 ASCII,
    # 3 SHORT, 4 LONG, 5 RATIONAL, 10 SRATIONAL.
    extratags = [
        (271, 2, None, make, True),
        (272, 2, None, model, True),
        (274, 3, 1, int(orientation), True),
        (33421, 3, 2, (2, 2), True),
        (33422, 1, 4, tuple(int(v) for v in pat.ravel()), True),
        (50706, 1, 4, _DNG_VERSION, True),
        (50707, 1, 4, _DNG_BACKWARD_VERSION, True),
        (50708, 2, None, unique_camera_model, True),
        (50710, 1, 3, (0, 1, 2), True),
        (50711, 3, 1, 1, True),
        (50713, 3, 2, (1, 1), True),
        (50714, 4, 1, black_level, True),
        (50717, 4, 1, white_level, True),
        (50721, 10, 9, _rationals(matrix, _MATRIX_DENOMINATOR, signed=True), True),
        (50728, 5, 3, _rationals(neutral, _NEUTRAL_DENOMINATOR, signed=False), True),
        (50778, 3, 1, _ILLUMINANT_D65, True),
    ]

    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        np.ascontiguousarray(raw),
        photometric=32803,
        subfiletype=0,
        planarconfig="contig",
        compression=None,
        metadata=None,
        software=False,
        extratags=extratags,
    )
    atomic_write_bytes(path, buffer.getvalue())
    return path
