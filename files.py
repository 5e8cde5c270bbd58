"""Writing files so that nobody ever sees half of one: the one atomic writer of ``bno``.

Every file the tools write — images, manifests, records, checkpoints, reports, sidecars — goes
through :func:`atomic_write_bytes`: a temporary file in the same folder, then a rename (or, for
``exclusive``, a hard link that never replaces an existing file). A process killed at any moment
leaves the old file or the new one, never a mix, plus at worst a temporary file whose name ends in
:data:`TEMP_SUFFIX` — which is all a cleanup may ever remove.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "atomic_write_bytes"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Mode of written files: what ``open()`` would give (``0o666`` less the umask at import).
_FILE_MODE = 0o666 & ~_current_umask()
#: Name ending of :func:`atomic_write_bytes`'s temporary files (hidden, ``.<…>`` + this). Unique to
#: this tool, so a cleanup after a killed run can match exactly its own leftovers and no user file.
TEMP_SUFFIX = ".bno-tmp"
#: How much of the target's name a temp name repeats (for a person looking at a folder mid-write).
_TEMP_NAME_CHARS = 32


def atomic_write_bytes(path: os.PathLike | str, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    ``exclusive``: create ``path`` only if it does not exist (``FileExistsError`` otherwise), by
    hard-linking the finished temp file to it; where the file system has no hard links, an
    existence check and a rename instead (no longer atomic against another writer).

    The temporary file is named ``.<start of name>.<random>`` + :data:`TEMP_SUFFIX`, at most
    ``_TEMP_NAME_CHARS`` characters of the target's name, so that any target name the file
    system accepts has a temp name it accepts too. It gets the usual file mode (``0o666`` less
    the umask, not ``mkstemp``'s 0600) before it is renamed over ``path``.
    """
    path = Path(path)
    prefix = f".{path.name[:_TEMP_NAME_CHARS]}."
    descriptor, temp_name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temp_name, _FILE_MODE)
        if exclusive:
            _link_new(temp_name, path)
        else:
            os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _link_new(temp_name: str, path: Path) -> None:
    """Publish ``temp_name`` as ``path`` without replacing an existing file, then drop the temp name."""
    try:
        os.link(temp_name, path)
    except FileExistsError:
        raise
    except OSError as error:  # no hard links here (FAT, some network file systems)
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temp_name, path)
        return
    os.unlink(temp_name)
