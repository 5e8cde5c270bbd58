"""A camera pipeline run backwards: an sRGB photograph → the Bayer raw a camera would have recorded.

Used to make camera raws from freely licensed photographs (the bundled samples,
``scripts/make_samples.py``; the photo benchmark, ``bno.pipelines.data.photoset``).
Pure numpy functions; every step is the inverse of what a raw developer does:

============================ ================================ ===============================
step                         function                         domain → range
============================ ================================ ===============================
1. linearise, to XYZ, re-light :func:`srgb_to_camera`         sRGB-encoded ``[0, 1]`` →
   (Bradford D65 → light),                                    camera RGB, 1.0 = white level
   XYZ → camera, exposure
2. as-shot white             :func:`camera_neutral`           (K, tint) → camera RGB, G = 1
3. sensor orientation        :func:`to_sensor_orientation`    upright → stored (TIFF 1/3/6/8)
4. Bayer mosaic              :func:`bno.synth.dng.mosaic`     ``(H, W, 3)`` → ``(H, W)``
5. levels and noise          :func:`sensor_readout`           ``[0, 1.5]`` signal → uint16 DN
============================ ================================ ===============================

Facts and formulas:

* sRGB EOTF and the linear-sRGB → XYZ (D65, Y = 1) matrix: IEC 61966-2-1:1999.
* The photograph is taken to show the scene as seen adapted to D65; the scene is
  re-lit by the shot's illuminant with a Bradford chromatic adaptation D65 →
  illuminant white (colour-science ``matrix_chromatic_adaptation_VonKries``). The
  illuminant white is Adobe's Temperature/Tint definition (Robertson isotherms,
  tint = 3000·Duv; :func:`bno.synth.temperature.temperature_tint_to_xy`), Y = 1.
* ``camera = ColorMatrix1 · XYZ`` with a real D65 ColorMatrix (XYZ → camera) from
  dcraw's ``adobe_coeff`` table (stored ×10000 there; :data:`CAMERAS`). A DNG's
  AsShotNeutral is the camera response to the light the camera *thinks* lit the
  scene, ``ColorMatrix1 · XYZ_white`` normalised to G = 1 (DNG spec 1.4, §6).
* Exposure: a diffuse white under the scene light reaches ``headroom · 2**EV`` of
  the raw range in its largest channel (headroom 0.7 at EV 0).
* Noise: Poisson shot noise on ``signal · full_well`` electrons (full well
  ``40,000 e⁻ · 100/ISO`` at the white level) plus Gaussian read noise (4 e⁻ RMS),
  mapped to ``black + e · (white − black)/full_well`` DN, rounded, clipped to
  ``[0, white]`` (Foi et al., "Practical Poissonian-Gaussian noise modeling",
  IEEE TIP 17(10), 2008).

Examples
--------
>>> import numpy as np
>>> cam = CAMERAS["C12"]
>>> grey = np.full((2, 2, 3), 0.5)  # sRGB-encoded mid grey
>>> rgb = srgb_to_camera(grey, cam.color_matrix, 5000.0, 0.0, ev=0.0)
>>> rgb.shape
(2, 2, 3)
>>> camera_neutral(cam.color_matrix, 5000.0, 0.0)[1]
1.0
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import colour
import numpy as np

from .colour_spaces import srgb_decode
from .temperature import temperature_tint_to_xy, xy_to_XYZ

__all__ = [
    "CAMERAS",
    "FULL_WELL_E",
    "READ_NOISE_E",
    "SRGB_TO_XYZ",
    "WHITE_HEADROOM",
    "XYZ_D65",
    "Camera",
    "camera_neutral",
    "illuminant_xyz",
    "seed_from_name",
    "sensor_readout",
    "srgb_to_camera",
    "to_sensor_orientation",
]

#: Linear sRGB → XYZ (D65), IEC 61966-2-1:1999.
SRGB_TO_XYZ = np.array(
    [
        [0.4124, 0.3576, 0.1805],
        [0.2126, 0.7152, 0.0722],
        [0.0193, 0.1192, 0.9505],
    ]
)
#: D65 white, XYZ with Y = 1 (row sums of SRGB_TO_XYZ, as the sRGB standard uses).
XYZ_D65 = SRGB_TO_XYZ.sum(axis=1)
#: Fraction of the raw range a diffuse white reaches at EV 0.
WHITE_HEADROOM = 0.70
#: Electrons at the white level at ISO 100 (a full-frame sensor's full well).
FULL_WELL_E = 40_000.0
#: Read noise, electrons RMS.
READ_NOISE_E = 4.0
#: Largest signal (fraction of the white level) before the sensor saturates anyway.
_SIGNAL_CEILING = 1.5


@dataclass(frozen=True)
class Camera:
    """A synthetic camera: a real D65 ColorMatrix and typical raw levels."""

    model: str  #: DNG Model (Make is "BNO", so decoders use the DNG's own matrix)
    matrix: tuple[int, ...]  #: XYZ -> camera, ×10000, dcraw ``adobe_coeff`` (D65), row-major
    black: int  #: raw black level, DN
    white: int  #: raw white (saturation) level, DN
    source: str  #: where the matrix comes from

    @property
    def color_matrix(self) -> np.ndarray:
        """``(3, 3)`` float64 ColorMatrix1, XYZ (D65, Y = 1) → camera RGB."""
        return np.asarray(self.matrix, dtype=np.float64).reshape(3, 3) / 10_000.0


CAMERAS: dict[str, Camera] = {
    # dcraw.c adobe_coeff: { "Canon EOS 5D", 0, 0xe6c, {...} }; 12-bit, 0xe6c = 3692.
    "C12": Camera("Synthetic C12", (6347, -479, -972, -8297, 15954, 2480, -1968, 2131, 7649),
                  128, 3692, "dcraw adobe_coeff 'Canon EOS 5D'"),
    # dcraw.c adobe_coeff: { "Canon EOS 5D Mark II", 0, 0x3cf0, {...} }; 14-bit, black 1024.
    "C14": Camera("Synthetic C14", (4716, 603, -830, -7798, 15474, 2480, -1496, 1937, 6651),
                  1024, 15600, "dcraw adobe_coeff 'Canon EOS 5D Mark II'"),
    # dcraw.c adobe_coeff: { "Nikon D700", 0, 0, {...} }; 14-bit, black 0.
    "N14": Camera("Synthetic N14", (8139, -2171, -663, -8747, 16541, 2295, -1925, 2008, 8093),
                  0, 15520, "dcraw adobe_coeff 'Nikon D700'"),
}


def illuminant_xyz(temperature: float, tint: float) -> np.ndarray:
    """XYZ ``(3,)``, Y = 1, of Adobe's Temperature (K) / Tint white (:mod:`bno.synth.temperature`).

    CIE D65 (6504 K, tint +9.8 in Adobe's coordinates) is XYZ (0.9505, 1, 1.0888):

    >>> np.round(illuminant_xyz(6503.7, 9.77), 3).tolist()
    [0.95, 1.0, 1.089]
    """
    return xy_to_XYZ(temperature_tint_to_xy(temperature, tint))


def camera_neutral(color_matrix: np.ndarray, temperature: float, tint: float) -> np.ndarray:
    """AsShotNeutral ``(3,)``: camera RGB of the white (K, tint), normalised to G = 1.

    ``color_matrix``: ``(3, 3)`` XYZ → camera. White-balance multipliers are its reciprocal.
    """
    response = np.asarray(color_matrix, dtype=np.float64) @ illuminant_xyz(temperature, tint)
    return response / response[1]


def srgb_to_camera(
    srgb: np.ndarray,
    color_matrix: np.ndarray,
    temperature: float,
    tint: float,
    ev: float,
    headroom: float = WHITE_HEADROOM,
) -> np.ndarray:
    """An sRGB photo as the camera RGB it would record under the light (K, tint) at ``ev``.

    Parameters
    ----------
    srgb
        ``(H, W, 3)`` float sRGB-encoded image in ``[0, 1]`` (the photo as published).
    color_matrix
        ``(3, 3)`` ColorMatrix1, XYZ (D65, Y = 1) → camera RGB.
    temperature, tint
        The scene's light, Adobe Temperature (K, ~2000 … 50000) and Tint (≈ −150 … 150).
    ev
        Exposure relative to a diffuse white at ``headroom`` of the raw range (FiveK-Dark: −3 … 0).
    headroom
        Fraction of the raw range a diffuse white reaches at EV 0.

    Returns
    -------
    numpy.ndarray
        ``(H, W, 3)`` float64 linear camera RGB, 1.0 = white level, ``>= 0``
        (out-of-gamut negatives clipped: no light). Values above 1 will clip in the raw.
    """
    matrix = np.asarray(color_matrix, dtype=np.float64)
    linear = srgb_decode(np.asarray(srgb)).astype(np.float64)  # (H, W, 3) linear sRGB
    xyz_d65 = linear @ SRGB_TO_XYZ.T  # (H, W, 3) XYZ, D65-adapted
    white = illuminant_xyz(temperature, tint)  # (3,) XYZ, Y = 1
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(XYZ_D65, white, "Bradford")
    xyz_scene = xyz_d65 @ cat.T  # (H, W, 3) XYZ under the shot illuminant
    camera_rgb = xyz_scene @ matrix.T  # (H, W, 3) camera RGB
    white_cam = matrix @ white  # (3,) camera response to the illuminant white
    camera_rgb *= headroom * 2.0**ev / white_cam.max()
    return np.clip(camera_rgb, 0.0, None)


def to_sensor_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """The upright ``image`` (H, W, …) as the sensor stored it, for a TIFF Orientation.

    1: as is; 3: rotated 180°; 6 (display = stored turned 90° clockwise): the stored
    image is the upright one turned 90° counter-clockwise; 8: turned clockwise.
    Returns a view when possible.
    """
    if orientation == 1:
        return image
    if orientation == 3:
        return np.rot90(image, k=2)
    if orientation == 6:
        return np.rot90(image, k=1)
    if orientation == 8:
        return np.rot90(image, k=-1)
    raise ValueError(f"unsupported orientation {orientation} (1, 3, 6 or 8)")


def sensor_readout(
    signal: np.ndarray,
    rng: np.random.Generator,
    iso: float,
    black: int,
    white: int,
    full_well: float = FULL_WELL_E,
    read_noise: float = READ_NOISE_E,
) -> np.ndarray:
    """Raw DN of a sensor exposed to ``signal`` (fraction of the white level), with noise.

    Parameters
    ----------
    signal
        ``(H, W)`` float, ``1.0`` = white level (clipped to ``[0, 1.5]``).
    rng
        Source of the Poisson and Gaussian draws (seed it for repeatable bytes).
    iso
        Sets the electrons at the white level: ``full_well · 100 / iso``.
    black, white
        Raw black and white levels, DN.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` uint16 in ``[0, white]``.
    """
    electrons_at_white = full_well * 100.0 / iso
    electrons = rng.poisson(np.clip(signal, 0.0, _SIGNAL_CEILING) * electrons_at_white).astype(np.float64)
    electrons += rng.normal(0.0, read_noise, size=electrons.shape)
    dn = black + electrons * (white - black) / electrons_at_white
    return np.clip(np.round(dn), 0, white).astype(np.uint16)


def seed_from_name(name: str) -> int:
    """Deterministic 64-bit seed from a name (SHA-256, not Python's salted ``hash()``).

    >>> seed_from_name("a0001") == seed_from_name("a0001")
    True
    """
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
