"""Make the bundled sample raws (``samples/raws``) and their expert targets.

The samples are small Bayer DNGs made from real, freely licensed photographs
that ship inside installed Python packages (scikit-image's ``skimage/data``
and matplotlib's ``mpl-data/sample_data``; nothing is downloaded) by running a
camera pipeline backwards. Provenance, licences and the per-sample parameters
are listed in ``samples/LICENSES.md``.

Pipeline, per scene (float64 after linearisation, quantised once at the end;
steps 2–9 are the shared functions of :mod:`bno.synth.camera`):

1. **Source** – 8-bit sRGB photo, cropped (and, for the large ones,
   downscaled with ``cv2.INTER_AREA``) to the scene's box; even sizes.
2. **Linearise** – sRGB EOTF (IEC 61966-2-1), ``bno.synth.colour_spaces.srgb_decode``.
3. **To XYZ** – linear sRGB → CIE XYZ (D65, Y = 1 for the white), the
   IEC 61966-2-1 matrix.
4. **Illuminant cast** – the photo is taken to show the scene as seen adapted
   to D65; the scene is re-lit by the shot illuminant with a Bradford
   chromatic adaptation D65 → illuminant white. The illuminant white is
   Adobe's Temperature/Tint definition (SPEC §2, Robertson isotherms,
   ``bno.synth.temperature.temperature_tint_to_xy``), Y = 1.
5. **To camera RGB** – ``cam = ColorMatrix1 @ XYZ`` with a real D65
   ColorMatrix from dcraw's ``adobe_coeff`` table (stored ×10000 there):
   Canon EOS 5D, Canon EOS 5D Mark II or Nikon D700, per synthetic camera.
   The DNG's AsShotNeutral is the camera response to the illuminant white,
   ``ColorMatrix1 @ XYZ_white``, normalised to G = 1, so a decoder's "camera
   white balance" (multipliers ``1/AsShotNeutral``) neutralises the cast.
6. **Exposure** – divide by the largest channel of the illuminant white's
   camera response and multiply by ``WHITE_HEADROOM * 2**EV``: at EV 0 a
   diffuse white sits at 70 % of the raw range; scenes vary from −2 EV
   (FiveK-Dark-like under-exposure) to +0.5 EV (highlights clip).
7. **Orientation** – for Orientation 6 (8) the upright image is stored rotated
   90° counter-clockwise (clockwise), as a camera held upright-portrait does.
8. **Bayer mosaic** – :func:`bno.synth.dng.mosaic` with the scene's CFA pattern
   (the four patterns are cycled over the scenes).
9. **Levels and noise** – Poisson–Gaussian sensor noise in electrons
   (full well ``FULL_WELL_E * 100/ISO`` at the white level, read noise
   ``READ_NOISE_E``), mapped to ``black + e * (white-black)/full_well``,
   rounded and clipped to ``[0, white]``, uint16. The noise generator is
   ``numpy.random.default_rng`` seeded from the SHA-256 of the file name, so
   reruns give the same bytes.
10. **Write** – :func:`bno.synth.dng.write_dng` (uncompressed, ≈ 2 bytes/pixel).

Expert targets (``samples/expert/<stem>.jpg``) are rendered by an independent
raw developer, RawTherapee, with the documented profile
``samples/rawtherapee.pp3``: ``rawtherapee-cli -q -Y -p rawtherapee.pp3 -n
-o <tmp>.png -c <dng>`` (8-bit PNG, full size, orientation applied), then
re-encoded here as baseline JPEG, quality 90, no metadata (OpenCV), so the
files carry no time stamps. RawTherapee is needed only to *regenerate* the
targets, never at run time or in tests.

Usage (from the repository root; needs numpy, opencv, colour-science,
scikit-image, matplotlib, tifffile)::

    python -m scripts.make_samples                    # DNGs into samples/raws
    python -m scripts.make_samples --expert           # + expert JPEGs (needs rawtherapee-cli)
    python -m scripts.make_samples --out /tmp/s --expert --only a0023

or ``PYTHONPATH=. python scripts/make_samples.py …``. ``--out DIR`` writes
``DIR/raws`` and ``DIR/expert``; ``--expert-only`` re-renders the JPEGs from
existing DNGs. Install RawTherapee on Debian/Ubuntu with
``apt-get install rawtherapee`` (provides ``rawtherapee-cli``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # run as a plain script: put the repo root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bno.synth.camera import (  # noqa: E402
    CAMERAS,
    Camera,
    camera_neutral,
    seed_from_name,
    sensor_readout,
    srgb_to_camera,
    to_sensor_orientation,
)
from bno.synth.dng import CFA_PATTERNS, mosaic, write_dng  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "samples"
PROFILE = REPO / "samples" / "rawtherapee.pp3"

#: JPEG quality of the expert targets.
JPEG_QUALITY = 90


def _skimage(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)()


def _matplotlib(name: str) -> np.ndarray:
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data(name, asfileobj=False)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


#: Source photos: loader, licence summary (details in samples/LICENSES.md).
SOURCES = {
    "astronaut": (lambda: _skimage("astronaut"), "public domain (NASA)"),
    "chelsea": (lambda: _skimage("chelsea"), "CC0 (Stefan van der Walt)"),
    "coffee": (lambda: _skimage("coffee"), "CC0 (Rachel Michetti)"),
    "rocket": (lambda: _skimage("rocket"), "public domain (SpaceX)"),
    "hubble": (lambda: _skimage("hubble_deep_field"), "public domain (NASA/ESA)"),
    "retina": (lambda: _skimage("retina"), "CC0 (Mikael Häggström)"),
    "grace_hopper": (lambda: _matplotlib("grace_hopper.jpg"), "public domain (U.S. Navy)"),
}


@dataclass(frozen=True)
class Scene:
    """One sample: a crop of a source photo and the shot that 'took' it."""

    name: str  # FiveK-style file stem, a<NNNN>-<camera file name>
    source: str  # key of SOURCES
    box: tuple[int, int, int, int]  # crop (y0, y1, x0, x1) in source pixels
    size: tuple[int, int] | None  # (H, W) to downscale the crop to, or None
    temperature: float  # as-shot illuminant, K (Adobe definition)
    tint: float  # as-shot tint (Adobe, Duv * 3000)
    ev: float  # exposure relative to a diffuse white at WHITE_HEADROOM
    camera: str  # key of CAMERAS
    iso: int  # sets the noise level
    orientation: int = 1  # TIFF Orientation of the DNG


# Train ids lie in a0001-a4500, test ids in a4501-a5000 (the usual FiveK split);
# no source photo is shared between the two. The CFA pattern is CFA_PATTERNS[i % 4].
SCENES: tuple[Scene, ...] = (
    # --- train ---------------------------------------------------------------------
    Scene("a0023-IMG_0023", "coffee", (0, 400, 0, 600), None, 5500, 0, 0.0, "C12", 100),
    Scene("a0187-_DSC0187", "coffee", (0, 400, 0, 600), None, 3000, 5, -1.0, "N14", 400),
    Scene("a0411-2004-07-29 14-30-22 CRW_3063 (original)", "coffee", (0, 400, 0, 300), None,
          4200, -4, -0.5, "C14", 200),
    Scene("a0652-IMG_4411", "coffee", (0, 400, 300, 600), None, 6500, 3, 0.3, "C12", 100),
    Scene("a0899-_DSC5348 (original)", "astronaut", (0, 512, 0, 512), None,
          5000, 0, -0.3, "N14", 200),
    Scene("a1120-IMG_1120", "astronaut", (0, 512, 0, 512), None, 7500, 6, -1.5, "C14", 800),
    Scene("a1379-DSC_0042", "astronaut", (0, 512, 0, 512), None, 3600, -3, 0.0, "N14", 100, 6),
    Scene("a1604-IMG_7716", "astronaut", (0, 256, 0, 512), None, 5800, 0, -0.7, "C12", 400),
    Scene("a1851-_DSC1851", "astronaut", (256, 512, 0, 512), None, 4600, 8, -1.0, "N14", 400),
    Scene("a2040-IMG_2040", "chelsea", (0, 300, 0, 450), None, 5200, 0, 0.2, "C14", 100),
    Scene("a2233-CRW_2233", "chelsea", (0, 300, 0, 450), None, 2900, 2, -0.7, "C12", 200),
    Scene("a2517-_DSC2517", "chelsea", (0, 300, 0, 450), None, 6800, -5, -1.5, "N14", 800),
    Scene("a2788-IMG_2788", "chelsea", (0, 300, 0, 224), None, 4400, 0, -0.2, "C14", 100),
    Scene("a3012-IMG_3012", "chelsea", (0, 300, 226, 450), None, 6000, 4, -0.4, "C12", 200),
    Scene("a3265-_DSC3265", "hubble", (0, 436, 0, 500), None, 5000, 0, -0.5, "N14", 200),
    Scene("a3391-IMG_3391", "hubble", (436, 872, 500, 1000), None, 4000, 0, 0.0, "C14", 100),
    Scene("a3720-IMG_3720", "retina", (0, 1411, 0, 1411), (480, 480), 4800, 0, -0.3, "C12", 200),
    Scene("a3954-_DSC3954", "coffee", (0, 400, 0, 600), None, 7200, -2, -2.0, "N14", 1600),
    Scene("a4055-2004-07-29 14-30-22 CRW_3063", "astronaut", (0, 512, 0, 512), None,
          4000, 0, 0.5, "C12", 100),
    Scene("a4321-CRW_4321", "chelsea", (0, 300, 0, 450), None, 3300, -6, 0.4, "C14", 100),
    # --- test ----------------------------------------------------------------------
    Scene("a4514-IMG_0514", "rocket", (14, 414, 20, 620), None, 5600, 0, 0.0, "C12", 100),
    Scene("a4577-_DSC4577", "rocket", (14, 414, 20, 620), None, 3200, 4, -1.2, "N14", 400),
    Scene("a4603-IMG_4603", "rocket", (0, 426, 0, 320), None, 6600, 0, -0.5, "C14", 200, 8),
    Scene("a4689-CRW_4689", "rocket", (0, 426, 320, 640), None, 4500, -3, -0.3, "C12", 200),
    Scene("a4733-_DSC4733 (original)", "grace_hopper", (0, 600, 0, 512), None, 5200, 0, 0.0,
          "N14", 100, 6),
    Scene("a4802-IMG_4802", "grace_hopper", (0, 600, 0, 512), None, 2850, 0, -1.5, "C14", 800),
    Scene("a4871-2004-08-02 10-11-12 CRW_4871", "grace_hopper", (0, 300, 0, 512), None,
          7000, 5, -0.8, "C12", 400),
    Scene("a4955-_DSC4955", "grace_hopper", (300, 600, 0, 512), None, 4000, -2, 0.3, "N14", 100),
)


def scene_cfa_pattern(index: int) -> str:
    """CFA pattern of the ``index``-th scene: the four Bayer layouts in turn."""
    return CFA_PATTERNS[index % len(CFA_PATTERNS)]


def load_crop(scene: Scene) -> np.ndarray:
    """Scene crop of the source photo: ``(H, W, 3)`` float64 sRGB-encoded, [0, 1]."""
    rgb = SOURCES[scene.source][0]()
    y0, y1, x0, x1 = scene.box
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, :3])
    if scene.size is not None:
        h, w = scene.size
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    h, w = crop.shape[:2]
    crop = crop[: h - h % 2, : w - w % 2]  # even sizes for the 2x2 CFA
    return crop.astype(np.float64) / 255.0


def render_raw(scene: Scene, pattern: str) -> tuple[np.ndarray, np.ndarray, Camera]:
    """Run the camera pipeline backwards (module docstring, steps 2–9; :mod:`bno.synth.camera`).

    Returns
    -------
    cfa
        ``(H, W)`` uint16 mosaic in sensor orientation.
    as_shot_neutral
        ``(3,)`` camera RGB of the illuminant white, G = 1.
    camera
        The synthetic camera used.
    """
    cam = CAMERAS[scene.camera]
    camera_rgb = srgb_to_camera(load_crop(scene), cam.color_matrix, scene.temperature, scene.tint, scene.ev)
    neutral = camera_neutral(cam.color_matrix, scene.temperature, scene.tint)
    signal = mosaic(to_sensor_orientation(camera_rgb, scene.orientation), pattern)  # 1.0 = white level
    rng = np.random.default_rng(seed_from_name(scene.name))
    return sensor_readout(signal, rng, scene.iso, cam.black, cam.white), neutral, cam


def write_scene(index: int, scene: Scene, raws: Path) -> Path:
    """Render scene ``index`` and write ``raws/<name>.dng``."""
    pattern = scene_cfa_pattern(index)
    cfa, neutral, cam = render_raw(scene, pattern)
    return write_dng(
        raws / f"{scene.name}.dng",
        cfa,
        pattern,
        cam.black,
        cam.white,
        cam.color_matrix,
        tuple(float(v) for v in neutral),
        orientation=scene.orientation,
        make="BNO",
        model=cam.model,
        unique_camera_model=f"BNO {cam.model} ({cam.source} ColorMatrix)",
    )


def render_expert(dng: Path, expert: Path, profile: Path = PROFILE) -> Path:
    """Render ``dng`` with RawTherapee and ``profile`` to ``expert/<stem>.jpg``.

    RawTherapee writes an 8-bit PNG (orientation applied, full size); it is
    re-encoded as a quality-90 JPEG without metadata, written atomically.
    """
    exe = shutil.which("rawtherapee-cli")
    if exe is None:
        raise RuntimeError("rawtherapee-cli not found (Debian: apt-get install rawtherapee)")
    out = expert / f"{dng.stem}.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "render.png"
        cmd = [exe, "-q", "-Y", "-p", str(profile), "-n", "-b8", "-o", str(png), "-c", str(dng)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0 or not png.exists():
            raise RuntimeError(f"rawtherapee-cli failed on {dng}:\n{res.stdout}\n{res.stderr}")
        bgr = cv2.imread(str(png), cv2.IMREAD_COLOR)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {dng}")
        part = expert / f".tmp-{dng.stem}.jpg"
        part.write_bytes(buf.tobytes())
        os.replace(part, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder; DNGs go to OUT/raws, JPEGs to OUT/expert "
                             "(default: samples/ of this repository)")
    parser.add_argument("--expert", action="store_true",
                        help="also render the expert JPEGs with rawtherapee-cli")
    parser.add_argument("--expert-only", action="store_true",
                        help="only (re-)render expert JPEGs from existing DNGs")
    parser.add_argument("--profile", type=Path, default=PROFILE,
                        help="RawTherapee profile (default: samples/rawtherapee.pp3)")
    parser.add_argument("--only", nargs="*", default=None, metavar="PREFIX",
                        help="only scenes whose name starts with one of these prefixes")
    args = parser.parse_args(argv)

    raws, expert = args.out / "raws", args.out / "expert"
    raws.mkdir(parents=True, exist_ok=True)
    for index, scene in enumerate(SCENES):
        if args.only is not None and not scene.name.startswith(tuple(args.only)):
            continue
        dng = raws / f"{scene.name}.dng"
        if not args.expert_only:
            write_scene(index, scene, raws)
            print(f"{dng.name}: {scene_cfa_pattern(index)} {scene.temperature:.0f} K "
                  f"{scene.ev:+.1f} EV {dng.stat().st_size // 1024} KiB")
        if args.expert or args.expert_only:
            expert.mkdir(parents=True, exist_ok=True)
            jpg = render_expert(dng, expert, args.profile)
            print(f"  -> {jpg.name} {jpg.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
