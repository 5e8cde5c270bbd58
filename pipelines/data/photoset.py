"""A free, FiveK-like photo benchmark: ~100 licensed photographs from Debian (and PyPI) packages as camera raws.

MIT-Adobe FiveK cannot be downloaded here, so this builds a stand-in with the same
shape from real photographs whose licences allow it (``bno-synth photoset``):

1. **Fetch** — :func:`fetch_packages`: ``apt-get download`` each package of
   :data:`PACKAGES` (Debian bookworm) into a cache (skipped when the ``.deb`` is
   there) and ``dpkg-deb -x`` it. Photos that ship with installed Python packages
   (scikit-image, matplotlib, scikit-learn if installed) are read in place.
2. **Curate** — :data:`CURATED` lists, by path inside each package, the files that
   are real photographs; every candidate was looked at (illustrations, renders,
   logos, flat textures and near-duplicates were left out; see each package's
   comment). :func:`resolve_photos` records package, version, path, author and
   licence *as the package states them*: per-file stanzas of the machine-readable
   ``usr/share/doc/PKG/copyright`` (lomiri, mate, libjxl, tuxpaint), a wallpaper's
   ``metadata.json`` (plasma), a puzzle's ``.desktop`` file (palapeli), and the
   upright rotation of KPhotoAlbum's demo pictures from its ``demo/index.xml``.
3. **Plan** — :func:`plan_shots`: one shot per photo, all drawn from ``seed``:
   a FiveK id (spread over a0001…a5000, so several ``HQa*`` folders occur) and a
   camera-style name, a synthetic camera with a real ColorMatrix
   (:data:`bno.synth.camera.CAMERAS`), the four CFA layouts in turn, FiveK-Dark
   exposure (−3 … 0 EV), a scene light of 2700–8000 K (uniform in mired, tint ±10)
   with an as-shot error of up to ±500 K / ±10 tint, ISO 100…1600, and
   Orientation 6/8 for portrait photos (stored landscape, as a camera held upright).
   :func:`assign_splits`: train / validation / test by photo, stratified by
   package (systematic sampling over the package-sorted, seed-shuffled photos), and
   photos of one event (KPhotoAlbum's ``bar55``/``bar55_2``) kept on one side.
4. **Make** — :func:`make_shot` (one Dask task per photo, pure function of the photo,
   the shot and the settings): the photo upright, area-resized to a long edge of at
   most 1500 px, cropped to even sides, written as the **target**
   ``expert/<name>.jpg`` (8-bit sRGB, quality 95: the photograph as published, the
   raw's crop and size) and run backwards through a camera (:mod:`bno.synth.camera`)
   into an LJ92-compressed tiled DNG with a preview (:func:`bno.synth.dng.write_dng`,
   ``compression="ljpeg"``), ``raw_photos/HQa<lo>to<hi>/photos/<name>.dng``.
5. **Declare** — ``data_manifest.yaml`` (the declaration ``bno-synth generate``,
   ``pairs`` and ``audit`` read; test list ``splits/test.txt``), ``splits/*.txt``,
   ``stage2-validation.yaml`` (a training recipe holding out the validation photos
   with ``stage2.val_ids``), ``photos.json`` (one record per photo) and
   ``LICENSES.md`` (the generated credits table).

The same seed and sources give the same bytes (no time stamps anywhere; noise
seeded from the seed and the raw's name).
"""

from __future__ import annotations

import configparser
import email.parser
import fnmatch
import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from bno.files import atomic_write_bytes

__all__ = [
    "CURATED",
    "DEFAULT_LONG_EDGE",
    "PACKAGES",
    "PYPI_SOURCES",
    "Curated",
    "Photo",
    "PhotosetResult",
    "Shot",
    "assign_splits",
    "build_photoset",
    "dep5_licence",
    "fetch_packages",
    "fivek_folder",
    "kphotoalbum_angles",
    "licences_markdown",
    "markdown_table",
    "load_upright",
    "make_shot",
    "plan_shots",
    "resolve_photos",
]

#: Debian packages the photographs come from (bookworm).
PACKAGES: tuple[str, ...] = (
    "kphotoalbum",
    "libjxl-testdata",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "mate-backgrounds",
    "palapeli-data",
    "plasma-workspace-wallpapers",
    "tuxpaint-data",
)
#: Long edge of the raws and targets, px (at most; smaller photos keep their size).
DEFAULT_LONG_EDGE = 1500
#: Share of photos in the test split (at least :data:`MIN_TEST` when there are enough).
TEST_FRACTION = 0.34
MIN_TEST = 30
#: Share of photos held out of stage-2 training for validation (they stay in the train split).
VALIDATION_FRACTION = 0.10
#: JPEG quality of the targets.
TARGET_QUALITY = 95
#: FiveK's raw folders: ids lo…hi live in ``raw_photos/HQa<lo>to<hi>/photos``.
FIVEK_FOLDERS: tuple[tuple[int, int], ...] = ((1, 700), (701, 1400), (1401, 2100), (2101, 2800), (2801, 3500), (3501, 4200), (4201, 5000))
#: Scene light (K) and errors of the camera's as-shot estimate.
LIGHT_RANGE_K = (2700.0, 8000.0)
TINT_RANGE = 10.0
AS_SHOT_ERROR_K = 500.0
AS_SHOT_ERROR_TINT = 10.0
EV_RANGE = (-3.0, 0.0)
ISOS = (100, 200, 400, 800, 1600)
#: Synthetic cameras (keys of bno.synth.camera.CAMERAS) and how often each is drawn (FiveK: mostly Canon, then Nikon).
CAMERA_WEIGHTS = {"C12": 0.35, "C14": 0.3, "N14": 0.35}
#: Camera-style file names per camera maker, as FiveK's (``IMG_4411``, ``_DSC5348``, ``CRW_3063``).
NAME_STYLES = {"C": ("IMG_{:04d}", "CRW_{:04d}"), "N": ("_DSC{:04d}", "DSC_{:04d}")}
SPLITS = ("train", "validation", "test")


