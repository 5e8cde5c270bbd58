"""Where a dataset or a run came from: package versions and the git state of the source tree.

One reader for both the dataset manifest (:mod:`bno.pipelines.data.manifest`) and the run
directories (:mod:`bno.pipelines.train.runs`). Outside a git checkout (an installed wheel)
the git fields are ``None``.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

import bno

__all__ = ["git_state", "package_version", "code_version"]


def package_version(distribution: str) -> str | None:
    """The installed version of a distribution (``"bno"``, ``"colour-science"`` …), or ``None``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> subprocess.CompletedProcess | None:
    root = bno.resource_path("")
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None


def git_state() -> dict[str, Any]:
    """``{"git_commit": sha or None, "git_dirty": bool or None}`` of the tree ``bno`` is imported from.

    ``git_dirty`` is true when tracked files differ from the commit (untracked files ignored).
    """
    head = _git("rev-parse", "--show-toplevel", "HEAD")
    lines = head.stdout.split() if head is not None and head.returncode == 0 else []
    # Only a repository whose top level is bno's own folder counts (not a project that vendors it).
    if len(lines) != 2 or lines[0] != str(bno.resource_path("").resolve()):
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = bool(status.stdout.strip()) if status is not None and status.returncode == 0 else None
    return {"git_commit": lines[1], "git_dirty": dirty}


def code_version() -> dict[str, Any]:
    """bno version, Python version and the git state (for ``run.json`` and dataset manifests)."""
    return {"bno": package_version("bno"), "python": platform.python_version(), **git_state()}
