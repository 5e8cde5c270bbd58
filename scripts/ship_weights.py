"""Copy a trained model into ``weights/<kind>/``, the weights that ship with ``bno``.

    python -m scripts.ship_weights runs/ps-s2 runs/ps-neurop-s2          # stage-2 runs (their best)
    python -m scripts.ship_weights runs/ps-s2-ensemble                   # a `bno-train ensemble` checkpoint

The model is reloaded and saved again (deterministic bytes) with its provenance completed from
the run folder(s): the recipe as resolved, the command, the code version (commit), the dataset's
manifest hash and the stage-1 run it started from, plus its validation score. An ensemble
records that for every member run (``ensemble_of``); its top level holds the first member's
recipe and the code that combined them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

import bno
from bno.model import checkpoint_provenance, load_checkpoint, resolve_checkpoint, save_checkpoint


def run_record(run: Path) -> dict[str, Any]:
    """The provenance of ``run``'s best checkpoint, completed from the run folder."""
    checkpoint = resolve_checkpoint(run)
    info = json.loads((run / "run.json").read_text())
    score = checkpoint / "score.json"
    record = {
        **checkpoint_provenance(checkpoint),
        "recipe": yaml.safe_load((run / "config.yaml").read_text()),
        "command": info.get("command"),
        "code": info.get("code"),
        "dataset_manifest_sha256": info.get("dataset_manifest_sha256"),
        "validation_split": info.get("validation_split"),
        "validation": json.loads(score.read_text()) if score.is_file() else None,
    }
    record.pop("run", None)  # a path on the training machine
    return record


def ensemble_record(checkpoint: Path, own: dict[str, Any]) -> dict[str, Any]:
    """The provenance of a ``bno-train ensemble`` checkpoint (its own provenance ``own``):
    every member's :func:`run_record`."""
    members = [run_record(Path(member["run"])) for member in own["ensemble_of"]]
    hashes = {member["dataset_manifest_sha256"] for member in members}
    if len(hashes) != 1:
        raise ValueError(f"{checkpoint}: its members were trained on different datasets ({sorted(hashes)})")
    first = members[0]
    return {
        "stage": first["stage"],
        "recipe": first["recipe"],
        "seeds": [member["recipe"]["seed"] for member in members],
        "dataset_manifest_sha256": first["dataset_manifest_sha256"],
        "validation_split": first["validation_split"],
        "init": first["init"],
        "code": own["code"],
        "ensemble_of": members,
    }


def ship(source: Path) -> Path:
    """Write ``weights/<kind>/`` from a stage-2 run or an ensemble checkpoint; returns the folder."""
    checkpoint = resolve_checkpoint(source)
    model = load_checkpoint(checkpoint)
    own = checkpoint_provenance(checkpoint)
    provenance = ensemble_record(checkpoint, own) if "ensemble_of" in own else run_record(source)
    return save_checkpoint(model, bno.resource_path(f"weights/{model.kind}"), provenance=provenance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="stage-2 run folders or ensemble checkpoints (one per model kind)")
    for source in parser.parse_args().sources:
        print(f"{source} -> {ship(source)}")


if __name__ == "__main__":
    main()