# --------------------------------------------------------------------------- the curated list


@dataclass(frozen=True)
class Curated:
    """One photograph chosen by eye: where it is and anything its package states outside its metadata."""

    package: str  #: Debian package, or ``pypi:<distribution>`` for a Python package
    path: str  #: path inside the package (Debian: from the .deb's root; PyPI: inside site-packages)
    key: str  #: short unique name, ``<source>-<photo>``
    author: str | None = None  #: credit stated elsewhere in the package (e.g. AUTHORS.txt); overrides the licence file's
    licence: str | None = None  #: licence stated elsewhere in the package; overrides the licence file's
    licence_source: str | None = None  #: where ``author``/``licence`` are stated, when given here


def _many(package: str, folder: str, prefix: str, names: str) -> tuple[Curated, ...]:
    return tuple(Curated(package, f"{folder}/{name}", f"{prefix}-{Path(name).stem if '/' not in name else name.split('/')[0]}") for name in names.split())


_TUXPAINT_AUTHORS = "usr/share/doc/tuxpaint-data/AUTHORS.txt.gz"
_NOAA = "public domain (U.S. National Oceanic and Atmospheric Administration)"

#: The photographs, by package. Left out after looking at every image: kphotoalbum's category
#: thumbnails (tiny); libjxl's flower.png re-encodings, wide-gamut test charts, 64-px crops,
#: grey/alpha variants and hdr_room.png (16-bit, transfer unstated); lomiri's analogpattern
#: (texture), umang, Fossa, Infinite-Sea, Painting-Colors (illustrations/renders); mate's
#: abstract/ and desktop/ (renders, logos, a painting) and nature/Wood.jpg (flat texture);
#: palapeli's backgrounds (textures); plasma's renders and paintings (Altai, Autumn, Canopee,
#: Cascade, Cluster, Elarun, Flow, FlyingKonqui, Honeywave, IceCold, Kay, Kokkini, MilkyWay,
#: Opal, PastelHills, Patak, SafeLanding, Shell, Volna); tuxpaint's drawings, frames, cut-outs
#: and flat textures (burnt_bark, mossy_bark, mudstone).
CURATED: tuple[Curated, ...] = (
    *_many("kphotoalbum", "usr/share/kphotoalbum/demo", "kpa",
           "anne_helene.jpg bar55.jpg bar55_2.jpg blackie.jpg cold_water.jpg donna.jpg donna_2.jpg "
           "grand_canyon_1.jpg grand_canyon_2.jpg grand_canyon_3.jpg jesper.jpg jesper_2.jpg new_wave_1.jpg "
           "new_wave_2.jpg pool.jpg pool_2.jpg qt-logo.jpg skagen.jpg skagen_2.jpg snow.jpg spiff.jpg "
           "spiff_2.jpg sunset.jpg wayne.jpg"),
    Curated("libjxl-testdata", "usr/share/libjxl-testdata/jxl/flower/flower.png", "jxl-flower"),
    *_many("libjxl-testdata", "usr/share/libjxl-testdata/external/wesaturate/500px", "jxl",
           "cvo9xd_keong_macan_srgb8.png tmshre_riaphotographs_srgb8.png u76c0g_bliznaca_srgb8.png"),
    *_many("lomiri-wallpapers-16.04", "usr/share/backgrounds", "lomiri",
           "Bridge_by_Sander_Klootwijk.jpg Dragonfly_by_Bolly.jpg Picture_0B_by_freespace.jpg "
           "Picture_1A_by_freespace.jpg Wine_by_Jakkub_Mede.jpg aitzgorri_by_Aitzol_Berasategi.jpg "
           "free_by_Peter_Nerlich.jpg friends_by_Aitzol_Berasategi.jpg greentock_by_Peter_Nerlich.jpg "
           "life_by_Aitzol_Berasategi.jpg picosdeeuropa_by_Aitzol_Berasategi.jpg "
           "seeding_by_Clements_Engelhardt.jpg sunset_by_Aitzol_Berasategi.jpg"),
    Curated("lomiri-wallpapers-20.04", "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg", "lomiri-Kleiber_by_Lukas_Baubkus"),
    *_many("mate-backgrounds", "usr/share/backgrounds/mate/nature", "mate",
           "Aqua.jpg Blinds.jpg Dune.jpg FreshFlower.jpg Garden.jpg GreenMeadow.jpg LadyBird.jpg "
           "RainDrops.jpg Storm.jpg TwoWings.jpg YellowFlower.jpg"),
    *_many("palapeli-data", "usr/share/palapeli/collection", "palapeli",
           "castle-maintenon.jpg cincinnati-bridge.jpg citrus-fruits.jpg european-honey-bee.jpg "
           "panther-chameleon-female.jpg"),
    *_many("plasma-workspace-wallpapers", "usr/share/wallpapers", "plasma",
           "BytheWater/contents/images/2560x1600.jpg ColdRipple/contents/images/2560x1600.jpg "
           "ColorfulCups/contents/images/2560x1600.jpg DarkestHour/contents/images/2560x1600.jpg "
           "EveningGlow/contents/images/2560x1600.jpg FallenLeaf/contents/images/2560x1600.jpg "
           "Grey/contents/images/2560x1600.jpg Kite/contents/images/2560x1600.jpg "
           "OneStandsOut/contents/images/2560x1600.jpg Path/contents/images/2560x1600.jpg "
           "summer_1am/contents/images/2560x1600.jpg"),
    *_many("tuxpaint-data", "usr/share/tuxpaint/templates", "tuxpaint",
           "cliff.jpg corn_maze.jpg jellyfish.jpg lighthouse.jpg mossy_log.jpg ocean_splash.jpg "
           "ocean_waves.jpg redwoods_above.jpg rocks.jpg sheep.jpg spiders_web.jpg sun_behind_clouds.jpg "
           "sun_behind_leaves.jpg trees_above.jpg trees_at_dusk.jpg wool_mill_machine.jpg"),
    Curated("tuxpaint-data", "usr/share/tuxpaint/starters/reef-back.png", "tuxpaint-reef",
            "Thomas K. Gibson (NOAA, Florida Keys National Marine Sanctuary)", _NOAA, _TUXPAINT_AUTHORS),
    Curated("tuxpaint-data", "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg", "tuxpaint-skyline-sf-dusk",
            "Rich Bourgerie (NOAA)", _NOAA, _TUXPAINT_AUTHORS),
)

