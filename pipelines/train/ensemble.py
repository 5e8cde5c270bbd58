"""One checkpoint from several stage-2 runs over the same operators: their strength predictors averaged.

Stage 2 trains only the strength predictor when the operators are frozen
(``stage2.operator_lr_scale: 0``), and where it ends depends on the seed: on the photo
benchmark one seed moves either model by up to ~0.8 dB on the test photos. Runs of several
seeds from one stage-1 run share their operators tensor for tensor, so they combine into one
model whose :class:`~bno.model.StrengthEnsemble` averages the members' strengths before each
operator — the mean over seeds instead of one draw (cost: one small encoder pass per member
at 256 px per operator).

    bno-train ensemble runs/ps-s2-seed0 runs/ps-s2-seed1 runs/ps-s2-seed2 --out runs/ps-s2-ensemble
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from bno.model import (
    CheckpointError,
    SequentialRetoucher,
    build_model,
    checkpoint_provenance,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
    strength_predictors,
)
from bno.pipelines.data.provenance import code_version

__all__ = ["ensemble_checkpoints", "ensemble_model"]


def ensemble_model(models: Sequence[SequentialRetoucher], names: Sequence[str] | None = None) -> SequentialRetoucher:
    """A model with the first model's operators and every model's strength predictor(s), averaged.

    The models must be of one kind, with configs equal but for ``predictor_members`` and
    identical operator tensors; otherwise ``CheckpointError`` names the first that differs.
    A model that is an ensemble already brings each of its predictors: every predictor counts once.
    """
    if len(models) < 2:
        raise CheckpointError(f"an ensemble needs at least two checkpoints, got {len(models)}")
    names = list(names or [f"model {i + 1}" for i in range(len(models))])
    first = models[0]
    shared = first.config.model_dump(mode="json", exclude={"predictor_members"})
    operators = first.operators.state_dict()
    for name, model in zip(names[1:], models[1:]):
        if model.kind != first.kind:
            raise CheckpointError(f"{name}: a {model.kind!r} model cannot join {names[0]}'s {first.kind!r} model")
        config = model.config.model_dump(mode="json", exclude={"predictor_members"})
        differ = sorted(key for key in shared if config[key] != shared[key])
        if differ:
            raise CheckpointError(f"{name}: its config differs from {names[0]}'s in {', '.join(differ)}")
        changed = [key for key, value in model.operators.state_dict().items() if not torch.equal(value, operators[key])]
        if changed:
            raise CheckpointError(
                f"{name}: its operators differ from {names[0]}'s ({changed[0]}): an ensemble averages strength "
                "predictors over one set of operators — stage-2 runs from one stage-1 run with stage2.operator_lr_scale 0"
            )
    predictors = [member for model in models for member in strength_predictors(model.predictor)]
    ensemble = build_model(first.kind, {**first.config.model_dump(mode="json"), "predictor_members": len(predictors)})
    ensemble.operators.load_state_dict(operators)
    for target, source in zip(strength_predictors(ensemble.predictor), predictors):
        target.load_state_dict(source.state_dict())
    return ensemble.eval()


def ensemble_checkpoints(sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the ensemble of ``sources`` (run folders mean their best checkpoint) to ``out``.

    Refuses an ``out`` that already holds files, and a checkpoint named twice. Returns ``{"out", "members", "kind"}``;
    the checkpoint's provenance lists every source with its own provenance.
    """
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} already exists and is not an empty folder; choose another --out")
    paths = [resolve_checkpoint(source) for source in sources]
    twice = sorted({str(path) for path in paths if paths.count(path) > 1})
    if twice:
        raise ValueError(f"{twice[0]} is named twice: each run counts once in an ensemble")
    model = ensemble_model([load_checkpoint(path) for path in paths], [str(path) for path in paths])
    provenance = {
        "stage": "stage2 ensemble",
        "code": code_version(),
        "ensemble_of": [{"checkpoint": str(path), **checkpoint_provenance(path)} for path in paths],
    }
    save_checkpoint(model, target, provenance)
    return {"out": str(target), "members": model.config.predictor_members, "kind": model.kind}
