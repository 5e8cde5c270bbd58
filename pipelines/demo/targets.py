"""Finding a photo's expert render among the demo's targets by its exact name.

FiveK-style names may hold characters that glob patterns treat specially (``[…]``,
``*``, ``?``): ``a4514-IMG[1]`` used as a pattern matches ``a4514-IMG1`` and not itself.
Names are therefore compared as strings, never used as patterns.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["expert_render"]


def expert_render(targets: Path, stem: str) -> Path | None:
    """The file directly in ``targets`` named exactly ``stem`` plus one suffix (first by name), or ``None``."""
    matches = sorted(path for path in Path(targets).iterdir() if path.is_file() and path.stem == stem)
    return matches[0] if matches else None
