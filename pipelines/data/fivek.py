"""MIT-Adobe FiveK naming: ids, splits and how inputs are paired with targets — the one place.

* A FiveK id is the four digits after a leading ``a`` of a raw's name
  (``a0007-2004-07-29 14-30-22 CRW_3063 (original).dng`` → 7): :data:`FIVEK_ID_PATTERN`.
* Pairing is looser, so that FiveK-Dark and NeurOp names meet FiveK's (``a4521-x.tif`` ↔
  ``a4521.jpg`` ↔ ``4521_input.jpg``): :data:`PAIR_KEY`, :func:`pair_key`, :func:`match_by_key`.
* A :class:`SplitRule` (id ranges, or a list of test names) says which scenes are train or test.
* FiveK-Dark's paired layout is ``trainA/trainB/testA/testB``: :data:`DARK_LAYOUT`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DARK_LAYOUT",
    "FIVEK_ID_PATTERN",
    "PAIR_KEY",
    "SplitRule",
    "fivek_id",
    "load_test_names",
    "match_by_key",
    "pair_key",
    "split_of",
]

#: Group 1 is the FiveK id (a0001 … a5000) at the start of a raw's file name or scene.
FIVEK_ID_PATTERN = r"^a(\d{4})"
#: Pairing key: an optional ``a`` and four digits not followed by a fifth (``a4521``, ``4521_input``).
PAIR_KEY = re.compile(r"^a?(\d{4})(?!\d)", re.IGNORECASE)
#: FiveK-Dark layout: split -> (inputs folder, targets folder).
DARK_LAYOUT = {"train": ("trainA", "trainB"), "test": ("testA", "testB")}


@dataclass(frozen=True)
class SplitRule:
    """Which scenes are train and which test (FiveK ids are integers 1…5000)."""

    train_ids: tuple[int, int] = (1, 4500)  #: inclusive FiveK id range of the training split
    test_ids: tuple[int, int] = (4501, 5000)  #: inclusive FiveK id range of the test split
    test_list: str | None = None  #: file of test ids/scene names (overrides the ranges), resolved path
    unmatched: str = "train"  #: split of names without a FiveK id (or outside both ranges): train|test|skip


def fivek_id(name: str, pattern: str = FIVEK_ID_PATTERN) -> int | None:
    """The FiveK id (1…5000) at the start of a file name or scene, or ``None``.

    >>> fivek_id("a0007-2004-07-29 14-30-22 CRW_3063 (original)")
    7
    """
    match = re.search(pattern, Path(name).name)
    return int(match.group(1)) if match else None


def _read_test_list(path: str) -> frozenset[str]:
    entries = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                entries.add(Path(line).stem if "." in Path(line).name else line)
    return frozenset(entries)


def split_of(scene: str, rule: SplitRule, pattern: str = FIVEK_ID_PATTERN, test_names: frozenset[str] | None = None) -> str | None:
    """``"train"``, ``"test"`` or ``None`` (skip) for a scene, by the split rule.

    ``test_names``: the parsed ``rule.test_list`` (read once by the caller; read here if ``None``).
    """
    number = fivek_id(scene, pattern)
    if rule.test_list is not None:
        names = test_names if test_names is not None else _read_test_list(rule.test_list)
        keys = {scene} | ({f"a{number:04d}", str(number), f"{number:04d}"} if number is not None else set())
        return "test" if keys & names else "train"
    if number is not None:
        if rule.train_ids[0] <= number <= rule.train_ids[1]:
            return "train"
        if rule.test_ids[0] <= number <= rule.test_ids[1]:
            return "test"
    return None if rule.unmatched == "skip" else rule.unmatched


def load_test_names(rule: SplitRule) -> frozenset[str] | None:
    """The test list of ``rule`` parsed once (``None`` when the rule uses id ranges)."""
    return None if rule.test_list is None else _read_test_list(rule.test_list)


def pair_key(name: str) -> str:
    """Matching key of a file: ``a<NNNN>`` for FiveK-style names, else the stem.

    >>> pair_key("a0899-_DSC5348 (original).dng"), pair_key("4521_input.jpg"), pair_key("x.png")
    ('a0899', 'a4521', 'x')
    """
    stem = Path(name).stem
    match = PAIR_KEY.match(stem)
    return f"a{int(match.group(1)):04d}" if match else stem


def match_by_key(inputs: Iterable[Path], targets: Iterable[Path]) -> tuple[list[tuple[str, Path, Path]], list[str], list[str]]:
    """Pair files whose :func:`pair_key` agree (exact stem first). Returns (pairs, unmatched inputs, unmatched targets).

    A key held by two files on one side is ambiguous: those files are reported unmatched.
    """
    def group(paths: Iterable[Path]) -> dict[str, list[Path]]:
        grouped: dict[str, list[Path]] = defaultdict(list)
        for path in paths:
            grouped[pair_key(path.name)].append(path)
        return grouped

    left, right = group(inputs), group(targets)
    pairs, lost_in, lost_tg = [], [], []
    for key in sorted(set(left) | set(right)):
        ins, tgs = left.get(key, []), right.get(key, [])
        if len(ins) == 1 and len(tgs) == 1:
            pairs.append((key, ins[0], tgs[0]))
            continue
        if ins and tgs:  # ambiguous id: fall back to exact stems
            by_stem = {t.stem: t for t in tgs}
            for path in ins:
                if path.stem in by_stem:
                    pairs.append((key, path, by_stem.pop(path.stem)))
                else:
                    lost_in.append(path.name)
            lost_tg.extend(t.name for t in by_stem.values())
        else:
            lost_in.extend(p.name for p in ins)
            lost_tg.extend(p.name for p in tgs)
    return pairs, sorted(lost_in), sorted(lost_tg)
