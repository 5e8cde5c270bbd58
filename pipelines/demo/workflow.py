"""``bno-demo``: the whole story on the bundled samples, in one command, as one HTML report.

generate every operator → audit → preview → stage-2 pairs → stage 1 and stage 2 for BNO and
for the NeurOp baseline (same budget) → evaluate both and the identity → enhance the test raws
with slider read-outs and XMP sidecars → ``<out>/report.html`` (:mod:`bno.pipelines.demo.story`).

Every step is the public command a user would type (run as ``python -m …`` so PATH does not
matter); its whole output goes to ``<out>/demo.log`` while :mod:`bno.pipelines.demo.progress`
shows step k of n, the elapsed time, an estimate of the time left and the step's last line.

Two budgets (:data:`BUDGETS`): ``full`` (the recipes ``demo.yaml`` / ``demo-neurop.yaml``; 10:08 on
2 idle CPU cores with the 30 bundled LJ92 samples) and ``quick`` (``--quick``: ``demo-quick*.yaml`` and
11 operator levels, a first look; the report says so). The expected seconds of each step
(:func:`expected_seconds`, fitted to the idle full run) weight the estimate of the time left.
"""

from __future__ import annotations

import os
import resource
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import bno

from bno.pipelines.data.fivek import SplitRule, split_of
from bno.pipelines.demo.progress import Display, make_display, run_command

if TYPE_CHECKING:  # the heavy libraries (torch, rawpy, OpenCV) load only when the demo runs: --help stays fast
    from bno.pipelines.train.config import TrainConfig

__all__ = ["BUDGETS", "SAMPLES", "Budget", "Run", "Step", "StepFailed", "expected_seconds", "plan_steps", "run_demo"]

_CONFIGS = bno.resource_path("configs")
SAMPLES = bno.resource_path("samples")
#: Console script of each module the demo runs (see pyproject.toml).
_SCRIPTS = {"bno.pipelines.cli.synth": "bno-synth", "bno.pipelines.cli.train": "bno-train", "bno.pipelines.cli.enhance": "bno-enhance"}
_SYNTH, _TRAIN, _ENHANCE = "bno.pipelines.cli.synth", "bno.pipelines.cli.train", "bno.pipelines.cli.enhance"
MODELS = ("bno", "neurop")


class StepFailed(RuntimeError):
    """A step of the demo exited non-zero; the message names it, its last line and the log."""


@dataclass(frozen=True)
class Budget:
    """How much work the demo does: the training recipes and the operator levels."""

    name: str  #: "full" or "quick"
    recipes: Mapping[str, str]  #: model kind → recipe file in the package's configs/
    levels: int | None  #: ``bno-synth generate --levels`` (None: the declaration's 21)
    summary: str  #: one sentence for the report


BUDGETS: dict[str, Budget] = {
    "full": Budget("full", {"bno": "demo.yaml", "neurop": "demo-neurop.yaml"}, None,
                   "the full demo budget (recipes demo.yaml and demo-neurop.yaml, 21 levels per operator)"),
    "quick": Budget("quick", {"bno": "demo-quick.yaml", "neurop": "demo-quick-neurop.yaml"}, 11,
                    "quick mode (--quick): a first look with a small training budget (recipes demo-quick.yaml and "
                    "demo-quick-neurop.yaml) and 11 levels per operator; the models are far from trained, "
                    "run bno-demo without --quick for the real comparison"),
}

#: Seconds on 2 idle CPU cores, fitted to ``bno-demo`` on the 30 bundled LJ92 samples (20 train, 10 test
#: photos; per-step wall times in that run's report: stage 1 139 s BNO / 331 s NeurOp, stage 2 37 / 46 s);
#: ``--quick`` uses the same rates (idle: 2:46 measured, 3:05 estimated). See :func:`expected_seconds`. They only
#: weight the estimate; the measured pace corrects it.
_START = 2.5  # a command's start: Python, torch, reading its inputs
_PER_SCENE = {"generate": 0.35, "pairs": 0.09}  # per raw (generate: at 21 levels)
#: (model kind, stage) → (fixed seconds: start, data, validation; seconds per training image)
_TRAINING = {("bno", "stage1"): (7.6, 0.091), ("neurop", "stage1"): (11.7, 0.222),
             ("bno", "stage2"): (5.2, 0.065), ("neurop", "stage2"): (5.0, 0.084)}
_PER_TEST_IMAGE = {"evaluate": 0.12, "enhance": 0.35}


