"""Progress of a job made of commands: step k of n, elapsed, an estimate of what is left, and
the running command's own last line of output, while all of its output goes to a log.

* :func:`run_command` runs one command with its stdout and stderr merged into a pipe; a thread
  copies every byte to the log and keeps the last line (:class:`OutputTail`); the caller's
  ``tick`` is called twice a second while the command runs.
* :class:`Clock` estimates the time left from each step's expected duration (its *weight*,
  seconds on 2 idle cores), the fraction of the running step read from its progress bar
  (:func:`step_fraction`) and the pace so far (measured ÷ expected).
* :class:`LiveDisplay` (a terminal: rich redraws an overall bar and the step's last line) and
  :class:`PlainDisplay` (CI, pipes, tests: one line per step, plus a heartbeat line when a step
  runs longer than ``interval`` seconds); :func:`make_display` picks one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, TextIO

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text

__all__ = ["Clock", "Display", "LiveDisplay", "OutputTail", "PlainDisplay", "format_duration", "make_display", "run_command", "step_fraction"]

#: Seconds between calls of ``tick`` while a command runs.
TICK_SECONDS = 0.5
#: Seconds of prior belief in the expected durations: the pace (measured ÷ expected) moves
#: away from 1 only once this much work is measured, so the first seconds do not swing the estimate.
PRIOR_SECONDS = 30.0
#: Longest child line shown by :class:`PlainDisplay` (characters).
PLAIN_LINE_CHARS = 120

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_EPOCH = re.compile(r"epoch (\d+)/(\d+)")
_PERCENT = re.compile(r"(\d{1,3})%\|")
_COUNT = re.compile(r"(\d+)/(\d+)")


def step_fraction(line: str) -> float | None:
    """How far a command is, read from its last line of output (``None``: no progress in it).

    ``stage1 epoch 2/3:  50%|…`` (a tqdm bar per epoch) is 1.5 of 3 epochs; a plain tqdm bar is its
    percentage; ``generate: 7/28 scenes`` is the count.

    >>> step_fraction("stage1 epoch 2/4:  50%|#####     | 30/60 [00:10<00:10]")
    0.375
    >>> step_fraction("generate: 7/28 scenes, 1.2 scenes/s"), step_fraction("audit ok")
    (0.25, None)
    """
    epoch, percent = _EPOCH.search(line), _PERCENT.search(line)
    if epoch and int(epoch.group(2)) > 0:
        done = int(epoch.group(1)) - 1 + (int(percent.group(1)) / 100 if percent else 0.0)
        value = done / int(epoch.group(2))
    elif percent:
        value = int(percent.group(1)) / 100
    elif (count := _COUNT.search(line)) and int(count.group(2)) > 0:
        value = int(count.group(1)) / int(count.group(2))
    else:
        return None
    return min(max(value, 0.0), 1.0)


def format_duration(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above.

    >>> format_duration(75.4), format_duration(3725)
    ('1:15', '1:02:05')
    """
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class OutputTail:
    """The output of one running command: every byte goes to ``log``; the last line is kept.

    Progress bars redraw with carriage returns, so both ``\\r`` and ``\\n`` end a line.
    """

    def __init__(self, log: BinaryIO) -> None:
        self.log = log
        self.last_line = ""
        self.fraction: float | None = None
        self._pending = ""

    def feed(self, chunk: bytes) -> None:
        """Log ``chunk`` and update :attr:`last_line` and :attr:`fraction` from its complete lines."""
        self.log.write(chunk)
        self.log.flush()
        text = self._pending + chunk.decode("utf-8", errors="replace")
        *lines, self._pending = re.split(r"[\r\n]", text)
        for line in lines:
            line = _ANSI.sub("", line).strip()
            if line:
                self.last_line = line
                fraction = step_fraction(line)
                if fraction is not None:
                    self.fraction = fraction


def _pump(stream, tail: OutputTail) -> None:
    """Copy a pipe (an ``io.BufferedReader``) into ``tail`` until the command closes it."""
    while chunk := stream.read1(65536):
        tail.feed(chunk)


def run_command(argv: Sequence[str], log: BinaryIO, tick: Callable[[OutputTail], None],
                cwd: os.PathLike | str | None = None) -> tuple[int, OutputTail]:
    """Run ``argv`` (stdout and stderr to ``log``), calling ``tick(tail)`` while it runs.

    Returns the exit status and the :class:`OutputTail` (its last line names what went wrong).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # print() lines reach the display as they are written
    tail = OutputTail(log)
    with subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env) as process:
        reader = threading.Thread(target=_pump, args=(process.stdout, tail), daemon=True)
        reader.start()
        while True:
            try:
                status = process.wait(timeout=TICK_SECONDS)
                break
            except subprocess.TimeoutExpired:
                tick(tail)
        reader.join()
    tick(tail)
    return status, tail


@dataclass
class Clock:
    """Elapsed time and an estimate of the time left, from each step's expected seconds (``weights``)."""

    weights: list[float]  #: expected seconds of each step on 2 idle cores
    started: float = field(default_factory=time.perf_counter)
    step_started: float = 0.0
    index: int = 0  #: the running step (0-based)
    fraction: float = 0.0  #: how far the running step is

    @property
    def steps(self) -> int:
        return len(self.weights)

    def begin(self, index: int) -> None:
        """Step ``index`` starts now."""
        self.index, self.fraction, self.step_started = index, 0.0, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def step_elapsed(self) -> float:
        return time.perf_counter() - self.step_started

    def done(self) -> float:
        """Expected seconds of the work done so far (finished steps + the running one's fraction)."""
        return sum(self.weights[: self.index]) + self.fraction * self.weights[self.index] if self.weights else 0.0

    def remaining(self) -> float:
        """Seconds left: the expected seconds still to do × the pace so far (measured ÷ expected)."""
        done = self.done()
        pace = (self.elapsed() + PRIOR_SECONDS) / (done + PRIOR_SECONDS)
        return max(0.0, (sum(self.weights) - done) * pace)


