"""Distributed runs: ``dask scheduler`` + two ``dask worker`` processes on 127.0.0.1 give the local bytes;
a task whose worker dies is retried without duplicate records."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import GOOD_SCENES, tree_bytes
from bno.pipelines.data.executor import execute
from bno.pipelines.data.generate import SceneItem, SceneSettings, render_scene
from bno.pipelines.data.manifest import RenderSettings
from bno.pipelines.cli.synth import main

pytestmark = pytest.mark.skipif(shutil.which("dask") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "dask")), reason="dask CLI not installed")

LEVELS = 3


def _dask_cli() -> str:
    local = os.path.join(os.path.dirname(sys.executable), "dask")
    return local if os.path.exists(local) else shutil.which("dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Scheduler address of a ``dask scheduler`` with two single-threaded ``dask worker`` processes."""
    from dask.distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    common = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True, "cwd": folder}
    processes = [subprocess.Popen([_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "dask scheduler did not start"
        for name in ("w1", "w2"):
            processes.append(
                subprocess.Popen(
                    [_dask_cli(), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard", "--name", name, "--local-directory", str(folder / name)],
                    **common,
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.timeout(120)
def test_two_worker_cluster_matches_a_local_run(cluster, good_raws, tmp_path):
    args = ["generate", "--op", "all", "--raws", str(good_raws), "--levels", str(LEVELS)]
    local, remote = tmp_path / "local", tmp_path / "remote"
    assert CliRunner().invoke(main, [*args, "--out", str(local), "--workers", "0"]).exit_code == 0
    result = CliRunner().invoke(main, [*args, "--out", str(remote), "--scheduler", cluster])
    assert result.exit_code == 0, result.output
    assert tree_bytes(remote, skip=()) == tree_bytes(local, skip=())
    # DASK_SCHEDULER_ADDRESS works the same way (and finds everything complete)
    result = CliRunner().invoke(main, [*args, "--out", str(remote)], env={"DASK_SCHEDULER_ADDRESS": cluster})
    assert result.exit_code == 0 and "4 already complete" in result.output


@pytest.mark.timeout(120)
def test_a_task_whose_worker_dies_is_retried_without_duplicates(cluster, good_raws, tmp_path):
    out, markers = tmp_path / "out", tmp_path / "markers"
    markers.mkdir()
    victim = GOOD_SCENES[0][0]

    def dies_once(raw: str, split: str, out: str, settings: SceneSettings, markers: str) -> dict:
        """render_scene, but the first attempt at ``victim`` kills its worker process after writing."""
        result = render_scene(raw, split, out, settings)
        marker = Path(markers) / "died"
        if Path(raw).stem == victim and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker dies mid-task: its nanny restarts it, the scheduler reschedules
        return result

    settings = SceneSettings((("EX", LEVELS), ("VB", LEVELS)), RenderSettings(True, 500, "png8"))
    items = [SceneItem(str(good_raws / f"{name}.dng"), "train") for name, _, _ in GOOD_SCENES]
    results, stopped = execute(dies_once, items, lambda i: (i.raw, i.split), {"out": str(out), "settings": settings, "markers": str(markers)}, scheduler=cluster)
    assert (markers / "died").exists() and not stopped
    assert sorted(r["scene"] for r in results) == sorted(name for name, _, _ in GOOD_SCENES)
    assert all(r["status"] in ("ok", "skipped") for r in results)
    assert next(r for r in results if r["scene"] == victim)["status"] == "skipped"  # the retry found it complete
    paths = [record["path"] for r in results for record in r["records"]]
    assert len(paths) == len(set(paths)) == len(GOOD_SCENES) * 2 * LEVELS
    reference = tmp_path / "reference"
    execute(render_scene, items, lambda i: (i.raw, i.split), {"out": str(reference), "settings": settings}, workers=0)
    assert tree_bytes(out, skip=()) == tree_bytes(reference, skip=())


@pytest.mark.timeout(60)
def test_a_task_that_raises_becomes_a_failure_after_retries(cluster, good_raws, tmp_path):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def raises(raw: str, split: str, attempts: str) -> dict:
        (Path(attempts) / f"{os.getpid()}-{time.monotonic_ns()}").touch()
        raise RuntimeError("boom")

    items = [SceneItem(str(good_raws / f"{GOOD_SCENES[0][0]}.dng"), "train")]
    results, _ = execute(raises, items, lambda i: (i.raw, i.split), {"attempts": str(attempts)}, scheduler=cluster, retries=2)
    assert results == [{**results[0], "scene": GOOD_SCENES[0][0], "source": f"{GOOD_SCENES[0][0]}.dng", "status": "failed"}]
    assert "RuntimeError: boom" in results[0]["reason"]
    assert len(list(attempts.iterdir())) == 3  # the first try and two retries