@dataclass
class Step:
    """One command of the demo, its expected and its measured seconds."""

    name: str
    argv: Sequence[str] | Callable[[], Sequence[str]]  #: a callable when the arguments depend on earlier steps
    expected: float = 1.0  #: seconds on 2 idle cores (weights the estimate of the time left)
    seconds: float = 0.0  #: measured wall time
    cpu_seconds: float = 0.0  #: measured CPU time (user + system) of the command and its subprocesses

    def resolve(self) -> list[str]:
        """The argument list (computed now for a deferred step)."""
        if callable(self.argv):
            self.argv = list(self.argv())
        return list(self.argv)

    @property
    def command(self) -> str:
        """The command as a user types it (``bno-synth …`` rather than ``python -m bno.pipelines.cli.synth …``)."""
        if callable(self.argv):
            return self.name
        argv = list(self.argv)
        if len(argv) > 2 and argv[1] == "-m" and argv[2] in _SCRIPTS:
            argv = [_SCRIPTS[argv[2]], *argv[3:]]
        return shlex.join(argv)


@dataclass
class Run:
    """What the report needs to know about a finished run besides its files."""

    out: Path
    raws: Path
    targets: Path
    budget: Budget
    steps: list[Step]
    seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)  #: os.getloadavg() when the run started
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    overrides: tuple[str, ...] = field(default_factory=tuple)