#: Photos inside Python packages: (distribution, path in site-packages, key, author, licence) as the
#: package's docstrings / README state them. A distribution that is not installed is skipped.
PYPI_SOURCES: tuple[tuple[str, str, str, str, str], ...] = (
    ("scikit-image", "skimage/data/astronaut.png", "skimage-astronaut", "NASA (Eileen Collins)", "public domain"),
    ("scikit-image", "skimage/data/chelsea.png", "skimage-chelsea", "Stefan van der Walt", "CC0"),
    ("scikit-image", "skimage/data/coffee.png", "skimage-coffee", "Rachel Michetti", "CC0"),
    ("scikit-image", "skimage/data/rocket.jpg", "skimage-rocket", "SpaceX", "public domain"),
    ("scikit-image", "skimage/data/camera.png", "skimage-camera", "Lav Varshney", "CC0"),
    ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg", "mpl-grace_hopper", "U.S. Navy", "public domain"),
    ("scikit-learn", "sklearn/datasets/images/china.jpg", "sklearn-china", "danielbuechele (Flickr)", "CC-BY-2.0"),
    ("scikit-learn", "sklearn/datasets/images/flower.jpg", "sklearn-flower", "vultilion (Flickr)", "CC-BY-2.0"),
)


@dataclass(frozen=True)
class Photo:
    """A source photograph with its provenance, as recorded in ``photos.json`` and ``LICENSES.md``."""

    key: str  #: unique short name
    package: str  #: Debian package or ``pypi:<distribution>``
    version: str  #: package version
    path: str  #: path inside the package
    file: str  #: where it is on this machine
    author: str  #: as the package states it (e-mail addresses dropped)
    licence: str  #: as the package states it
    licence_source: str  #: the file inside the package that states author and licence
    rotate: int = 0  #: degrees clockwise that make the stored picture upright (KPhotoAlbum's ``angle``)
    group: str = ""  #: photos of one group (an event) share a split; defaults to ``key``


@dataclass(frozen=True)
class Shot:
    """How one photo is 'taken': id, name, camera, light, exposure, noise, layout, split."""

    key: str  #: the photo's key
    fivek_id: int  #: 1 … 5000
    name: str  #: file stem, ``a<NNNN>-<camera file name>``
    camera: str  #: key of bno.synth.camera.CAMERAS
    pattern: str  #: Bayer layout
    temperature: float  #: scene light, Adobe K
    tint: float  #: scene light tint
    as_shot_temperature: float  #: what the camera recorded as AsShotNeutral (K)
    as_shot_tint: float
    ev: float  #: exposure of a diffuse white relative to the headroom
    iso: int
    split: str = "train"  #: train | validation | test

    @property
    def folder(self) -> str:
        """FiveK's folder for this id, ``raw_photos/HQa<lo>to<hi>/photos``."""
        return fivek_folder(self.fivek_id)


def fivek_folder(fivek_id: int) -> str:
    """``raw_photos/HQa<lo>to<hi>/photos`` holding FiveK id ``fivek_id`` (1 … 5000).

    >>> fivek_folder(1), fivek_folder(4501)
    ('raw_photos/HQa1to700/photos', 'raw_photos/HQa4201to5000/photos')
    """
    for low, high in FIVEK_FOLDERS:
        if low <= fivek_id <= high:
            return f"raw_photos/HQa{low}to{high}/photos"
    raise ValueError(f"FiveK ids are 1 … 5000, got {fivek_id}")


# --------------------------------------------------------------------------- fetching


