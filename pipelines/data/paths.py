"""Paths read from a dataset stay inside its root, symlinks included.

A record's ``path`` (``manifest.jsonl``) must be

* **lexically safe** — a non-empty string, relative, '/'-separated, without ``..`` or a
  backslash (checked without touching the disk), and
* **inside the root once resolved** — every symlink on the way followed, the file lands
  under the resolved root. A link ``EX/x.png -> /home/me/secret.png`` passes the lexical
  rules but is not part of the dataset.

:class:`DatasetRoot` checks both. It resolves each folder once (a dataset has a few
folders and many files), then only asks whether the file itself is a link, so checking
every record of a large dataset costs about one ``lstat`` per file.

>>> root = DatasetRoot(".")
>>> root.problem("EX/a-0.png") is None, root.problem("../x.png"), root.problem(["a"])
(True, "contains '..'", 'not a non-empty string')
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["DatasetPathError", "DatasetRoot", "lexical_problem"]


class DatasetPathError(ValueError):
    """A dataset path that is unsafe or leads outside the root; ``str()`` is one line naming it."""

    def __init__(self, root: Path, path: Any, reason: str):
        shown = root / path if isinstance(path, str) and path else f"{root}: path {path!r}"
        super().__init__(f"{shown}: {reason}")
        self.root, self.path, self.reason = root, path, reason


def lexical_problem(path: Any) -> str | None:
    """Why ``path`` is not a safe relative dataset path (no disk access), or ``None``."""
    if not isinstance(path, str) or not path:
        return "not a non-empty string"
    if "\\" in path:
        return "contains a backslash"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "absolute"
    if ".." in PurePosixPath(path).parts:
        return "contains '..'"
    return None


def _resolve(path: Path) -> Path:
    """``path.resolve()``; a symlink loop raises ``OSError`` on every Python version."""
    try:
        return path.resolve()
    except RuntimeError as error:  # Python < 3.13 reports a loop as RuntimeError
        raise OSError(str(error)) from None


class DatasetRoot:
    """A dataset folder whose relative paths are checked before anything is opened.

    ``root``: the dataset folder (may itself be a symlink; its target is the root).
    """

    def __init__(self, root: os.PathLike | str) -> None:
        self.root = Path(root)
        self.real = _resolve(self.root)
        self._folders: dict[str, Path | str] = {}  # relative folder -> resolved folder, or why it escapes

    def _folder(self, relative: str) -> Path | str:
        found = self._folders.get(relative)
        if found is None:
            try:
                real = _resolve(self.real / relative)
                found = real if real.is_relative_to(self.real) else f"its folder resolves outside the root (to {real})"
            except OSError as error:
                found = f"its folder cannot be resolved ({error})"
            self._folders[relative] = found
        return found

    def problem(self, path: Any) -> str | None:
        """Why ``path`` may not be read from this dataset (lexical or resolved), or ``None``.

        A missing file is no problem here (the caller reports it as missing); a symlink
        that loops or points outside the resolved root is.
        """
        reason = lexical_problem(path)
        if reason is not None:
            return reason
        pure = PurePosixPath(path)
        folder = self._folder(str(pure.parent))
        if isinstance(folder, str):
            return folder
        candidate = folder / pure.name
        if not candidate.is_symlink():
            return None
        try:
            target = _resolve(candidate)
        except OSError as error:
            return f"symlink cannot be resolved ({error})"
        if not target.is_relative_to(self.real):
            return f"symlink resolves outside the root (to {target})"
        return None

    def path(self, path: Any) -> Path:
        """``root / path`` after :meth:`problem` found nothing; else :class:`DatasetPathError`."""
        reason = self.problem(path)
        if reason is not None:
            raise DatasetPathError(self.root, path, reason)
        return self.root / path
