"""Minimal Bayer-CFA DNG writer (tifffile) and a Bayer mosaic sampler.

Two layouts, both opened by LibRaw / rawpy and RawTherapee:

* ``compression=None`` (default) — the smallest DNG: one uncompressed 16-bit CFA
  image in IFD0 (``NewSubfileType = 0``, ``Photometric = 32803``) with the DNG
  colour tags needed to render it (≈ 2 bytes/pixel). The bundled sample raws
  (``scripts/make_samples.py``) and test raws use it.
* ``compression="ljpeg"`` — laid out as Adobe DNG Converter writes camera raws
  (MIT-Adobe FiveK's DNGs): IFD0 holds a small 8-bit RGB preview
  (``NewSubfileType = 1``, :func:`preview_from_cfa`) and the DNG colour tags; its
  SubIFD holds the CFA image in 256×256 tiles, each a lossless JPEG (ITU-T T.81
  process 14, "LJ92"; TIFF ``Compression = 7``) encoded by
  ``imagecodecs.ljpeg_encode`` (one component) at the precision of the white
  level (:func:`ljpeg_precision`), two tile rows per stream row so that
  prediction is between same-colour pixels (:func:`ljpeg_tiles`). Edge tiles are
  padded to the full tile by repeating the last row/column (the padding is not
  image data). For noisy 12–14-bit mosaics, 8–9 bits per pixel instead of 16.

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

With ``compression="ljpeg"`` the CFA tags (254 = 0, 262, 33421, 33422, 50710,
50711, 50713, 50714, 50717) sit in the SubIFD with ``TileWidth``/``TileLength``
256 and ``Compression`` 7; IFD0 carries 254 = 1, an RGB preview and the others.

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
* ITU-T T.81 (1992), Annex H: lossless JPEG; LibRaw ``lossless_dng_load_raw``
  (one LJ92 stream per tile, rows of ``jwide = width × components`` samples).
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

from bno.files import atomic_write_bytes

__all__ = [
    "CFA_PATTERNS",
    "CFA_COLOR_INDEX",
    "COMPRESSIONS",
    "LJPEG_TILE",
    "ORIENTATIONS",
    "PREVIEW_LONG_EDGE",
    "cfa_pattern_indices",
    "ljpeg_precision",
    "ljpeg_tiles",
    "mosaic",
    "preview_from_cfa",
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

#: Raw data encodings of :func:`write_dng`: ``None`` (uncompressed) or ``"ljpeg"`` (LJ92 tiles).
COMPRESSIONS: tuple[str | None, ...] = (None, "ljpeg")

#: Tile side of LJ92-compressed raw data, px (what Adobe DNG Converter uses).
LJPEG_TILE = 256

#: Long edge of the IFD0 preview of an LJ92 DNG, px (Adobe's small preview: 256).
PREVIEW_LONG_EDGE = 256

_DNG_VERSION = (1, 4, 0, 0)
_DNG_BACKWARD_VERSION = (1, 1, 0, 0)
_ILLUMINANT_D65 = 21
_MATRIX_DENOMINATOR = 10_000
_NEUTRAL_DENOMINATOR = 1_000_000
_COMPRESSION_JPEG = 7  # TIFF Compression: JPEG (DNG: lossless JPEG for raw data)
_SUBFILE_PREVIEW = 1  # NewSubfileType: reduced-resolution image
#: sRGB (D65) <- XYZ (D65), IEC 61966-2-1; used only to render the preview.
_XYZ_TO_SRGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)


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


def ljpeg_precision(white_level: int, max_value: int = 0) -> int:
    """Bits per sample for lossless JPEG: enough for ``max(white_level, max_value)``, 2 … 16.

    >>> ljpeg_precision(3692), ljpeg_precision(15600), ljpeg_precision(4095, 4096)
    (12, 14, 13)
    """
    top = max(int(white_level), int(max_value), 3)
    return min(16, max(2, top.bit_length()))


def ljpeg_tiles(cfa: np.ndarray, precision: int, tile: int = LJPEG_TILE):
    """Yield each ``tile``×``tile`` tile of ``cfa`` as an LJ92 stream, row-major.

    Parameters
    ----------
    cfa
        ``(H, W)`` uint16 raw values, all below ``2**precision``.
    precision
        Bits per sample of the streams (:func:`ljpeg_precision`).
    tile
        Tile side, px (a multiple of 16 for TIFF).

    Yields
    ------
    bytes
        One lossless JPEG per tile: one component, ``2·tile`` wide and ``tile/2``
        high, each stream row holding two tile rows. Readers copy a tile's samples
        in raster order whatever the stream's geometry (LibRaw
        ``lossless_dng_load_raw``), and this way the sample above in the stream is
        two rows up in the mosaic, the same Bayer colour, so the predictor
        (``Rb + (Ra − Rc)/2``) compares like with like: ~8.7 instead of ~14 bits per
        pixel for noisy 14-bit data. Edge tiles are padded by repeating the last
        row / column of the image.
    """
    import imagecodecs

    height, width = cfa.shape
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            block = cfa[y0 : y0 + tile, x0 : x0 + tile]
            pad = ((0, tile - block.shape[0]), (0, tile - block.shape[1]))
            if pad[0][1] or pad[1][1]:
                block = np.pad(block, pad, mode="edge")
            # Two tile rows per stream row: the predictor above (Rb) is then the same CFA colour.
            pairs = np.ascontiguousarray(block.reshape(tile // 2, tile * 2))
            yield imagecodecs.ljpeg_encode(pairs, bitspersample=precision)


def preview_from_cfa(
    cfa: np.ndarray,
    pattern: str,
    black_level: int,
    white_level: int,
    color_matrix: np.ndarray,
    as_shot_neutral: Sequence[float],
    long_edge: int = PREVIEW_LONG_EDGE,
) -> np.ndarray:
    """A small sRGB rendering of a Bayer raw, for the preview IFD of a DNG.

    Each 2×2 Bayer block becomes one camera-RGB pixel (greens averaged), scaled
    to ``[0, 1]`` by the black/white levels, white-balanced by ``1/AsShotNeutral``
    and taken to linear sRGB by ``XYZ→sRGB · ColorMatrix⁻¹`` with rows normalised
    so that the neutral maps to white (dcraw's ``rgb_cam``), then sRGB-encoded
    (IEC 61966-2-1) and area-resized so its long edge is ``long_edge``.

    Returns
    -------
    numpy.ndarray
        ``(h, w, 3)`` uint8 in sensor orientation (the Orientation tag applies
        to it as to the raw), ``max(h, w) <= long_edge``.
    """
    import cv2

    from .colour_spaces import srgb_encode

    raw = np.asarray(cfa, dtype=np.float32)
    height, width = (raw.shape[0] // 2) * 2, (raw.shape[1] // 2) * 2
    idx = cfa_pattern_indices(pattern)
    camera = np.zeros((height // 2, width // 2, 3), np.float32)
    counts = np.zeros(3, np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            camera[..., idx[dy, dx]] += raw[dy:height:2, dx:width:2]
            counts[idx[dy, dx]] += 1
    camera = (camera / counts - black_level) / float(white_level - black_level)
    camera /= np.asarray(as_shot_neutral, np.float32)
    rgb_cam = _XYZ_TO_SRGB @ np.linalg.inv(np.asarray(color_matrix, np.float64))
    rgb_cam = rgb_cam @ np.diag(np.asarray(as_shot_neutral, np.float64))
    rgb_cam /= rgb_cam.sum(axis=1, keepdims=True)  # neutral (1, 1, 1) -> white
    linear = np.clip(camera @ rgb_cam.T.astype(np.float32), 0.0, 1.0)
    scale = min(1.0, long_edge / max(linear.shape[:2]))
    size = (max(1, round(linear.shape[1] * scale)), max(1, round(linear.shape[0] * scale)))
    small = cv2.resize(linear, size, interpolation=cv2.INTER_AREA)
    return np.round(np.clip(srgb_encode(small), 0.0, 1.0) * 255.0).astype(np.uint8)


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
    compression: str | None = None,
) -> Path:
    """Write a Bayer CFA image as a DNG, atomically: uncompressed, or LJ92 tiles with a preview.

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
    compression
        ``None``: one uncompressed CFA image in IFD0. ``"ljpeg"``: FiveK's layout —
        an RGB preview in IFD0 and the CFA in a SubIFD as 256×256 lossless-JPEG
        tiles (module docstring); width at least :data:`LJPEG_TILE` (LibRaw
        mis-reads narrower tiled images), any height, partial edge tiles.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    raw = np.asarray(cfa)
    matrix = np.asarray(color_matrix, dtype=np.float64)
    neutral = np.asarray(as_shot_neutral, dtype=np.float64)
    black_level, white_level = int(black_level), int(white_level)
    _check_arguments(raw, black_level, white_level, matrix, neutral, int(orientation), compression)
    main_tags, cfa_tags = _dng_tags(
        pattern, black_level, white_level, matrix, neutral, int(orientation), make, model,
        unique_camera_model or f"{make} {model}",
    )
    if compression is None:
        data = _encode_uncompressed(raw, main_tags, cfa_tags)
    else:
        preview = preview_from_cfa(raw, pattern, black_level, white_level, matrix, neutral)
        data = _encode_ljpeg(raw, preview, ljpeg_precision(white_level, int(raw.max(initial=0))), main_tags, cfa_tags)
    path = Path(path)
    atomic_write_bytes(path, data)
    return path


def _check_arguments(raw: np.ndarray, black_level: int, white_level: int, matrix: np.ndarray, neutral: np.ndarray,
                     orientation: int, compression: str | None) -> None:
    """``ValueError`` (one line) for any argument :func:`write_dng` cannot write."""
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"cfa must be a 2-D uint16 array, got {raw.dtype} {raw.shape}")
    if not 0 <= black_level < white_level <= 65535:
        raise ValueError(f"need 0 <= black_level < white_level <= 65535, got {black_level}, {white_level}")
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise ValueError("color_matrix must be a finite (3, 3) array")
    if neutral.shape != (3,) or not np.all(np.isfinite(neutral)) or np.any(neutral <= 0):
        raise ValueError("as_shot_neutral must be three positive finite floats")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if compression == "ljpeg" and raw.shape[1] < LJPEG_TILE:
        # LibRaw's lossless_dng_load_raw wraps a tile's rows at the image width when the image
        # is narrower than one tile, so such files would decode scrambled.
        raise ValueError(f"an LJ92 DNG needs a width of at least {LJPEG_TILE} px, got {raw.shape[1]}")