class Display(Protocol):
    """What a job tells its user: a step begins, its command makes progress, it ends."""

    def begin(self, index: int, name: str, command: str) -> None: ...

    def tick(self, tail: OutputTail) -> None: ...

    def end(self, index: int, name: str, seconds: float, ok: bool) -> None: ...

    def close(self, ok: bool) -> None: ...


class PlainDisplay:
    """One line per step (``step 3/17 preview · 0:45 elapsed, about 5:10 left · $ command``) for logs.

    A step that runs longer than ``interval`` seconds gets a heartbeat line every ``interval``
    seconds with its progress and last line, so a log is never silent for long.
    """

    def __init__(self, clock: Clock, stream: TextIO | None = None, interval: float = 60.0) -> None:
        self.clock, self.stream, self.interval = clock, stream, interval
        self._name = ""
        self._last_line_at = 0.0

    def _echo(self, text: str) -> None:
        click.echo(text, file=self.stream or sys.stderr)
        self._last_line_at = time.perf_counter()

    def begin(self, index: int, name: str, command: str) -> None:
        self.clock.begin(index)
        self._name = name
        self._echo(f"step {index + 1}/{self.clock.steps} {name} · {format_duration(self.clock.elapsed())} elapsed, "
                   f"about {format_duration(self.clock.remaining())} left · $ {command}")

    def tick(self, tail: OutputTail) -> None:
        self.clock.fraction = tail.fraction or 0.0
        if self.interval > 0 and time.perf_counter() - self._last_line_at >= self.interval:
            line = tail.last_line[:PLAIN_LINE_CHARS]
            self._echo(f"  step {self.clock.index + 1}/{self.clock.steps} {self._name}: {self.clock.fraction:.0%} · "
                       f"{format_duration(self.clock.step_elapsed())} in this step, about {format_duration(self.clock.remaining())} left · {line}")

    def end(self, index: int, name: str, seconds: float, ok: bool) -> None:
        if not ok:
            self._echo(f"step {index + 1}/{self.clock.steps} {name} failed after {format_duration(seconds)}")

    def close(self, ok: bool) -> None:
        if ok:
            self._echo(f"{self.clock.steps} steps done in {format_duration(self.clock.elapsed())}")


class _Times(ProgressColumn):
    """``2:31 elapsed · about 3:50 left`` from the :class:`Clock` (rich's own estimate assumes equal steps)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def render(self, task: Task) -> Text:
        text = Text(f"{format_duration(self.clock.elapsed())} elapsed", style="progress.elapsed")
        return text.append(f" · about {format_duration(self.clock.remaining())} left", style="progress.remaining")


class LiveDisplay:
    """A terminal display redrawn in place: finished steps scroll above an overall bar
    (``step k/n name ━━━━━ 40% 2:31 elapsed · about 3:50 left``) and the running command's last line."""

    def __init__(self, clock: Clock, console: Console) -> None:
        self.clock, self.console = clock, console
        self.progress = Progress(
            TextColumn("[bold]step {task.fields[step]}/{task.fields[steps]}[/] {task.description}"),
            BarColumn(), TaskProgressColumn(), _Times(clock),
            console=console, auto_refresh=False,
        )
        total = sum(clock.weights) or 1.0
        self.task = self.progress.add_task("", total=total, step=0, steps=clock.steps)
        self.status = Text("", style="dim", no_wrap=True, overflow="ellipsis")
        self.live = Live(Group(self.progress, self.status), console=console, refresh_per_second=4, transient=True)
        self.live.start()

    def begin(self, index: int, name: str, command: str) -> None:
        self.clock.begin(index)
        self.status.plain = f"$ {command}"
        self.progress.update(self.task, description=name, step=index + 1, completed=self.clock.done())

    def tick(self, tail: OutputTail) -> None:
        self.clock.fraction = tail.fraction or 0.0
        if tail.last_line:
            self.status.plain = tail.last_line
        self.progress.update(self.task, completed=self.clock.done())

    def end(self, index: int, name: str, seconds: float, ok: bool) -> None:
        mark = "[green]✓[/]" if ok else "[red]✗ failed[/]"
        self.live.console.print(f"{mark} step {index + 1}/{self.clock.steps} {name} [dim]{format_duration(seconds)}[/]")

    def close(self, ok: bool) -> None:
        self.live.stop()
        if ok:
            self.console.print(f"{self.clock.steps} steps done in {format_duration(self.clock.elapsed())}")


def make_display(weights: list[float], stream: TextIO | None = None, interval: float = 60.0) -> Display:
    """A :class:`LiveDisplay` when ``stream`` (default: stderr) is a terminal, else a :class:`PlainDisplay`."""
    clock = Clock(list(weights))
    stream = stream or click.get_text_stream("stderr")
    console = Console(file=stream)
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(clock, console)
    return PlainDisplay(clock, stream, interval)
