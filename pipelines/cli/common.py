"""Shared command-line plumbing: one-line errors with exit status 2, ``--debug`` tracebacks."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import click

__all__ = ["EXIT_BAD_INPUT", "UserError", "one_line", "report_errors"]

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