def _dng_tags(pattern: str, black_level: int, white_level: int, matrix: np.ndarray, neutral: np.ndarray,
              orientation: int, make: str, model: str, unique_camera_model: str) -> tuple[list[tuple], list[tuple]]:
    """(main IFD tags, CFA image tags) as tifffile ``extratags``: (code, TIFF type, count, value, writeonce).

    TIFF types: 1 BYTE, 2 ASCII, 3 SHORT, 4 LONG, 5 RATIONAL, 10 SRATIONAL.
    """
    pat = cfa_pattern_indices(pattern)
    main_tags = [
        (271, 2, None, make, True),
        (272, 2, None, model, True),
        (274, 3, 1, orientation, True),
        (50706, 1, 4, _DNG_VERSION, True),
        (50707, 1, 4, _DNG_BACKWARD_VERSION, True),
        (50708, 2, None, unique_camera_model, True),
        (50721, 10, 9, _rationals(matrix, _MATRIX_DENOMINATOR, signed=True), True),
        (50728, 5, 3, _rationals(neutral, _NEUTRAL_DENOMINATOR, signed=False), True),
        (50778, 3, 1, _ILLUMINANT_D65, True),
    ]
    cfa_tags = [
        (33421, 3, 2, (2, 2), True),
        (33422, 1, 4, tuple(int(v) for v in pat.ravel()), True),
        (50710, 1, 3, (0, 1, 2), True),
        (50711, 3, 1, 1, True),
        (50713, 3, 2, (1, 1), True),
        (50714, 4, 1, black_level, True),
        (50717, 4, 1, white_level, True),
    ]
    return main_tags, cfa_tags


