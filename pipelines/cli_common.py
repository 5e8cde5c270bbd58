"""Shared command-line plumbing: one-line errors with exit status 2, ``--debug`` tracebacks."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import click

__all__ = ["EXIT_BAD_INPUT", "UserError", "report_errors"]

#: Exit status for bad input (missing/unreadable files, out-of-range values).
EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable)


class UserError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


def report_errors(function: F) -> F:
    """Turn ``ValueError``/``KeyError``/``OSError``/``UserError`` into ``error: …`` + exit 2.

    With ``--debug`` on the root command (``ctx.obj["debug"]``) the traceback is shown instead.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (UserError, ValueError, KeyError, OSError) as error:
            context = click.get_current_context(silent=True)
            if context is not None and (context.find_root().obj or {}).get("debug"):
                raise
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            click.echo(f"error: {message}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper  # type: ignore[return-value]
