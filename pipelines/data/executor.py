"""Running one task per scene on Dask — a ``LocalCluster`` of single-threaded worker processes,
an existing scheduler, or this process (``workers=0``) — with progress, early stopping on
failures and the job's result.

Shared by ``generate`` and ``pairs``: tasks are pure functions of their arguments that write
their own files and return small dicts (``status``, ``records``, …), never image arrays.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from bno.pipelines.data.manifest import RECORDS_DIR
from bno.pipelines.data.records import failure_record
from bno.files import TEMP_SUFFIX

__all__ = ["WORKER_ENV", "GenerateResult", "clean_temp_files", "default_workers", "execute", "limit_threads"]


def default_workers() -> int:
    """Worker processes for a local cluster: one per CPU core (at least 1)."""
    return max(1, os.cpu_count() or 1)


def limit_threads() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - OpenCV missing is an import error elsewhere
        pass


def clean_temp_files(out: os.PathLike | str, folders: Iterable[str] = ()) -> int:
    """Remove the temp files a killed run left in ``out``; return how many.

    Only :func:`atomic_write_bytes`' own temp files (names ending in :data:`TEMP_SUFFIX`,
    regular files, not symlinks) and only directly in ``out``, ``out/.records`` and
    ``out/<name>`` for each of ``folders`` — never deeper, never a file a user put there
    under another name.
    """
    out = Path(out)
    removed = 0
    for name in (".", RECORDS_DIR, *folders):
        folder = out / name
        if folder.is_symlink() or not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    return removed


class _Progress:
    """tqdm bar on a terminal; a plain line every ``interval`` seconds otherwise."""

    def __init__(self, total: int, label: str, interval: float = 10.0, stream=None):
        self.total, self.label, self.interval = total, label, interval
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = self.last = time.perf_counter()
        self.bar = None
        if total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="scene", file=self.stream, dynamic_ncols=True)

    def update(self, status: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last >= self.interval or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(f"{self.label}: {self.done}/{self.total} scenes, {rate:.2f} scenes/s, ETA {eta:.0f} s", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


#: One thread per worker process: LibRaw (OpenMP), OpenBLAS and MKL would otherwise each start a
#: thread per core in every worker, and N workers on N cores would fight over them.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _open_client(workers: int | None, scheduler: str | None):
    """A Dask client: on ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``), else on a new LocalCluster."""
    from dask.distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return Client(address, timeout="30s"), None
    cluster = LocalCluster(
        n_workers=workers or default_workers(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env=WORKER_ENV,
    )
    return Client(cluster), cluster


def execute(
    function: Callable[..., dict],
    items: Sequence[Any],
    item_args: Callable[[Any], tuple],
    static: Mapping[str, Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    max_failures: int | None = None,
    label: str = "generate",
    progress_interval: float = 10.0,
    retries: int = 2,
) -> tuple[list[dict], bool]:
    """Run ``function(*item_args(item), **static)`` for every item; return (results, stopped_early).

    ``workers=0`` runs in this process without Dask (debugging, benchmarks); otherwise a
    Dask cluster runs one task per item with ``retries``. With ``max_failures`` the run
    stops (remaining tasks cancelled) once that many results have status "failed".
    """
    progress = _Progress(len(items), label, progress_interval)
    results: list[dict] = []
    failed = 0
    stopped = False
    try:
        if workers == 0 and not (scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")):
            for item in items:
                result = function(*item_args(item), **static)
                results.append(result)
                progress.update(result["status"])
                failed += result["status"] == "failed"
                if max_failures is not None and failed >= max_failures and len(results) < len(items):
                    stopped = True
                    break
            return results, stopped
        from dask.distributed import as_completed

        client, cluster = _open_client(workers, scheduler)
        try:
            columns = list(zip(*(item_args(item) for item in items))) if items else []
            futures = client.map(function, *columns, pure=False, retries=retries, **static) if items else []
            position = {future.key: index for index, future in enumerate(futures)}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # e.g. KilledWorker: the task killed every worker it ran on
                    source = Path(str(item_args(items[position[future.key]])[0]))
                    result = failure_record(source.name, source.stem, error, time.perf_counter())
                results.append(result)
                progress.update(result["status"])
                failed += result["status"] == "failed"
                if max_failures is not None and failed >= max_failures and len(results) < len(items):
                    stopped = True
                    client.cancel([f for f in futures if not f.done()])
                    # Tasks that finished meanwhile keep their (complete) scenes: collect them too.
                    have = {r["scene"] for r in results}
                    for other in futures:
                        if other.done() and other.status == "finished":
                            late = other.result()
                            if late["scene"] not in have:
                                results.append(late)
                    break
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        progress.close()
    return _unique(results), stopped


def _unique(results: list[dict]) -> list[dict]:
    """One result per scene (a late duplicate from an early stop is dropped), sorted by scene."""
    seen: dict[str, dict] = {}
    for result in results:
        seen.setdefault(result["scene"], result)
    return [seen[name] for name in sorted(seen)]


@dataclass
class GenerateResult:
    """What a run did (the CLI prints it as a summary table)."""

    out: Path
    scenes: int = 0  #: scenes selected
    ok: int = 0  #: scenes rendered in this run
    skipped: int = 0  #: scenes already complete (checked by hash)
    failures: list[dict] = field(default_factory=list)  #: {source, reason}
    records: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    stopped_early: bool = False
    manifest_sha256: str = ""

    def add(self, results: Iterable[dict[str, Any]]) -> None:
        """Tally task results (``status`` ok / skipped / failed) into counts, records and failures."""
        for item in results:
            if item["status"] == "failed":
                self.failures.append({"source": item["source"], "reason": item["reason"]})
            else:
                self.ok += item["status"] == "ok"
                self.skipped += item["status"] == "skipped"
                self.records.extend(item["records"])

    @property
    def files_per_op(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record["op"]] = counts.get(record["op"], 0) + 1
        return dict(sorted(counts.items()))