_TIFF_OPTIONS = {"metadata": None, "software": False}


def _encode_uncompressed(raw: np.ndarray, main_tags: list[tuple], cfa_tags: list[tuple]) -> bytes:
    """One IFD holding the CFA image uncompressed (tag order as written before; tifffile sorts by code)."""
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        np.ascontiguousarray(raw),
        photometric=32803,
        subfiletype=0,
        planarconfig="contig",
        compression=None,
        extratags=main_tags[:3] + cfa_tags[:2] + main_tags[3:6] + cfa_tags[2:] + main_tags[6:],
        **_TIFF_OPTIONS,
    )
    return buffer.getvalue()


def _encode_ljpeg(raw: np.ndarray, preview: np.ndarray, precision: int, main_tags: list[tuple], cfa_tags: list[tuple]) -> bytes:
    """FiveK's layout: the RGB preview in IFD0, the CFA in a SubIFD as lossless-JPEG tiles."""
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as tif:
        tif.write(preview, photometric="rgb", subfiletype=_SUBFILE_PREVIEW, subifds=1, extratags=main_tags, **_TIFF_OPTIONS)
        tif.write(
            ljpeg_tiles(raw, precision),
            shape=raw.shape,
            dtype=np.uint16,
            tile=(LJPEG_TILE, LJPEG_TILE),
            photometric=32803,
            subfiletype=0,
            compression=_COMPRESSION_JPEG,
            extratags=cfa_tags,
            **_TIFF_OPTIONS,
        )
    return buffer.getvalue()
