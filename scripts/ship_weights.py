"""Copy a trained stage-2 run's chosen checkpoint into ``weights/<kind>/``, the weights that ship with ``bno``.

    python -m scripts.ship_weights runs/ps-s2 runs/ps-neurop-s2

The model is reloaded and saved again (deterministic bytes) with its provenance completed from
the run folder: the recipe as resolved, the command, the code version (commit), the dataset's
manifest hash and the stage-1 run it started from, plus its validation score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

import bno
from bno.model import checkpoint_provenance, load_checkpoint, resolve_checkpoint, save_checkpoint


def ship(run: Path) -> Path:
    """Write ``weights/<kind>/`` from ``run``'s best checkpoint; returns the folder."""
    checkpoint = resolve_checkpoint(run)
    model = load_checkpoint(checkpoint)
    info = json.loads((run / "run.json").read_text())
    score = checkpoint / "score.json"
    provenance = {
        **checkpoint_provenance(checkpoint),
        "recipe": yaml.safe_load((run / "config.yaml").read_text()),
        "command": info.get("command"),
        "code": info.get("code"),
        "dataset_manifest_sha256": info.get("dataset_manifest_sha256"),
        "validation_split": info.get("validation_split"),
        "validation": json.loads(score.read_text()) if score.is_file() else None,
    }
    provenance.pop("run", None)  # a path on the training machine
    return save_checkpoint(model, bno.resource_path(f"weights/{model.kind}"), provenance=provenance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="stage-2 run folders (one per model kind)")
    for run in parser.parse_args().runs:
        print(f"{run} -> {ship(run)}")


if __name__ == "__main__":
    main()
