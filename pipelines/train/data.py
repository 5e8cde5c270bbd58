"""Training data: stage-1 operator pairs and stage-2 expert pairs, sampled reproducibly.

Every random choice (scene, levels, crop, flips) of training item ``i`` in epoch ``e`` is
drawn from ``numpy.random.default_rng((seed, e, i))`` — never from a global stream — so
any worker, any number of DDP ranks and a resumed run see exactly the same samples.
A :class:`KeySampler` hands ``(epoch, i)`` keys to the ``DataLoader``; a dataset maps a
key to one sample.

Stage 1 reads an operator dataset through its ``manifest.jsonl`` (layout
``<root>/<CODE>/<scene>-<level>.png``): item ``i`` holds, for each trained operator, a
pair (A, B) of one training scene at levels ``l_A``, ``l_B`` (uniform), cropped at the
same place, and the strength ``v = (l_B − l_A)/(N − 1)``.

Stage 2 reads paired folders ``trainA/trainB/testA/testB`` (a ``bno-synth pairs``
dataset, FiveK-Dark or FiveK-Lite), pairing inputs and targets **by FiveK id** (the
``a<NNNN>`` prefix) or, without one, by file stem — never by sorted order.

Images are decoded with :func:`bno.synth.io.read_image` (an unreadable file raises
:class:`bno.synth.io.ImageReadError` naming it) and kept as uint8/uint16 arrays when
``cache`` is on (decoded once, shared copy-on-write with forked workers).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from bno.synth.colour_spaces import prophoto_to_srgb, srgb_to_prophoto
from bno.synth.ops import D65_WHITE, mired
from bno.synth.ops.exposure import exposure
from bno.synth.ops.white_balance import white_balance
from bno.pipelines.data.paired import to_float, to_tensor
from bno.pipelines.data.paths import DatasetRoot
from bno.synth.io import read_image
from bno.synth.ops import OPERATORS

__all__ = [
    "ImageStore",
    "KeySampler",
    "OperatorData",
    "Stage1Pairs",
    "Stage2Pairs",
    "EvalPair",
    "dataset_fingerprint",
    "item_rng",
    "load_operator_data",
    "worker_init",
]

NEUROP_CROP_MARGIN = (1, 20)  # NeurOp crops (h − 20 … h − 1) × (w − 20 … w − 1)


def item_rng(seed: int, epoch: int, index: int, salt: int = 0) -> np.random.Generator:
    """The generator of training item ``index`` in ``epoch`` (a pure function of its arguments)."""
    return np.random.default_rng([int(seed), int(epoch), int(index), int(salt)])


def worker_init(worker_id: int, seed: int = 0) -> None:
    """DataLoader ``worker_init_fn`` (bind ``seed`` with ``functools.partial``): one torch
    thread per worker and global generators seeded from ``(seed, worker_id)``.

    Sampling never reads these global generators (see :func:`item_rng`); they are seeded
    only so that any third-party code that does is reproducible too.
    """
    torch.set_num_threads(1)
    torch.manual_seed(int(seed) * 1000 + worker_id)
    np.random.seed(np.random.SeedSequence([int(seed), worker_id]).generate_state(1)[0])


class ImageStore:
    """Reads images as integer arrays ``(H, W, 3)`` (uint8 or uint16), optionally caching them."""

    def __init__(self, cache: bool = True) -> None:
        self.cache = cache
        self._images: dict[str, np.ndarray] = {}

    def get(self, path: str | Path) -> np.ndarray:
        key = str(path)
        found = self._images.get(key)
        if found is not None:
            return found
        loaded = read_image(key)  # ImageReadError names the file
        top = 255.0 if loaded.bit_depth == 8 else 65535.0
        dtype = np.uint8 if loaded.bit_depth == 8 else np.uint16
        pixels = np.rint(loaded.pixels * top).astype(dtype)
        if self.cache:
            self._images[key] = pixels
        return pixels

    def preload(self, paths: Sequence[str | Path]) -> None:
        """Decode ``paths`` now (before forking workers) when caching."""
        if self.cache:
            for path in paths:
                self.get(path)


def dataset_fingerprint(root: str | Path) -> str:
    """sha256 of ``<root>/manifest.jsonl`` when there is one, else of the sorted (path, size) list."""
    root = Path(root)
    manifest = root / "manifest.jsonl"
    digest = hashlib.sha256()
    if manifest.is_file():
        digest.update(manifest.read_bytes())
        return digest.hexdigest()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\t{path.stat().st_size}\n".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- crops and augmentation


def _crop_box(rng: np.random.Generator, height: int, width: int, ch: int, cw: int) -> tuple[int, int]:
    return int(rng.integers(0, height - ch + 1)), int(rng.integers(0, width - cw + 1))


def _augment(arrays: list[np.ndarray], rng: np.random.Generator, flips: bool, rot90: bool) -> list[np.ndarray]:
    """Apply the same random flips / 90° rotation to every ``(H, W, 3)`` array."""
    if flips:
        if rng.random() < 0.5:
            arrays = [a[:, ::-1] for a in arrays]
        if rng.random() < 0.5:
            arrays = [a[::-1] for a in arrays]
    if rot90:
        k = int(rng.integers(0, 4))  # odd k swaps H and W: square crops, or batch 1
        if k:
            arrays = [np.rot90(a, k) for a in arrays]
    return arrays


# --------------------------------------------------------------------------- keys


class KeySampler(Sampler):
    """Yields ``(epoch, i)`` keys of one epoch's steps ``[start_step, steps)``.

    Global batch ``b`` item ``i = step·b + j``; with ``world`` ranks, rank ``r`` takes items
    ``j ∈ [r·b/world, (r+1)·b/world)`` of every batch, so the union over ranks is exactly
    the single-process batch.
    """

    def __init__(self, epoch: int, steps: int, batch: int, start_step: int = 0, rank: int = 0, world: int = 1) -> None:
        if batch % world:
            raise ValueError(f"global batch {batch} is not divisible by {world} processes")
        self.epoch, self.steps, self.batch, self.start = epoch, steps, batch, start_step
        self.rank, self.world = rank, world
        self.local = batch // world

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for step in range(self.start, self.steps):
            first = step * self.batch + self.rank * self.local
            for j in range(first, first + self.local):
                yield (self.epoch, j)

    def __len__(self) -> int:
        return (self.steps - self.start) * self.local


# --------------------------------------------------------------------------- stage 1: operator data


@dataclass
class OperatorData:
    """An operator dataset read from its manifest: ``paths[op][scene][level]`` etc."""

    root: Path
    levels: dict[str, int]  # op → N
    paths: dict[str, dict[str, dict[int, Path]]]  # op → scene → level → file
    values: dict[str, dict[str, dict[int, float]]]  # op → scene → level → slider value
    units: dict[str, str]
    split: dict[str, str]  # scene → "train" | "test"
    sizes: dict[str, tuple[int, int]]  # scene → (height, width)

    def scenes(self, split: str) -> list[str]:
        return sorted(s for s, sp in self.split.items() if sp == split)


def load_operator_data(root: str | Path, ops: Sequence[str] | None = None) -> OperatorData:
    """Read ``<root>/manifest.jsonl``; ``ValueError`` when an op is missing, levels are incomplete
    or a recorded path leaves the dataset (``..``, absolute, a symlink to outside ``root``)."""
    root = Path(root)
    inside = DatasetRoot(root)
    manifest = inside.path("manifest.jsonl")
    if not manifest.is_file():
        raise FileNotFoundError(f"{root}: no manifest.jsonl (make one with `bno-synth generate`)")
    paths: dict[str, dict[str, dict[int, Path]]] = defaultdict(lambda: defaultdict(dict))
    values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    units: dict[str, str] = {}
    split: dict[str, str] = {}
    sizes: dict[str, tuple[int, int]] = {}
    declared: dict[str, int] = {}
    with open(manifest, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
                file = inside.path(rec.get("path"))
            except ValueError as error:  # JSONDecodeError, DatasetPathError
                raise ValueError(f"{manifest}:{number}: {error}") from None
            try:
                op, scene, level = str(rec["op"]), str(rec["scene"]), int(rec["level"])
                paths[op][scene][level] = file
                values[op][scene][level] = float(rec["value"])
                units[op] = str(rec.get("unit", ""))
                split[scene] = str(rec["split"])
                sizes[scene] = (int(rec["height"]), int(rec["width"]))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{manifest}:{number}: bad record ({error})") from None
            if "levels" in rec:
                declared[op] = int(rec["levels"])
    wanted = list(ops) if ops is not None else sorted(paths)
    missing = [op for op in wanted if op not in paths]
    if missing:
        raise ValueError(f"{root}: no {', '.join(missing)} images in the dataset (it has {', '.join(sorted(paths)) or 'none'})")
    levels = {op: declared.get(op, 1 + max(max(lv) for lv in paths[op].values())) for op in wanted}
    for op in wanted:
        for scene, got in paths[op].items():
            if len(got) != levels[op]:
                raise ValueError(f"{root}: {op}/{scene} has {len(got)} of {levels[op]} levels")
    return OperatorData(
        root=root,
        levels=levels,
        paths={op: dict(paths[op]) for op in wanted},
        values={op: dict(values[op]) for op in wanted},
        units={op: units[op] for op in wanted},
        split=split,
        sizes=sizes,
    )


class Stage1Pairs(Dataset):
    """Key ``(epoch, i)`` → ``{op: (A (3,c,c), B (3,c,c), v ())}`` for every trained operator."""

    def __init__(
        self,
        data: OperatorData,
        ops: Sequence[str],
        crop: int,
        seed: int,
        store: ImageStore,
        flips: bool = True,
        rot90: bool = True,
    ) -> None:
        self.data, self.ops, self.seed, self.store = data, list(ops), seed, store
        self.flips, self.rot90 = flips, rot90
        self.scenes = data.scenes("train")
        if not self.scenes:
            raise ValueError(f"{data.root}: no training scenes")
        smallest = min(min(data.sizes[s]) for s in self.scenes)
        self.crop = min(crop, smallest)

    def __len__(self) -> int:  # keys come from KeySampler
        return 1 << 62

    def __getitem__(self, key: tuple[int, int]) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        epoch, index = key
        out = {}
        for salt, op in enumerate(self.ops):
            rng = item_rng(self.seed, epoch, index, salt)
            n = self.data.levels[op]
            scene = self.scenes[int(rng.integers(len(self.scenes)))]
            la, lb = (int(v) for v in rng.choice(n, size=2, replace=False))  # two distinct levels (NeurOp)
            a = self.store.get(self.data.paths[op][scene][la])
            b = self.store.get(self.data.paths[op][scene][lb])
            if a.shape != b.shape:
                raise ValueError(f"{self.data.paths[op][scene][la]} and level {lb} differ in size")
            top, left = _crop_box(rng, a.shape[0], a.shape[1], self.crop, self.crop)
            box = (slice(top, top + self.crop), slice(left, left + self.crop))
            a, b = _augment([a[box], b[box]], rng, self.flips, self.rot90)
            out[op] = (to_tensor(a), to_tensor(b), torch.tensor((lb - la) / (n - 1), dtype=torch.float32))
        return out


@dataclass(frozen=True)
class EvalPair:
    """One held-out stage-1 pair: operator, scene, levels, and which set it belongs to."""

    op: str
    scene: str
    level_a: int
    level_b: int
    kind: str = "random"  # "random": any two distinct levels; "neutral": A at the middle level


def stage1_eval_pairs(data: OperatorData, ops: Sequence[str], per_scene: int, seed: int) -> list[EvalPair]:
    """Fixed held-out pairs (test split), per scene and operator:

    * ``per_scene`` random distinct ``(l_A, l_B)`` — the training distribution (NeurOp);
    * ``per_scene`` with ``l_A`` the middle level (slider 0 / as shot in the default
      schedules) and a random ``l_B`` — an operator applied to an unedited photo.
    """
    registry_order = [operator.code for operator in OPERATORS.values()]
    pairs = []
    for op in ops:
        # Seeded by the operator's place in the registry, not in ``ops``: every model trained
        # on the same data is scored on the same pairs, whichever operators it has.
        rng = np.random.default_rng([int(seed), 7919, registry_order.index(op)])
        n = data.levels[op]
        others = [level for level in range(n) if level != n // 2]
        for scene in data.scenes("test"):
            for _ in range(per_scene):
                la, lb = (int(v) for v in rng.choice(n, size=2, replace=False))
                pairs.append(EvalPair(op, scene, la, lb))
            for _ in range(per_scene):
                pairs.append(EvalPair(op, scene, n // 2, int(rng.choice(others)), "neutral"))
    return pairs


# --------------------------------------------------------------------------- stage 2: paired folders


class Stage2Pairs(Dataset):
    """Key ``(epoch, i)`` → ``(input (3,h,w), target (3,h,w))``, NeurOp-style augmented.

    ``crop == 0``: random crop of (h − 20 … h − 1) × (w − 20 … w − 1) (NeurOp; batch 1);
    otherwise a square crop of ``min(crop, shortest side)``. ``jitter = (EV, mired)``: the input
    alone is re-lit by a uniform random exposure and white-balance shift (:func:`relight`), so the
    strength predictor sees more exposure and colour errors than the training photos hold.
    """

    def __init__(
        self,
        items: list[tuple[str, Path, Path]],
        crop: int,
        seed: int,
        store: ImageStore,
        flips: bool = True,
        rot90: bool = True,
        jitter: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        if not items:
            raise ValueError("no training pairs")
        self.items, self.seed, self.store = items, seed, store
        self.flips, self.rot90 = flips, rot90
        self.crop = crop
        self.jitter_ev, self.jitter_mired = (float(v) for v in jitter)

    def __len__(self) -> int:
        return 1 << 62

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's permutation of the training pairs."""
        return np.random.default_rng([int(self.seed), int(epoch), 104729]).permutation(len(self.items))

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = key
        n = len(self.items)
        order = self.order(epoch + index // n)  # a new permutation after each full pass
        _, input_path, target_path = self.items[int(order[index % n])]
        x, y = self.store.get(input_path), self.store.get(target_path)
        if x.shape != y.shape:
            raise ValueError(f"{input_path} is {x.shape[:2]} but its target {target_path} is {y.shape[:2]}")
        rng = item_rng(self.seed, epoch, index)
        h, w = x.shape[:2]
        if self.crop <= 0:
            lo, hi = NEUROP_CROP_MARGIN
            ch, cw = h - int(rng.integers(lo, hi + 1)), w - int(rng.integers(lo, hi + 1))
            ch, cw = max(ch, 1), max(cw, 1)
        else:
            ch = cw = min(self.crop, h, w)
        top, left = _crop_box(rng, h, w, ch, cw)
        box = (slice(top, top + ch), slice(left, left + cw))
        x, y = _augment([x[box], y[box]], rng, self.flips, self.rot90)
        if self.jitter_ev or self.jitter_mired:
            ev, shift = rng.uniform(-1, 1, 2) * (self.jitter_ev, self.jitter_mired)
            x = relight(to_float(x), float(ev), float(shift))
        return to_tensor(x), to_tensor(y)


def relight(srgb: np.ndarray, ev: float, warmer_mired: float) -> np.ndarray:
    """A display-sRGB image ``(H, W, 3)`` float in [0, 1] shot ``ev`` stops brighter and ``warmer_mired`` warmer.

    Done in linear ProPhoto with the synthesis operators themselves (Exposure; Temperature relative
    to the D65 white a rendered image is taken to have), then back to display sRGB, float32.
    """
    linear = srgb_to_prophoto(srgb)
    if warmer_mired:
        temperature = float(mired(float(mired(D65_WHITE.temperature)) - warmer_mired))
        linear = white_balance(linear, temperature, None, D65_WHITE)
    if ev:
        linear = exposure(linear, ev)
    return prophoto_to_srgb(linear)


def steps_for_one_pass(count: int, batch: int) -> int:
    """Steps that show every training pair once: ``ceil(count / batch)``."""
    return max(1, math.ceil(count / batch))


def collate_stage1(items: list[dict[str, tuple[torch.Tensor, ...]]]) -> dict[str, tuple[torch.Tensor, ...]]:
    """Stack per-op samples: ``{op: (A (B,3,c,c), B (B,3,c,c), v (B,))}``."""
    return {op: tuple(torch.stack([item[op][k] for item in items]) for k in range(3)) for op in items[0]}
