"""Per-scene record files: ``<out>/.records/<scene>.json`` — a scene is complete once its file exists.

A record file lists every file the scene's task wrote (path, sha256, bytes, …) and the
settings fingerprint it was made with. A rerun trusts a scene only when the fingerprint
matches and every listed file still has its sha256; files an earlier run (other settings)
listed and this one does not write are removed. Shared by ``generate`` and ``pairs``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bno.pipelines.data.manifest import RECORDS_DIR, sha256_file
from bno.files import atomic_write_bytes

__all__ = ["failure_record", "load_complete_records", "remove_stale", "write_records"]


def _records_path(out: Path, scene: str) -> Path:
    return out / RECORDS_DIR / f"{scene}.json"


def load_complete_records(out: os.PathLike | str, scene: str, fingerprint: str | None = None) -> list[dict] | None:
    """The scene's records if it is complete, else ``None``.

    Complete: ``<out>/.records/<scene>.json`` exists and parses, its fingerprint equals
    ``fingerprint`` (when given), and every listed file exists with the recorded sha256.
    """
    out = Path(out)
    try:
        document = json.loads(_records_path(out, scene).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if fingerprint is not None and document.get("fingerprint") != fingerprint:
        return None
    records = document.get("records")
    if not isinstance(records, list):
        return None
    for record in records:
        path = out / record["path"]
        try:
            if path.stat().st_size != record["bytes"] or sha256_file(path) != record["sha256"]:
                return None
        except OSError:
            return None
    return records


def _previous_paths(out: Path, scene: str) -> set[str]:
    try:
        document = json.loads(_records_path(out, scene).read_text(encoding="utf-8"))
        return {record["path"] for record in document.get("records", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def write_records(out: Path, scene: str, fingerprint: str, records: list[dict]) -> None:
    """Write a scene's record file (``<out>/.records/<scene>.json``) atomically: the scene is then complete."""
    text = json.dumps({"scene": scene, "fingerprint": fingerprint, "records": records}, sort_keys=True, ensure_ascii=False, indent=1)
    atomic_write_bytes(_records_path(out, scene), text.encode("utf-8"))


def remove_stale(out: Path, scene: str, keep: set[str]) -> None:
    """Delete files a previous run (other settings) listed for this scene and this run does not write."""
    for relative in sorted(_previous_paths(out, scene) - keep):
        if ".." not in Path(relative).parts and not Path(relative).is_absolute():
            (out / relative).unlink(missing_ok=True)


def failure_record(item_source: str, scene: str, error: BaseException, started: float) -> dict[str, Any]:
    """The small record a task returns instead of raising: source, scene, one-line reason, seconds."""
    reason = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    return {"scene": scene, "source": item_source, "status": "failed", "reason": " ".join(str(reason).split()), "records": [], "seconds": time.perf_counter() - started}
