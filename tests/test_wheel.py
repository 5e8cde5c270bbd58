"""The built wheel installs one package, ``bno``, and its main commands run outside the checkout.

The wheel is built from the tracked files (``git ls-files``) without network access and
installed into a fresh virtual environment that borrows this interpreter's third-party
packages (``--system-site-packages``); every command then runs from an empty folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bno

ROOT = Path(bno.__file__).resolve().parent


def _run(args: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    source = tmp_path_factory.mktemp("source")
    files = _run(["git", "-C", ROOT, "ls-files", "-z"], ROOT).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", dist], source)
    (built,) = dist.glob("bno-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    env = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--system-site-packages", env], env)
    _run([env / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], env)
    return env


def test_the_wheel_holds_one_top_level_package_and_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"bno", f"{wheel.name.split('-py')[0]}.dist-info"}
    shipped_files = ("bno/data_manifest.yaml", "bno/configs/demo.yaml", "bno/configs/photoset.yaml", "bno/samples/LICENSES.md", "bno/samples/photos.json",
                     "bno/synth/ops/exposure.py", "bno/schema.py", "bno/files.py", "bno/errors.py", "bno/weights/bno/model.safetensors")
    for shipped in shipped_files:
        assert shipped in names
    assert any(name.startswith("bno/samples/raws/") and name.endswith(".dng") for name in names)
    assert not any(name.startswith(("bno/tests/", "bno/scripts/")) for name in names)


def test_installed_commands_run_outside_the_checkout(venv, tmp_path):
    python = venv / "bin" / "python"
    where = _run([python, "-c", "import bno; print(bno.__file__, bno.__version__)"], tmp_path).stdout.split()
    assert Path(where[0]).is_relative_to(venv) and where[1] == "0.1.0"
    _run([venv / "bin" / "bno-synth", "generate", "--op", "exposure", "--limit", "2", "--levels", "3"], tmp_path)
    written = sorted(p.name for p in (tmp_path / "data" / "init" / "EX").iterdir())
    assert len(written) == 2 * 3 and all(name.endswith(".png") for name in written)
    audit = _run([venv / "bin" / "bno-synth", "audit", "data/init", "--json"], tmp_path)  # exit 0: every check clean
    report = json.loads(audit.stdout)
    assert report["ok"] and len(report["checks"]) >= 10 and all(check["ok"] for check in report["checks"])
