"""Stage 1: teach each operator its Lightroom slider (the seed's / NeurOp's initialisation).

For every trained operator and every batch item: a pair (A, B) of one training scene at
levels ``l_A``, ``l_B`` and ``v = (l_B − l_A)/(N − 1)``; the loss is
``identity_weight · L(op(A, 0), A) + L(op(A, v), B)`` with ``L`` the recipe's weighted
losses (default L1). Both terms go through the operator as one batch of ``2B``. The
operators are independent, so summing their losses trains each one exactly as alone
(Adam is per-parameter). After each epoch the held-out scenes (test split) give a PSNR
per operator at full resolution over random distinct level pairs (``psnr``, the score is
their mean) and over pairs starting at the middle level (``psnr_neutral``: the operator
applied to an unedited photo), and ``best`` keeps the
highest. The dataset must pass ``bno-synth audit``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bno.model import SequentialRetoucher, build_model
from bno.synth.metrics import psnr
from bno.synth.ops import get_operator, slider_mapping

from bno.pipelines.data.paired import to_tensor
from bno.pipelines.train.config import TrainConfig
from bno.pipelines.train.data import (
    ImageStore,
    OperatorData,
    Stage1Pairs,
    collate_stage1,
    dataset_fingerprint,
    load_operator_data,
    stage1_eval_pairs,
)
from bno.pipelines.train.losses import combined_loss
from bno.pipelines.train.loop import StageSpec

__all__ = ["DatasetRejected", "Stage1Step", "audit_dataset", "build_stage1", "resolve_ops"]


class DatasetRejected(ValueError):
    """A dataset that fails ``bno-synth audit``; the message names the failing checks."""


def audit_dataset(root: str | Path) -> None:
    """Run ``bno-synth audit`` (``bno.pipelines.data.audit.audit``); raise :class:`DatasetRejected` naming failed checks."""
    from bno.pipelines.data.audit import audit

    rows = audit(root)
    failed = [row for row in rows if not row.ok]
    if failed:
        lines = "; ".join(f"{row.name}: {row.summary}" + (f" ({row.details[0]}{' …' if len(row.details) > 1 else ''})" if row.details else "") for row in failed)
        raise DatasetRejected(f"{root} fails `bno-synth audit` — {lines}")


def resolve_ops(config_ops: Sequence[str], selected: Sequence[str] | None) -> tuple[str, ...]:
    """The operator codes to train, in the config's order (``selected`` may use names or codes)."""
    if not selected:
        return tuple(config_ops)
    codes = [get_operator(name).code for name in selected]
    unknown = sorted(set(codes) - set(config_ops))
    if unknown:
        raise ValueError(f"--op {', '.join(unknown)} is not among the config's operators {list(config_ops)}")
    return tuple(code for code in config_ops if code in codes)


