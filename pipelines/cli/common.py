"""Shared command-line plumbing of every ``bno-*`` command.

* :func:`report_errors`: bad input is one line (``error: …``) and exit status 2; ``--debug``
  shows the traceback instead;
* :func:`root_options`: ``--version`` and ``--debug``, on each command's root (a group or a
  single command), stored in ``ctx.obj["debug"]``;
* :data:`DEVICE` / :func:`device_option`: ``--device auto|cpu|cuda[:N]`` wherever a model runs.

Kept light: importing it does not import torch, so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import click

from bno.schema import DEVICE_PATTERN

__all__ = ["DEVICE", "EXIT_BAD_INPUT", "OperatorType", "UserError", "device_option", "one_line", "report_errors", "root_options"]

#: Exit status for bad input (missing/unreadable files, out-of-range values).
EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable)


class UserError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message (for a DataLoader worker's re-raise: the original one)."""
    text = str(error.args[0] if isinstance(error, KeyError) and error.args else error).strip()
    if "Original Traceback" in text:  # raised in a DataLoader worker: keep the original message
        text = [line for line in text.splitlines() if line.strip()][-1]
    return text.splitlines()[0] if text else type(error).__name__


def report_errors(function: F | None = None, *, also: tuple[type[BaseException], ...] = ()) -> F:
    """Turn ``ValueError``/``KeyError``/``OSError``/``UserError`` (and ``also``) into ``error: …`` + exit 2.

    With ``--debug`` on the root command (``ctx.obj["debug"]``) the traceback is shown instead.
    Use as ``@report_errors`` or ``@report_errors(also=(RuntimeError,))``.
    """
    if function is None:
        return functools.partial(report_errors, also=also)  # type: ignore[return-value]
    caught = (UserError, ValueError, KeyError, OSError, *also)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except caught as error:
            context = click.get_current_context(silent=True)
            if context is not None and (context.find_root().obj or {}).get("debug"):
                raise
            click.echo(f"error: {one_line(error)}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.ensure_object(dict)["debug"] = bool(value) or bool((ctx.obj or {}).get("debug"))
    return value


def root_options(function: F) -> F:
    """``--version`` and ``--debug`` for a command's root (apply under ``@click.group``/``@click.command``)."""
    function = click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
                            help="Show full tracebacks instead of one-line errors.")(function)
    return click.version_option(package_name="bno", message="%(prog)s (bno) %(version)s")(function)


class DeviceType(click.ParamType):
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (spelling checked here; presence when the model starts)."""

    name = "auto|cpu|cuda[:N]|mps"

    def convert(self, value, param, ctx) -> str:
        spec = str(value).strip().lower()
        if not DEVICE_PATTERN.match(spec):
            self.fail(f"{value!r} is not auto, cpu, cuda, cuda:N or mps", param, ctx)
        return spec


DEVICE = DeviceType()


class OperatorType(click.ParamType):
    """An operator by name or code, any case (``exposure``, ``EX``), or ``all`` where allowed.

    Checked against the :mod:`bno.synth.ops` registry when the value is parsed (``bno-synth
    operators`` lists them), not when the command is defined, so ``--help`` needs no colour maths.
    The value becomes the operator's registry name.
    """

    name = "operator"

    def __init__(self, allow_all: bool = False) -> None:
        self.allow_all = allow_all

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "NAME|CODE" + ("|all" if self.allow_all else "")

    def convert(self, value, param, ctx) -> str:
        if self.allow_all and str(value).strip().lower() == "all":
            return "all"
        from bno.synth.ops import get_operator

        try:
            return get_operator(str(value)).name
        except KeyError as error:
            self.fail(one_line(error), param, ctx)


def device_option(function: F) -> F:
    """``--device auto|cpu|cuda[:N]`` (default ``auto``: CUDA when present, else CPU)."""
    return click.option("--device", type=DEVICE, default="auto", show_default=True,
                        help="Where the model runs: auto (CUDA when present), cpu, cuda or cuda:N.")(function)