def _run(command: Sequence[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()
        raise OSError(f"{' '.join(command)} failed: {last[-1] if last else f'exit {result.returncode}'}")
    return result


def _download(package: str, cache: Path, runner: Callable = _run) -> Path:
    """The cached ``.deb`` of ``package``, downloaded with ``apt-get download`` when missing."""
    found = sorted(cache.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    try:
        runner(["apt-get", "download", package], cwd=cache)
    except OSError:  # no package lists yet: update them once and try again
        runner(["apt-get", "update", "-q"])
        runner(["apt-get", "download", package], cwd=cache)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        raise OSError(f"apt-get download {package} left no .deb in {cache}")
    return found[-1]


def fetch_packages(packages: Iterable[str], cache: os.PathLike | str, runner: Callable = _run) -> dict[str, tuple[Path, str]]:
    """Download (when not cached) and extract Debian packages; ``{package: (extracted root, version)}``.

    ``cache/<package>_<version>_<arch>.deb`` is kept; it is extracted once (``dpkg-deb -x``)
    into ``cache/extracted/<package>_<version>``, via a temporary folder renamed into place.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    roots = {}
    for package in packages:
        deb = _download(package, cache, runner)
        version = runner(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
        root = cache / "extracted" / f"{package}_{version.replace(':', '%3a')}"
        if not root.is_dir():
            root.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{package}-", dir=root.parent))
            runner(["dpkg-deb", "-x", str(deb), str(staging)])
            os.replace(staging, root)
        roots[package] = (root, version)
    return roots


# --------------------------------------------------------------------------- licences as the packages state them

_EMAIL = re.compile(r"\s*<[^>]*@[^>]*>")


def _clean(text: str) -> str:
    """One line, e-mail addresses dropped."""
    return " ".join(_EMAIL.sub("", str(text)).split())


def dep5_licence(copyright_file: os.PathLike | str, path: str) -> tuple[str, str]:
    """``(copyright holders, licence)`` for ``path`` from a machine-readable Debian copyright file.

    DEP-5 (copyright-format 1.0): paragraphs of ``Files:``/``Copyright:``/``License:``; the
    last paragraph whose ``Files`` patterns match wins. Upstream paths are relative to the
    source tree, not the installed one, so a pattern matches when it matches any tail of
    ``path`` (:func:`_dep5_matches`). Raises ``ValueError`` when no paragraph matches.
    """
    text = Path(copyright_file).read_text(encoding="utf-8", errors="replace")
    parser = email.parser.HeaderParser()
    found = None
    for block in re.split(r"\n\s*\n", text):
        paragraph = parser.parsestr(block.strip() + "\n")
        if any(_dep5_matches(pattern, path) for pattern in (paragraph.get("Files") or "").split()):
            found = paragraph
    if found is None:
        raise ValueError(f"{copyright_file}: no Files paragraph covers {path}")
    licence = (found.get("License") or "").strip().splitlines()
    return _clean(found.get("Copyright") or ""), _clean(licence[0] if licence else "")


def _dep5_matches(pattern: str, path: str) -> bool:
    """A DEP-5 ``Files`` pattern against an installed path: any tail of the path, or the same file name.

    ``*`` matches every path; ``nature/Aqua.jpg`` matches ``usr/share/backgrounds/mate/nature/Aqua.jpg``;
    ``16.04/Bridge.jpg`` (upstream's folder) matches ``usr/share/backgrounds/Bridge.jpg`` by its
    wildcard-free file name.
    """
    parts = Path(path).parts
    if any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts))):
        return True
    base = pattern.rsplit("/", 1)[-1]
    return not any(c in base for c in "*?[") and base == parts[-1]


def _plasma_licence(root: Path, path: str) -> tuple[str, str, str]:
    name = Path(path).relative_to("usr/share/wallpapers").parts[0]
    relative = f"usr/share/wallpapers/{name}/metadata.json"
    plugin = json.loads((root / relative).read_text(encoding="utf-8")).get("KPlugin", {})
    authors = ", ".join(_clean(a.get("Name", "")) for a in plugin.get("Authors", []))
    return authors, str(plugin.get("License", "")), relative


def _palapeli_licence(root: Path, path: str) -> tuple[str, str, str]:
    folder = Path(path).parent
    for desktop in sorted((root / folder).glob("*.desktop")):
        config = configparser.ConfigParser(interpolation=None, strict=False)
        config.read_string(desktop.read_text(encoding="utf-8"))
        if any(config[section].get("Image") == Path(path).name for section in config.sections()):  # [Job] Image=
            entry = config["Desktop Entry"] if config.has_section("Desktop Entry") else {}
            relative = str(folder / desktop.name)
            return _clean(entry.get("X-KDE-PluginInfo-Author", "")), entry.get("X-KDE-PluginInfo-License", ""), relative
    raise ValueError(f"palapeli-data: no .desktop file names {path}")


def kphotoalbum_angles(index_xml: os.PathLike | str) -> dict[str, int]:
    """``{file name: degrees clockwise}`` from a KPhotoAlbum ``index.xml`` (``<image file=… angle=…>``)."""
    tree = ElementTree.parse(index_xml)
    return {image.get("file"): int(image.get("angle", 0)) % 360 for image in tree.iter("image") if image.get("file")}


#: The machine-readable copyright file states kphotoalbum's licence for the whole package only.
_KPHOTOALBUM = ("Jesper K. Pedersen and the KPhotoAlbum authors (demo database)", "GPL-2+")


def _debian_photo(curated: Curated, root: Path, version: str) -> Photo:
    package, path = curated.package, curated.path
    rotate = 0
    if package == "plasma-workspace-wallpapers":
        author, licence, source = _plasma_licence(root, path)
    elif package == "palapeli-data":
        author, licence, source = _palapeli_licence(root, path)
    elif package == "kphotoalbum":
        (author, licence), source = _KPHOTOALBUM, f"usr/share/doc/{package}/copyright"
        rotate = kphotoalbum_angles(root / Path(path).parent / "index.xml").get(Path(path).name, 0)
    else:
        source = f"usr/share/doc/{package}/copyright"
        author, licence = dep5_licence(root / source, path)
    if curated.author or curated.licence:
        author, licence, source = curated.author or author, curated.licence or licence, curated.licence_source or source
    return Photo(curated.key, package, version, path, str(root / path), author, licence, source, rotate, _group(curated.key))


def _group(key: str) -> str:
    """Photos of one event share a group: ``kpa-bar55_2`` → ``kpa-bar55``, ``kpa-grand_canyon_3`` → ``kpa-grand_canyon``."""
    return re.sub(r"_\d+$", "", key)


def _pypi_photos() -> list[Photo]:
    photos = []
    for distribution, path, key, author, licence in PYPI_SOURCES:
        try:
            dist = importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
        file = Path(str(dist.locate_file(path)))
        if file.is_file():
            photos.append(Photo(key, f"pypi:{distribution}", dist.version, path, str(file), author, licence, f"{path.split('/')[0]} docstring/README", 0, key))
    return photos


def resolve_photos(roots: Mapping[str, tuple[Path, str]], curated: Sequence[Curated] = CURATED, pypi: bool = True) -> list[Photo]:
    """The curated photos found under the extracted ``roots`` (plus installed PyPI ones), with licences.

    A curated file missing from its package is an error (``FileNotFoundError`` naming it).
    """
    photos = []
    for entry in curated:
        if entry.package not in roots:
            continue
        root, version = roots[entry.package]
        if not (root / entry.path).is_file():
            raise FileNotFoundError(f"{entry.package} {version}: {entry.path} is missing (the curated list needs updating)")
        photos.append(_debian_photo(entry, Path(root), version))
    if pypi:
        photos += _pypi_photos()
    keys = Counter(photo.key for photo in photos)
    if any(count > 1 for count in keys.values()):
        raise ValueError(f"duplicate photo keys: {sorted(k for k, c in keys.items() if c > 1)}")
    return sorted(photos, key=lambda photo: photo.key)


# --------------------------------------------------------------------------- planning


def _rng(seed: int, *words: str) -> np.random.Generator:
    from bno.synth.camera import seed_from_name

    return np.random.default_rng([int(seed), *(seed_from_name(word) for word in words)])


def _camera_file_name(camera: str, fivek_id: int, rng: np.random.Generator) -> str:
    """A camera-style file name; about 1 in 12 carries a FiveK-like date prefix or ' (original)'."""
    style = NAME_STYLES[camera[0]][int(rng.integers(2))]
    name = style.format(int(rng.integers(1, 10_000)))
    quirk = rng.random()
    if quirk < 1 / 24:
        name = f"2004-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d} {int(rng.integers(24)):02d}-{int(rng.integers(60)):02d}-{int(rng.integers(60)):02d} {name}"
    elif quirk < 2 / 24:
        name = f"{name} (original)"
    return f"a{fivek_id:04d}-{name}"


def plan_shots(photos: Sequence[Photo], seed: int = 0, ids: Mapping[str, int] | None = None) -> list[Shot]:
    """One shot per photo, drawn from ``seed`` (module docstring, step 3); split left as train.

    Ids are distinct, spread over 1 … 5000 and given in a seeded order (not the
    package order); CFA layouts cycle in that order so all four occur. ``ids``
    (``{photo key: FiveK id}``, every photo, distinct, 1 … 5000) fixes the ids
    instead, e.g. to put chosen photos in FiveK's test range (the bundled samples);
    the layouts then cycle in id order. Everything else is drawn as without it.
    """
    from bno.synth.dng import CFA_PATTERNS

    if len(photos) > 5000:
        raise ValueError(f"FiveK ids stop at 5000; got {len(photos)} photos")
    rng = _rng(seed, "photoset-ids")
    if ids is None:
        sorted_ids = np.sort(rng.choice(np.arange(1, 5001), size=len(photos), replace=False))
        order = rng.permutation(len(photos))
    else:
        given = [ids.get(photo.key) for photo in photos]
        if any(i is None or not 1 <= int(i) <= 5000 for i in given) or len(set(given)) != len(given):
            raise ValueError("ids must give every photo a distinct FiveK id in 1 … 5000")
        order = np.argsort(np.asarray(given, dtype=np.int64), kind="stable")
        sorted_ids = np.asarray(given, dtype=np.int64)[order]
    cameras, weights = list(CAMERA_WEIGHTS), np.asarray(list(CAMERA_WEIGHTS.values()))
    shots = []
    for position, index in enumerate(order):
        photo = photos[int(index)]
        draw = _rng(seed, "photoset-shot", photo.key)
        camera = cameras[int(draw.choice(len(cameras), p=weights / weights.sum()))]
        mired = draw.uniform(1e6 / LIGHT_RANGE_K[1], 1e6 / LIGHT_RANGE_K[0])
        temperature, tint = round(1e6 / mired, 1), round(float(draw.uniform(-TINT_RANGE, TINT_RANGE)), 2)
        as_shot_t = round(float(np.clip(temperature + draw.uniform(-AS_SHOT_ERROR_K, AS_SHOT_ERROR_K), 2000.0, 50000.0)), 1)
        as_shot_tint = round(tint + float(draw.uniform(-AS_SHOT_ERROR_TINT, AS_SHOT_ERROR_TINT)), 2)
        fivek_id = int(sorted_ids[position])
        shots.append(
            Shot(
                key=photo.key,
                fivek_id=fivek_id,
                name=_camera_file_name(camera, fivek_id, draw),
                camera=camera,
                pattern=CFA_PATTERNS[position % len(CFA_PATTERNS)],
                temperature=float(temperature),
                tint=tint,
                as_shot_temperature=as_shot_t,
                as_shot_tint=as_shot_tint,
                ev=round(float(draw.uniform(*EV_RANGE)), 3),
                iso=int(draw.choice(ISOS)),
            )
        )
    return sorted(shots, key=lambda shot: shot.fivek_id)


def _quotas(sizes: Mapping[str, int], total: int) -> dict[str, int]:
    """Split ``total`` over packages in proportion to their photo counts (largest remainder)."""
    count = sum(sizes.values())
    exact = {name: total * size / count for name, size in sizes.items()}
    quota = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: (quota[n] - exact[n], n))[: total - sum(quota.values())]:
        quota[name] += 1
    return quota


def _take(groups: Sequence[tuple[str, int]], quota: int) -> set[str]:
    """Groups, in order, while they bring the count nearer to ``quota`` (a group is never split)."""
    chosen, count = set(), 0
    for name, size in groups:
        if count + size / 2 <= quota:
            chosen.add(name)
            count += size
    return chosen


def assign_splits(photos: Sequence[Photo], seed: int = 0, test_fraction: float = TEST_FRACTION, validation_fraction: float = VALIDATION_FRACTION) -> dict[str, str]:
    """``{photo key: "train" | "validation" | "test"}``, stratified by package, whole groups.

    ``T = max(test_fraction·N, min(30, N/3))`` test photos (at least 1) are shared out over the
    packages in proportion to their sizes (largest remainder); each package fills its share
    with its groups in a seeded order (a group of photos of one event is never split). Then
    the same for ``validation_fraction·N`` validation photos (at least 1 when 3 or more remain).
    """
    groups: dict[str, dict[str, int]] = {}
    for photo in sorted(photos, key=lambda p: (p.package, p.key)):
        package = groups.setdefault(photo.package, {})
        package[photo.group or photo.key] = package.get(photo.group or photo.key, 0) + 1
    ordered = {}
    for package, sizes in sorted(groups.items()):
        names = list(sizes)
        ordered[package] = [(names[i], sizes[names[i]]) for i in _rng(seed, "photoset-split", package).permutation(len(names))]
    count = len(photos)
    test_total = min(count - 1, max(1, round(max(test_fraction * count, min(MIN_TEST, count / 3)))))
    shares = _quotas({p: sum(size for _, size in g) for p, g in ordered.items()}, test_total)
    test = set().union(*(_take(g, shares[p]) for p, g in ordered.items()))
    rest = {p: [(n, size) for n, size in g if n not in test] for p, g in ordered.items()}
    remaining = sum(size for g in rest.values() for _, size in g)
    val_total = min(max(0, remaining - 1), max(1 if remaining >= 3 else 0, round(validation_fraction * count)))
    shares = _quotas({p: sum(size for _, size in g) or 0 for p, g in rest.items() if g}, val_total) if val_total else {}
    validation = set().union(*(_take(rest[p], shares[p]) for p in shares)) if shares else set()
    return {photo.key: "test" if (photo.group or photo.key) in test else "validation" if (photo.group or photo.key) in validation else "train" for photo in photos}


# --------------------------------------------------------------------------- making one raw


def load_upright(photo: Photo, long_edge: int = DEFAULT_LONG_EDGE) -> np.ndarray:
    """The photograph upright, RGB, area-resized to ``long_edge`` at most, cropped to even sides.

    Returns ``(H, W, 3)`` uint8 sRGB (grey photos repeated to three channels, alpha dropped).
    Raises ``ValueError`` naming the file when it cannot be read or is not 8-bit.
    """
    import cv2

    pixels = cv2.imread(photo.file, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ValueError(f"{photo.file}: not an image OpenCV can read")
    if pixels.dtype != np.uint8:
        raise ValueError(f"{photo.file}: {pixels.dtype} image; only 8-bit sRGB photos are supported")
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
    else:
        pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_BGR2RGB)
    if photo.rotate:
        pixels = np.rot90(pixels, k=-(photo.rotate // 90))  # clockwise
    height, width = pixels.shape[:2]
    if max(height, width) > long_edge:
        scale = long_edge / max(height, width)
        pixels = cv2.resize(pixels, (max(2, round(width * scale)), max(2, round(height * scale))), interpolation=cv2.INTER_AREA)
    height, width = pixels.shape[:2]
    return np.ascontiguousarray(pixels[: height - height % 2, : width - width % 2])


def _orientation(height: int, width: int, shot: Shot) -> int:
    """Portrait photos are stored landscape (Orientation 6 or 8, by the id's parity), others as they are."""
    if height <= width:
        return 1
    return 6 if shot.fivek_id % 2 else 8


def make_shot(photo: Photo, shot: Shot, out: str, seed: int = 0, long_edge: int = DEFAULT_LONG_EDGE,
              raw_folder: str | None = None) -> dict[str, Any]:
    """Write ``expert/<name>.jpg`` and ``<folder>/<name>.dng`` for one photo; return ``{scene, status, record}``.

    ``raw_folder``: where the raw goes, relative to ``out`` (default: FiveK's folder for its id,
    :attr:`Shot.folder`; the bundled samples use ``raws``). Never raises: a failure is
    ``{scene, status: "failed", reason}``.
    """
    from bno.pipelines.data.records import failure_record
    from bno.pipelines.data.manifest import sha256_bytes
    from bno.synth.camera import CAMERAS, camera_neutral, seed_from_name, sensor_readout, srgb_to_camera, to_sensor_orientation
    from bno.synth.dng import mosaic, write_dng
    from bno.synth.io import encode_image

    started = time.perf_counter()
    try:
        upright = load_upright(photo, long_edge)
        height, width = upright.shape[:2]
        orientation = _orientation(height, width, shot)
        target = encode_image(upright, ".jpg", 8, quality=TARGET_QUALITY)
        out_path = Path(out)
        target_path = out_path / "expert" / f"{shot.name}.jpg"
        target_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target_path, target)

        camera = CAMERAS[shot.camera]
        camera_rgb = srgb_to_camera(upright.astype(np.float64) / 255.0, camera.color_matrix, shot.temperature, shot.tint, shot.ev)
        signal = mosaic(to_sensor_orientation(camera_rgb, orientation), shot.pattern)
        noise = np.random.default_rng([int(seed), seed_from_name(shot.name)])
        cfa = sensor_readout(signal, noise, shot.iso, camera.black, camera.white)
        neutral = camera_neutral(camera.color_matrix, shot.as_shot_temperature, shot.as_shot_tint)
        raw_path = out_path / (raw_folder or shot.folder) / f"{shot.name}.dng"
        raw_path.parent.mkdir(parents=True, exist_ok=True)
        write_dng(raw_path, cfa, shot.pattern, camera.black, camera.white, camera.color_matrix, tuple(float(v) for v in neutral),
                  orientation=orientation, make="BNO", model=camera.model, unique_camera_model=f"BNO {camera.model} ({camera.source} ColorMatrix)",
                  compression="ljpeg")
        record = {
            **asdict(shot),
            "raw": raw_path.relative_to(out_path).as_posix(),
            "target": target_path.relative_to(out_path).as_posix(),
            "raw_sha256": sha256_bytes(raw_path.read_bytes()),
            "raw_bytes": raw_path.stat().st_size,
            "target_sha256": sha256_bytes(target),
            "width": int(width),
            "height": int(height),
            "orientation": orientation,
            "clipped_fraction": round(float(np.mean(cfa >= camera.white)), 5),
            "source": {k: v for k, v in asdict(photo).items() if k != "file"},
        }
    except Exception as error:  # a task reports, never raises
        return failure_record(Path(photo.file).name, shot.name, error, started)
    return {"scene": shot.name, "status": "ok", "record": record, "seconds": time.perf_counter() - started}


# --------------------------------------------------------------------------- documents


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A GitHub-flavoured Markdown table as lines; a ``|`` inside a cell becomes ``/``.

    >>> markdown_table(["a", "b"], [[1, "x|y"]])
    ['| a | b |', '|---|---|', '| 1 | x/y |']
    """
    line = lambda cells: "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"  # noqa: E731
    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def licences_markdown(records: Sequence[Mapping[str, Any]], seed: int) -> str:
    """``LICENSES.md``: what the photoset is, and one row of credits per photo."""
    packages = Counter(r["source"]["package"] for r in records)
    lines = [
        "# Photo benchmark: sources and licences",
        "",
        f"{len(records)} camera raws (`raw_photos/…/*.dng`) made by `bno-synth photoset --seed {seed}` from the freely",
        "licensed photographs below, each run backwards through a synthetic camera (real ColorMatrix, Bayer",
        "mosaic, sensor noise; `bno.synth.camera`), and their targets (`expert/*.jpg`: the photograph as",
        "published, resized to the raw's size). Authors and licences are copied from the package that ships",
        "each photo (the file named in the last column); each derived raw and target keeps its photo's licence.",
        "",
        "Photos per package: " + ", ".join(f"{name} {count}" for name, count in sorted(packages.items())) + ".",
        "",
    ]
    lines += markdown_table(
        ["id", "split", "photo", "package (version)", "path in the package", "author", "licence", "stated in"],
        ([f"a{r['fivek_id']:04d}", r["split"], r["source"]["key"], f"{r['source']['package']} ({r['source']['version']})",
          f"`{r['source']['path']}`", r["source"]["author"], r["source"]["licence"], f"`{r['source']['licence_source']}`"]
         for r in sorted(records, key=lambda r: r["fivek_id"])),
    )
    return "\n".join(lines) + "\n"


def _declaration(out: Path, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The photoset's ``data_manifest.yaml`` content: the package default with this source and split."""
    import bno
    from bno.pipelines.data.manifest import load_declaration

    document = load_declaration(bno.resource_path("data_manifest.yaml")).to_dict()
    document["source"] = {"name": "BNO photo benchmark (FiveK-like raws from freely licensed photographs)", "raws": "raw_photos",
                          "id_pattern": document["source"]["id_pattern"], "expected_files": len(records)}
    document["output"] = str(out.resolve() / "data" / "init")
    document["split"] = {"train_ids": [1, 5000], "test_ids": [1, 5000], "test_list": "splits/test.txt", "unmatched": "train"}
    document["pairs"] = {"targets": "expert", "output": str(out.resolve() / "data" / "pairs")}
    return document


def _write_documents(out: Path, records: list[dict[str, Any]], seed: int) -> None:
    import yaml

    import bno

    names = {split: sorted(f"a{r['fivek_id']:04d}" for r in records if r["split"] == split) for split in SPLITS}
    (out / "splits").mkdir(exist_ok=True)
    for split, ids in names.items():
        atomic_write_bytes(out / "splits" / f"{split}.txt", ("".join(f"{i}\n" for i in ids)).encode())
    header = ("# The photo benchmark's declaration, written by `bno-synth photoset`: raws under raw_photos/ (FiveK layout),\n"
              "# targets under expert/, test photos listed in splits/test.txt (validation photos are in the train split and\n"
              "# are held out of stage 2 by stage2-validation.yaml); the test list overrides the id ranges. Relative paths\n"
              "# are relative to this file; output and pairs.output are absolute (inside this folder).\n")
    body = yaml.safe_dump(_declaration(out, records), sort_keys=False, allow_unicode=True, width=1000)
    atomic_write_bytes(out / "data_manifest.yaml", (header + body).encode("utf-8"))
    recipe = {"base": str(bno.resource_path("configs/quick.yaml")), "stage2": {"val_from_train": 0, "val_ids": names["validation"]}}
    atomic_write_bytes(out / "stage2-validation.yaml", ("# Stage 2 on this photoset, validated on its validation photos (splits/validation.txt).\n"
                                                        + yaml.safe_dump(recipe, sort_keys=False)).encode("utf-8"))
    atomic_write_bytes(out / "photos.json", (json.dumps(records, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    atomic_write_bytes(out / "LICENSES.md", licences_markdown(records, seed).encode("utf-8"))


# --------------------------------------------------------------------------- the driver


@dataclass
class PhotosetResult:
    """What a build did: the records written, failures, counts and time."""

    out: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def per_package(self) -> dict[str, int]:
        """Photos per source package."""
        return dict(sorted(Counter(r["source"]["package"] for r in self.records).items()))

    def per_split(self) -> dict[str, int]:
        """Photos per split (train, validation, test)."""
        return dict(sorted(Counter(r["split"] for r in self.records).items()))

    def bytes(self) -> int:
        """Bytes of everything under ``out`` (raws, targets, documents; hidden folders such as a cache aside)."""
        files = (p for p in self.out.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.out).parts))
        return sum(p.stat().st_size for p in files)


def build_photoset(
    out: os.PathLike | str,
    *,
    seed: int = 0,
    cache: os.PathLike | str | None = None,
    photos: Sequence[Photo] | None = None,
    long_edge: int = DEFAULT_LONG_EDGE,
    workers: int | None = 0,
    limit: int | None = None,
    progress_interval: float = 10.0,
) -> PhotosetResult:
    """Build the photo benchmark into ``out`` (module docstring); return what was written.

    ``photos``: use these instead of fetching :data:`PACKAGES` into ``cache`` and resolving
    :data:`CURATED` (tests, or a user's own licensed photos). ``workers``: 0 runs in this
    process, otherwise a Dask cluster of that many workers (``None``: one per core).
    ``limit``: the first N photos by key (a quick look).
    """
    from bno.pipelines.data.executor import execute

    started = time.perf_counter()
    out = Path(out)
    if photos is None:
        if cache is None:
            raise ValueError("give a package cache folder (or the photos to use)")
        photos = resolve_photos(fetch_packages(PACKAGES, cache))
    photos = sorted(photos, key=lambda p: p.key)[: limit if limit is not None else None]
    if not photos:
        raise ValueError("no photos to build the photoset from")
    splits = assign_splits(photos, seed)
    shots = [replace(shot, split=splits[shot.key]) for shot in plan_shots(photos, seed)]
    photo_of = {photo.key: photo for photo in photos}
    out.mkdir(parents=True, exist_ok=True)
    results, _ = execute(make_shot, shots, lambda shot: (photo_of[shot.key], shot), {"out": str(out), "seed": seed, "long_edge": long_edge},
                         workers=workers, label="photoset", progress_interval=progress_interval)
    result = PhotosetResult(out=out)
    for item in results:
        if item["status"] == "ok":
            result.records.append(item["record"])
        else:
            result.failures.append({"source": item.get("source", item["scene"]), "reason": item.get("reason", "")})
    result.records.sort(key=lambda r: r["fivek_id"])
    _write_documents(out, result.records, seed)
    result.seconds = time.perf_counter() - started
    return result
