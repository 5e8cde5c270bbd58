"""The house rules of the package layout, checked on the source (ast) and on a fresh interpreter.

* ``bno.synth`` and ``bno.model`` import nothing of the rest of ``bno`` (``model`` not even ``synth``);
* ``bno.pipelines`` holds sub-packages by job and nothing else at its top level;
* data flows one way: ``cli`` → the jobs → ``synth``/``model``; no job imports ``cli``; evaluation
  and editing never import training; ``data`` imports no other job;
* no module imports a private (``_name``) name of another module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bno

ROOT = Path(bno.__file__).resolve().parent
JOBS = ("data", "train", "evaluate", "edit", "bench", "demo")
#: package -> packages it must not import
FORBIDDEN = {
    "bno.synth": ("bno.model", "bno.pipelines"),
    "bno.model": ("bno.synth", "bno.pipelines"),
    **{f"bno.pipelines.{job}": ("bno.pipelines.cli",) for job in JOBS},
    "bno.pipelines.data": ("bno.pipelines.cli", *(f"bno.pipelines.{job}" for job in JOBS if job != "data")),
    "bno.pipelines.train": ("bno.pipelines.cli", "bno.pipelines.evaluate", "bno.pipelines.edit", "bno.pipelines.bench", "bno.pipelines.demo"),
    "bno.pipelines.evaluate": ("bno.pipelines.cli", "bno.pipelines.train", "bno.pipelines.edit", "bno.pipelines.bench", "bno.pipelines.demo"),
    "bno.pipelines.edit": ("bno.pipelines.cli", "bno.pipelines.train", "bno.pipelines.evaluate", "bno.pipelines.bench", "bno.pipelines.demo"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder in ("synth", "model", "pipelines"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(("bno", *parts[:-1])) if parts[-1] == "__init__" else ".".join(("bno", *parts))
            found[name] = path
    return found


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import statement of a module."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, [alias.name for alias in node.names]))
    return out


MODULES = _modules()


def test_pipelines_has_only_job_packages_at_its_top_level():
    top = sorted(p.name for p in (ROOT / "pipelines").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py"]
    packages = sorted(p.name for p in (ROOT / "pipelines").iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted((*JOBS, "cli"))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_flow_one_way(name):
    rules = [banned for prefix, banned in FORBIDDEN.items() if name == prefix or name.startswith(prefix + ".")]
    banned = {module for rule in rules for module in rule}
    for module, names in _imports(name, MODULES[name]):
        targets = [module] + [f"{module}.{n}" for n in names]
        hits = [t for t in targets for b in banned if t == b or t.startswith(b + ".")]
        assert not hits, f"{name} imports {hits[0]}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_names_cross_modules(name):
    for module, names in _imports(name, MODULES[name]):
        package = name if MODULES[name].name == "__init__.py" else name.rsplit(".", 1)[0]
        if not module.startswith("bno.") or module == package:
            continue  # a package may use its own private modules (``from . import _fused_cpu``)
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{name} imports private {private} from {module}"


def test_editing_and_evaluating_do_not_load_training():
    modules = [name for name in MODULES if name.startswith(("bno.pipelines.edit", "bno.pipelines.evaluate")) or name == "bno.pipelines.cli.enhance"]
    code = f"import sys, {', '.join(modules)}; print(sorted(m for m in sys.modules if m.startswith('bno.pipelines.train')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["bno-synth", "bno-synth generate", "bno-synth apply", "bno-train", "bno-train stage1", "bno-enhance", "bno-bench", "bno-demo"])
def test_help_imports_neither_torch_nor_colour_science(command):
    """``--help`` stays fast (well under a second): the work and its heavy libraries load only when a command runs."""
    program, *sub = command.split()
    module = {"bno-synth": "synth", "bno-train": "train", "bno-enhance": "enhance", "bno-bench": "bench", "bno-demo": "demo"}[program]
    code = (
        "import sys\n"
        f"from bno.pipelines.cli.{module} import main\n"
        f"try:\n    main({[*sub, '--help']!r}, prog_name={program!r})\n"
        "except SystemExit as end:\n    assert end.code == 0, end.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'colour', 'cv2', 'dask', 'rawpy'})\n"
        "print(heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_cli_choices_spelt_out_for_speed_match_their_sources():
    from bno.pipelines.cli.enhance import DEFAULT_QUALITY, FORMATS
    from bno.pipelines.cli.generate import FORMAT_CHOICES
    from bno.pipelines.data.manifest import FORMATS as RENDER_FORMATS
    from bno.pipelines.edit.enhance import OUTPUT_FORMATS
    from bno.synth.io import JPEG_QUALITY

    assert FORMATS == OUTPUT_FORMATS and DEFAULT_QUALITY == JPEG_QUALITY
    assert set(FORMAT_CHOICES) == set(RENDER_FORMATS)