def _module_command(module: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _raw_files(raws: Path) -> list[Path]:
    """The camera raws in a folder, by name."""
    from bno.synth.raw import is_raw_path

    return sorted(path for path in raws.iterdir() if is_raw_path(path))


def _scene_counts(raws: Path) -> tuple[int, int]:
    """(train, test) raws in the folder, by FiveK id."""
    splits = [split_of(path.stem, SplitRule()) for path in _raw_files(raws)]
    return sum(s == "train" for s in splits), sum(s == "test" for s in splits)


def expected_seconds(kind: str, scenes: tuple[int, int], config: TrainConfig | None = None, levels: int | None = None) -> float:
    """Expected seconds of a demo step on 2 idle CPU cores: a start-up plus its work.

    ``kind`` is ``generate``/``pairs`` (per raw), ``stage1``/``stage2`` (per training image:
    epochs × steps × batch, by model kind), ``evaluate``/``enhance`` (per test image) or anything
    else (a start-up only). The constants are measured; they only weight the estimate of the time
    left, which the measured pace corrects as the run goes.
    """
    train, test = scenes
    if kind in _PER_SCENE:
        scale = (levels or 21) / 21 if kind == "generate" else 1.0
        return _START + _PER_SCENE[kind] * (train + test) * scale
    if kind in ("stage1", "stage2") and config is not None:
        stage = getattr(config, kind)
        fixed, per_image = _TRAINING[(config.model.kind, kind)]
        return fixed + per_image * stage.epochs * max(stage.steps_per_epoch, 1) * stage.batch_size
    if kind in _PER_TEST_IMAGE:
        return _START + _PER_TEST_IMAGE[kind] * test
    return _START


def _test_raws(raws: Path, pairs: Path) -> list[str]:
    """The raws whose pairs landed in the test split (``pairs/testA``), in name order."""
    by_stem = {path.stem: path for path in _raw_files(raws)}
    return [str(by_stem[path.stem]) for path in sorted((pairs / "testA").glob("*.tif")) if path.stem in by_stem]


def plan_steps(out: Path, raws: Path, targets: Path, budget: Budget, overrides: tuple[str, ...] = ()) -> list[Step]:
    """Every command of the demo, in order, with its expected seconds (the recipes are checked here)."""
    from bno.pipelines.train.config import load_config

    recipes = {kind: _CONFIGS / budget.recipes[kind] for kind in MODELS}
    for recipe in recipes.values():
        if not recipe.is_file():
            raise FileNotFoundError(f"{recipe} not found: the demo's recipes ship with the bno package; reinstall it")
    configs = {kind: load_config(recipe, overrides) for kind, recipe in recipes.items()}  # a bad --set fails here
    scenes = _scene_counts(raws)
    data, runs, enhanced = out / "data", out / "runs", out / "enhanced"
    sets = [arg for item in overrides for arg in ("--set", item)]
    levels = ["--levels", str(budget.levels)] if budget.levels else []
    steps = [
        Step("generate", _module_command(_SYNTH, ["generate", "--op", "all", "--raws", str(raws), "--out", str(data / "init"), *levels]),
             expected_seconds("generate", scenes, levels=budget.levels)),
        Step("audit", _module_command(_SYNTH, ["audit", str(data / "init")]), expected_seconds("audit", scenes)),
        Step("preview", _module_command(_SYNTH, ["preview", str(data / "init")]), expected_seconds("preview", scenes)),
        Step("pairs", _module_command(_SYNTH, ["pairs", "--raws", str(raws), "--targets", str(targets), "--out", str(data / "pairs")]),
             expected_seconds("pairs", scenes)),
    ]
    for kind, recipe in recipes.items():
        s1, s2 = runs / f"{kind}-s1", runs / f"{kind}-s2"
        steps += [
            Step(f"{kind} stage 1", _module_command(_TRAIN, ["stage1", "--data", str(data / "init"), "--out", str(s1), "--config", str(recipe), *sets]),
                 expected_seconds("stage1", scenes, configs[kind])),
            Step(f"{kind} stage 2", _module_command(_TRAIN, ["stage2", "--data", str(data / "pairs"), "--init", str(s1), "--out", str(s2), "--config", str(recipe), *sets]),
                 expected_seconds("stage2", scenes, configs[kind])),
        ]
    for name in ("identity", "neurop", "bno"):
        checkpoint = "identity" if name == "identity" else str(runs / f"{name}-s2")
        args = ["evaluate", "--checkpoint", checkpoint, "--data", str(data / "pairs"), "--out", str(out / "eval" / name), "--json", str(out / "eval" / f"{name}.json")]
        steps.append(Step(f"evaluate {name}", _module_command(_TRAIN, args), expected_seconds("evaluate", scenes)))
    for name in MODELS:
        extra = ["--xmp"] if name == "bno" else []

        def argv(name: str = name, extra: list[str] = extra) -> list[str]:
            return _module_command(_ENHANCE, [*_test_raws(raws, data / "pairs"), "--checkpoint", str(runs / f"{name}-s2"), "--out", str(enhanced / name), *extra])

        steps.append(Step(f"enhance {name}", argv, expected_seconds("enhance", scenes)))
    return steps


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished subprocess so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_step(index: int, step: Step, log, display: Display) -> None:
    """Run one step, its output to ``log``; raise :class:`StepFailed` when it exits non-zero."""
    argv = step.resolve()
    display.begin(index, step.name, step.command)
    log.write(f"\n$ {step.command}\n".encode())
    log.flush()
    started, cpu = time.perf_counter(), _children_cpu()
    status, tail = run_command(argv, log, display.tick, cwd=Path.cwd())
    step.seconds, step.cpu_seconds = time.perf_counter() - started, _children_cpu() - cpu
    display.end(index, step.name, step.seconds, status == 0)
    if status != 0:
        raise StepFailed(f"step '{step.name}' failed (exit {status}): {tail.last_line or 'no output'}; see {log.name}")


def run_demo(out: Path, raws: Path, targets: Path, overrides: tuple[str, ...] = (), quick: bool = False,
             stream: TextIO | None = None, heartbeat: float = 60.0) -> Path:
    """Run every step into ``out`` and write ``out/report.html``; returns the report's path.

    Progress goes to ``stream`` (default: stderr): redrawn in place on a terminal, else one line
    per step and a heartbeat every ``heartbeat`` seconds of a long step.
    """
    from bno.pipelines.demo.story import write_report  # matplotlib and the image codecs: only once the steps ran

    budget = BUDGETS["quick" if quick else "full"]
    steps = plan_steps(out, raws, targets, budget, overrides)
    report_step = Step("report", [], expected_seconds("report", _scene_counts(raws)))
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out, raws, targets, budget, steps, load_before=os.getloadavg(), overrides=overrides)
    display = make_display([step.expected for step in steps] + [report_step.expected], stream, heartbeat)
    started, ok = time.perf_counter(), False
    try:
        with open(out / "demo.log", "wb") as log:
            for index, step in enumerate(steps):
                _run_step(index, step, log, display)
        display.begin(len(steps), report_step.name, f"write {out / 'report.html'}")
        run.seconds, run.load_after = time.perf_counter() - started, os.getloadavg()
        path = write_report(run)
        display.end(len(steps), report_step.name, time.perf_counter() - started - run.seconds, True)
        ok = True
        return path
    finally:
        display.close(ok)

