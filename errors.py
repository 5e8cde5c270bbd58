"""One-line error messages: what every tool prints instead of a traceback.

>>> first_line(ValueError("bad value\\n  more detail"))
'bad value'
>>> first_line(EOFError())
'EOFError'
"""

from __future__ import annotations

__all__ = ["first_line"]


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its type name when the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
