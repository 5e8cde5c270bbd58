"""BNO — Bilateral Neural Operators: learned, interpretable photo retouching.

* :mod:`bno.synth` — raw decoding, colour maths and the Lightroom-equivalent operators (numpy);
* :mod:`bno.model` — the Bilateral Neural Operators network and the exact NeurOp baseline (torch);
* :mod:`bno.pipelines` — data generation and audits, training, evaluation, editing, benchmarks
  and the command-line tools.

Data flows one way: ``pipelines`` imports ``synth`` and ``model``; they import nothing of it.
"""

from importlib import metadata as _metadata
from importlib import resources as _resources
from pathlib import Path as _Path

try:
    __version__ = _metadata.version("bno")
except _metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"


def resource_path(relative: str) -> _Path:
    """A file shipped with the package (``data_manifest.yaml``, ``configs/…``, ``samples/…``).

    The same path in a source checkout (editable install) and in an installed wheel.
    """
    return _Path(str(_resources.files(__name__).joinpath(relative)))


__all__ = ["__version__", "resource_path"]
