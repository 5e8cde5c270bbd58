"""Stage 2: train the whole chain and the strength predictor jointly on expert pairs.

The model is built from the recipe; its operators are copied from a stage-1 run
(``--init``), which must hold every operator the recipe names with the same shapes —
otherwise the run is refused with the difference spelled out. Training data: a
``bno-synth pairs`` dataset (audited when it has a manifest) or a FiveK-Dark/-Lite folder,
paired by id, NeurOp-augmented (crops, flips, rot90). Validation: PSNR (and SSIM) of the
full test images, as NeurOp selects its checkpoint — or, with ``stage2.val_from_train: N``,
of N training pairs held out from training (``stage2.val_ids``: the pairs with those ids, e.g.
every shot of one photo), so the test split stays unseen until ``bno-train evaluate``;
``best`` keeps the highest PSNR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bno.synth.metrics import psnr, ssim
from bno.model import CheckpointError, SequentialRetoucher, build_model, load_checkpoint, resolve_checkpoint, strength_predictors

from bno.pipelines.train.config import TrainConfig
from bno.pipelines.data.paired import load_paired_data, to_tensor
from bno.pipelines.train.data import ImageStore, Stage2Pairs, dataset_fingerprint, steps_for_one_pass
from bno.pipelines.train.losses import combined_loss
from bno.pipelines.train.loop import StageSpec

__all__ = ["Stage2Step", "build_stage2", "init_from_stage1"]


class Stage2Step(nn.Module):
    """``forward((input, target)) -> (loss, {})`` through the whole model."""

    def __init__(self, model: SequentialRetoucher, losses: dict[str, float]) -> None:
        super().__init__()
        self.model = model
        self.losses = dict(losses)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]):
        x, y = batch
        out, _ = self.model(x)
        return combined_loss(out, y, self.losses), {}


def init_from_stage1(model: SequentialRetoucher, init: str | Path) -> dict[str, Any]:
    """Copy the operators (and slider mapping) of a stage-1 checkpoint/run into ``model``.

    Raises :class:`model.CheckpointError` naming missing operators, a different model kind
    or mismatched tensor shapes.
    """
    path = resolve_checkpoint(init)
    source = load_checkpoint(path)
    wanted, have = list(model.order), list(source.order)
    if source.kind != model.kind:
        raise CheckpointError(f"{path}: a {source.kind!r} checkpoint cannot initialise a {model.kind!r} model (--model {source.kind}?)")
    missing = [c for c in wanted if c not in have]
    if missing:
        raise CheckpointError(
            f"{path}: operators do not match the config — the config wants {wanted}, the checkpoint has {have}: "
            f"missing {missing} (train them with `bno-train stage1 --op {' --op '.join(missing)}` or change model.operators)"
        )
    for code in wanted:
        src, dst = source.operators[code].state_dict(), model.operators[code].state_dict()
        diff = [f"{k}: {tuple(src[k].shape)} vs {tuple(dst[k].shape)}" for k in dst if k in src and src[k].shape != dst[k].shape]
        diff += [f"{k}: missing" for k in dst if k not in src] + [f"{k}: unexpected" for k in src if k not in dst]
        if diff:
            raise CheckpointError(f"{path}: operator {code} does not match the config: " + "; ".join(diff[:6]))
        model.operators[code].load_state_dict(src)
    return {"init": str(path), "init_operators": have, "sliders": dict(source.config.sliders)}


Pair = tuple[str, Path, Path]
#: Validation name when there is neither a test split nor a hold-out: training pairs score themselves.
NO_TEST_SPLIT = "train (no test split)"


def split_validation(
    train: list[Pair], test: list[Pair], hold_out: int, seed: int, ids: tuple[str, ...] = ()
) -> tuple[list[Pair], list[Pair], str]:
    """``(train pairs, validation pairs, name)``: the training pairs ``ids``, or ``hold_out`` seeded
    training pairs, held out; else the test split.

    Without a test split and without a hold-out, the training pairs validate themselves.
    Holding out by id keeps every shot of a photo on one side when a dataset has several.
    """
    if ids and hold_out:
        raise ValueError("stage2.val_ids and stage2.val_from_train both hold out training pairs: set one of them")
    if ids:
        known, wanted = [key for key, _, _ in train], set(ids)
        unknown = sorted(wanted - set(known))
        if unknown:
            raise ValueError(f"stage2.val_ids {unknown} are not training pair ids (they are {', '.join(known[:4])}, …)")
        held = {i for i, key in enumerate(known) if key in wanted}
        setting = f"stage2.val_ids ({len(held)} pairs)"
    elif hold_out:
        held = set(np.random.default_rng(seed).permutation(len(train))[:hold_out].tolist())
        setting = f"stage2.val_from_train {hold_out}"
    elif test:
        return train, test, "test"
    else:
        return train, train, NO_TEST_SPLIT
    if len(held) >= len(train):
        raise ValueError(f"{setting} leaves no training pairs (there are {len(train)})")
    kept = [p for i, p in enumerate(train) if i not in held]
    return kept, [p for i, p in enumerate(train) if i in held], f"{len(held)} training pairs held out" + (" by id" if ids else "")


def _score(records: list[dict[str, Any]]) -> float | None:
    values = [r["psnr"] for r in records if r.get("split") in ("test", "val") and "psnr" in r]
    return float(values[0]) if values else None


def build_chain(config: TrainConfig, init: str | Path | None) -> tuple[SequentialRetoucher, dict[str, Any]]:
    """The model stage 2 trains: built from the recipe, its operators (and slider mapping) from stage 1."""
    torch.manual_seed(config.seed)
    options = {**config.model.options, "operators": list(config.model.operators)}
    model = build_model(config.model.kind, options)
    init_info: dict[str, Any] = {"init": None}
    if init is not None:
        init_info = init_from_stage1(model, init)
        if init_info["sliders"]:
            sliders = {k: list(v) for k, v in init_info["sliders"].items() if k in model.order}
            rebuilt = build_model(config.model.kind, {**options, "sliders": sliders})
            rebuilt.load_state_dict(model.state_dict())
            model = rebuilt
    if config.stage2.zero_init_heads:
        with torch.no_grad():
            for predictor in strength_predictors(model.predictor):
                for head in predictor.heads.values():
                    head.weight.zero_()
                    head.bias.zero_()
    return model, init_info


def make_validation(val_items: list[tuple[str, Path, Path]], store: ImageStore, losses: dict[str, float], split: str):
    """``evaluate(model, device)``: mean PSNR, SSIM (:mod:`bno.synth.metrics`) and loss over the validation pairs."""

    def evaluate(model: SequentialRetoucher, device: torch.device) -> list[dict[str, Any]]:
        psnrs, ssims, values = [], [], []
        for _, input_path, target_path in val_items:
            x = to_tensor(store.get(input_path))[None].to(device)
            y = to_tensor(store.get(target_path))[None].to(device)
            out = model(x)[0].float()
            values.append(float(combined_loss(out, y, losses)))
            output, target = (image[0].permute(1, 2, 0).cpu().numpy() for image in (out, y))
            psnrs.append(psnr(output, target))
            ssims.append(ssim(output, target))
        mean = lambda v: float(np.mean(v))  # noqa: E731
        return [{"split": split, "psnr": mean(psnrs), "ssim": mean(ssims), "loss": mean(values), "images": len(val_items)}]

    return evaluate


def build_stage2(
    config: TrainConfig, data_root: str | Path, init: str | Path | None, check_audit: bool = True
) -> tuple[StageSpec, dict[str, Any]]:
    """Everything stage 2 needs: paired data, the model initialised from stage 1, the loop's spec."""
    root = Path(data_root)
    s2 = config.stage2
    if check_audit and (root / "manifest.jsonl").is_file():
        from bno.pipelines.train.stage1 import audit_dataset

        audit_dataset(root)
    data = load_paired_data(root)
    train_items, val_items, val_name = split_validation(data.train, data.test, s2.val_from_train, config.seed, s2.val_ids)
    if not train_items:
        raise ValueError(f"{root}: no trainA/trainB pairs to train on")
    model, init_info = build_chain(config, init)
    store = ImageStore(cache=config.cache_images)
    val_items = val_items[: s2.val_max_images] if s2.val_max_images else val_items
    crop = s2.crop_size
    if config.cache_images:
        store.preload([p for _, a, b in train_items + val_items for p in (a, b)])
        if crop:
            crop = min(crop, min(min(store.get(a).shape[:2]) for _, a, _ in train_items))
    dataset = Stage2Pairs(train_items, crop, config.seed, store, s2.flips, s2.rot90, (s2.jitter_exposure, s2.jitter_temperature))
    steps = s2.steps_per_epoch or steps_for_one_pass(len(train_items), s2.batch_size)
    digest = dataset_fingerprint(root)
    spec = StageSpec(
        name="stage2",
        stage=s2,
        model=model,
        step_module=Stage2Step(model, s2.losses),
        dataset=dataset,
        collate=None,
        steps_per_epoch=steps,
        images_per_item=1,
        evaluate=make_validation(val_items, store, s2.losses, "test" if val_name == "test" else "val"),
        score=_score,
        provenance={
            "dataset": str(root),
            "dataset_sha256": digest,
            "init": init_info["init"],
            "operators_trained": s2.operator_lr_scale > 0,  # False: the stage-1 slider mapping still holds exactly
        },
        lr_scales={"model.operators.": s2.operator_lr_scale},
    )
    info = {
        "stage": "stage2",
        "model": config.model.kind,
        "operators": list(config.model.operators),
        "data": str(root.resolve()),
        "dataset_manifest_sha256": digest,
        "init": init_info["init"],
        "train_pairs": len(train_items),
        "val_pairs": len(val_items),
        "validation_split": val_name,
        "crop": crop,
        "steps_per_epoch": steps,
    }
    return spec, info