class Stage1Step(nn.Module):
    """``forward({op: (A, B, v)}) -> (loss, {"loss/op": loss_op})`` for the trained operators."""

    def __init__(self, operators: nn.ModuleDict, losses: dict[str, float], identity_weight: float) -> None:
        super().__init__()
        self.operators = operators  # shared with the model
        self.losses = dict(losses)
        self.identity_weight = identity_weight

    def forward(self, batch: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
        total = None
        parts = {}
        for code, (a, b, v) in batch.items():
            n = a.shape[0]
            out = self.operators[code](torch.cat([a, a]), torch.cat([torch.zeros_like(v), v]))  # (2B, 3, c, c)
            loss = self.identity_weight * combined_loss(out[:n], a, self.losses) + combined_loss(out[n:], b, self.losses)
            parts[f"loss/{code}"] = loss.detach()
            total = loss if total is None else total + loss
        return total, parts


def _psnr_batch(output: torch.Tensor, target: torch.Tensor) -> list[float]:
    """:func:`bno.synth.metrics.psnr` of each image of two ``(B, 3, H, W)`` batches."""
    pairs = zip(output.float().permute(0, 2, 3, 1).cpu().numpy(), target.float().permute(0, 2, 3, 1).cpu().numpy())
    return [psnr(a, b) for a, b in pairs]


def make_stage1_evaluate(data: OperatorData, ops: Sequence[str], config: TrainConfig, store: ImageStore):
    """Held-out evaluation: per operator, PSNR of ``clamp(op(A, v))`` vs B over fixed test pairs."""
    pairs = stage1_eval_pairs(data, ops, config.stage1.eval_pairs_per_scene, config.seed)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for pair in pairs:
        groups[(pair.op, pair.scene)].append(pair)
    max_side = config.stage1.eval_max_side

    def load(path) -> torch.Tensor:
        image = to_tensor(store.get(path))
        if max_side and max(image.shape[1:]) > max_side:
            scale = max_side / max(image.shape[1:])
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale)))
            image = F.interpolate(image[None], size=size, mode="area")[0]
        return image

    def evaluate(model: SequentialRetoucher, device: torch.device) -> list[dict[str, Any]]:
        # (op, set) → [Σ psnr, Σ L1, Σ psnr of A vs B, count]
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
        for (code, scene), items in sorted(groups.items()):
            paths = data.paths[code][scene]
            n = data.levels[code]
            a = torch.stack([load(paths[p.level_a]) for p in items]).to(device)
            b = torch.stack([load(paths[p.level_b]) for p in items]).to(device)
            v = torch.tensor([(p.level_b - p.level_a) / (n - 1) for p in items], dtype=torch.float32, device=device)
            out = model.operators[code](a, v).float().clamp(0, 1)
            scores, l1, base = _psnr_batch(out, b), (out - b).abs().mean(dim=(1, 2, 3)), _psnr_batch(a, b)
            for i, pair in enumerate(items):
                s = sums[(code, pair.kind)]
                s[0] += scores[i]
                s[1] += float(l1[i])
                s[2] += base[i]
                s[3] += 1
        records = []
        for code in sorted({c for c, _ in sums}):
            s, t = sums[(code, "random")], sums[(code, "neutral")]
            records.append({
                "split": "test", "op": code,
                "psnr": s[0] / s[3], "loss": s[1] / s[3], "psnr_input": s[2] / s[3], "pairs": s[3],
                "psnr_neutral": t[0] / max(t[3], 1), "psnr_input_neutral": t[2] / max(t[3], 1),
            })
        return records

    return evaluate, pairs


def score_stage1(records: list[dict[str, Any]]) -> float | None:
    """Mean held-out PSNR over operators."""
    values = [r["psnr"] for r in records if r.get("op") and np.isfinite(r.get("psnr", np.nan))]
    return float(np.mean(values)) if values else None


def build_stage1(
    config: TrainConfig, data_root: str | Path, ops: Sequence[str] | None = None, check_audit: bool = True
) -> tuple[StageSpec, dict[str, Any]]:
    """Everything stage 1 needs: audited data, the model (seeded init), the loop's spec, run info."""
    root = Path(data_root)
    if check_audit:
        audit_dataset(root)
    codes = resolve_ops(config.model.operators, ops)
    data = load_operator_data(root, codes)
    sliders = slider_mapping(codes, data.levels)  # strength ±1 ↔ the schedule's full slider span
    torch.manual_seed(config.seed)
    model = build_model(config.model.kind, {**config.model.options, "operators": list(codes), "sliders": sliders})
    store = ImageStore(cache=config.cache_images)
    if config.cache_images:
        store.preload([p for code in codes for scene in data.paths[code] for p in data.paths[code][scene].values()])
    s1 = config.stage1
    dataset = Stage1Pairs(data, codes, s1.crop_size, config.seed, store, s1.flips, s1.rot90)
    evaluate, pairs = make_stage1_evaluate(data, codes, config, store)
    if not pairs:
        raise ValueError(f"{root}: no test-split scenes for the held-out PSNR (check the dataset's split)")
    digest = dataset_fingerprint(root)
    spec = StageSpec(
        name="stage1",
        stage=s1,
        model=model,
        step_module=Stage1Step(model.operators, s1.losses, s1.identity_weight),
        dataset=dataset,
        collate=collate_stage1,
        steps_per_epoch=s1.steps_per_epoch,
        images_per_item=2 * len(codes),
        evaluate=evaluate,
        score=score_stage1,
        provenance={"dataset": str(root), "dataset_sha256": digest, "trained_ops": list(codes)},
    )
    info = {
        "stage": "stage1",
        "model": config.model.kind,
        "operators": list(codes),
        "data": str(root.resolve()),
        "dataset_manifest_sha256": digest,
        "levels": data.levels,
        "sliders": {k: list(v) for k, v in sliders.items()},
        "crop": dataset.crop,
        "train_scenes": len(data.scenes("train")),
        "test_scenes": len(data.scenes("test")),
    }
    return spec, info
