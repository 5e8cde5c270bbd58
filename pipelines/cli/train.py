"""``bno-train``: stage 1 (operators alone), stage 2 (the whole chain) and evaluation.

    bno-train stage1 --data data/init --out runs/s1 --config configs/quick.yaml
    bno-train stage2 --data data/pairs --init runs/s1 --out runs/s2 --config configs/quick.yaml
    bno-train evaluate --checkpoint runs/s2 --data data/pairs --json runs/s2/eval.json
    bno-train stage2 --resume runs/s2                      # continue a killed run
    bno-train ensemble runs/s2-seed0 runs/s2-seed1 --out runs/s2-ens   # average stage-2 seeds' predictors
    torchrun --nproc_per_node 4 -m bno.pipelines.cli.train stage2 …   # DDP on 4 GPUs

A run directory is accepted wherever a checkpoint is (it means the run's best).
Errors are one line (``--debug`` shows tracebacks); exit status 2 for bad input.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from bno.pipelines.cli.common import DEVICE, UserError, report_errors, root_options
from bno.pipelines.cli.config import config_command
from bno.pipelines.cli.compare import compare

__all__ = ["main"]

CONFIG_HELP = "Recipe YAML (see configs/); defaults when omitted."
SET_HELP = "Override a config value, e.g. --set stage1.lr=1e-3 (repeatable; every key: bno-train config)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@root_options
def main() -> None:
    """Train and evaluate Bilateral Neural Operators (and the NeurOp baseline)."""


def _config(config: str | None, model: str | None, overrides: tuple[str, ...], resume: str | None):
    from bno.pipelines.train import RunDir, load_config

    sets = list(overrides) + ([f"model.kind={model}"] if model else [])
    if resume:
        if config:
            raise UserError("--resume reads the run's own config.yaml; use --set to change values")
        return RunDir(resume).config(sets)
    return load_config(config, sets)


def _summary_stage1(summary: dict[str, Any]) -> str:
    records = [r for r in summary.get("records", []) if r.get("split") == "test" and r.get("op")]
    rows = [(r["op"], r["psnr"], r["psnr_input"], r["psnr_neutral"], r["psnr_input_neutral"]) for r in records]
    header = ("operator", "held-out PSNR, random pairs (dB)", "A vs B", "from the middle level (dB)", "A vs B")
    return tabulate(rows, header, tablefmt="github", floatfmt=".2f")


def _summary_stage2(summary: dict[str, Any]) -> str:
    records = [r for r in summary.get("records", []) if r.get("split") in ("test", "val")]
    if not records:
        return ""
    from bno.pipelines.train.stage2 import NO_TEST_SPLIT

    r = records[0]
    validation = summary.get("info", {}).get("validation_split")
    where = "test split" if r["split"] == "test" else "training pairs, no test split" if validation == NO_TEST_SPLIT else "held-out training pairs"
    return f"validation ({where}): PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f} on {r['images']} images"


def _run(stage: str, *, data, out, config, model, overrides, device, resume, ops=None, init=None, skip_audit=False, stop_after=None):
    from bno.pipelines.train import run_stage
    from bno.pipelines.train.distributed import from_env, shutdown

    if not resume and (data is None or out is None):
        raise UserError("--data and --out are required (or --resume RUN_DIR)")
    cfg = _config(config, model, (*overrides, *([f"device={device}"] if device else [])), resume)
    ctx = from_env()
    started = time.perf_counter()
    try:
        summary = run_stage(
            stage,
            cfg,
            resume or out,
            data=data,
            ops=ops or None,
            init=init,
            resume=bool(resume),
            ctx=ctx,
            check_audit=not skip_audit,
            stop_after_steps=stop_after,
        )
    finally:
        shutdown(ctx)
    if not ctx.main:
        return
    if summary.get("stopped_early"):
        click.echo(f"stopped after {summary['global_step']} steps; resume with: bno-train {stage} --resume {resume or out}")
        return
    click.echo(_summary_stage1(summary) if stage == "stage1" else _summary_stage2(summary))
    best = summary.get("best_score")
    click.echo(
        f"{stage} done in {time.perf_counter() - started:.0f} s on {summary['device']}: best score "
        f"{best:.2f} dB at epoch {summary['best_epoch']}; run {summary['run']}" if best is not None else f"{stage} done; run {summary['run']}"
    )


_common = [
    click.option("--config", "config", type=click.Path(exists=True, dir_okay=False), help=CONFIG_HELP),
    click.option("--model", type=click.Choice(["bno", "neurop"]), default=None, help="Model kind (overrides model.kind)."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP),
    click.option("--device", type=DEVICE, default=None, help="Where to train: auto, cpu, cuda or cuda:N (overrides the recipe's device)."),
    click.option("--resume", type=click.Path(exists=True, file_okay=False), help="Continue the run in this directory from its last checkpoint."),
    click.option("--skip-audit", is_flag=True, help="Do not run `bno-synth audit` on the dataset first (not recommended)."),
    click.option("--stop-after-steps", "stop_after", type=int, default=None, hidden=True, help="End after N steps (tests)."),
]


def _with_common(function):
    for option in reversed(_common):
        function = option(function)
    return function


@main.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Operator dataset (bno-synth generate) with manifest.jsonl.")
@click.option("--out", type=click.Path(file_okay=False), help="New run directory.")
@click.option("--op", "ops", multiple=True, help="Train only this operator (code or name; repeatable). Default: all of model.operators.")
@_with_common
@report_errors(also=(RuntimeError,))  # TrainingError (NaN loss, OOM, bad data) is a RuntimeError
def stage1(data, out, ops, config, model, overrides, device, resume, skip_audit, stop_after) -> None:
    """Teach each operator its slider on (A, B) pairs of an operator dataset.

    Every recipe key, its type, default and meaning: bno-train config stage1
    """
    _run("stage1", data=data, out=out, config=config, model=model, overrides=overrides, device=device, resume=resume, ops=ops, skip_audit=skip_audit, stop_after=stop_after)


@main.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False), help="Paired data: bno-synth pairs output or a FiveK-Dark/-Lite folder.")
@click.option("--init", type=click.Path(exists=True), default=None, help="Stage-1 run directory or checkpoint whose operators start the chain.")
@click.option("--out", type=click.Path(file_okay=False), help="New run directory.")
@_with_common
@report_errors(also=(RuntimeError,))  # TrainingError (NaN loss, OOM, bad data) is a RuntimeError
def stage2(data, init, out, config, model, overrides, device, resume, skip_audit, stop_after) -> None:
    """Train the whole chain and the strength predictor on expert pairs.

    Every recipe key, its type, default and meaning: bno-train config stage2
    """
    if init is None and not resume:
        click.echo("notice: no --init: the operators start untrained (stage 1 skipped)", err=True)
    _run("stage2", data=data, out=out, config=config, model=model, overrides=overrides, device=device, resume=resume, init=init, skip_audit=skip_audit, stop_after=stop_after)


@main.command(name="evaluate")
@click.option("--checkpoint", required=True, help="Checkpoint dir/file or run directory (its best); 'identity' scores the inputs themselves.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Paired folder (testA/testB …).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the summary row here.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Folder for per_image.csv, summary.json, strips/ [default: <run>/eval/<data>-<split>, + '-fitted' with --fit-strengths].")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True, help="Which split to score.")
@click.option("--strips", type=int, default=2, show_default=True, help="Comparison strips for this many best and worst images.")
@click.option("--device", type=DEVICE, default="auto", show_default=True, help="Where the model runs: auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--limit", type=int, default=0, show_default=True, help="Score only the first N pairs (0 = all).")
@click.option("--no-lpips", is_flag=True, help="Skip LPIPS even when its weights are present.")
@click.option("--fit-strengths", "fit", is_flag=True,
              help="Score per-image strengths fitted to the target (weights frozen): the chain's ceiling; "
                   "the CSV lists fitted and predicted strengths.")
@report_errors(also=(RuntimeError,))  # TrainingError (NaN loss, OOM, bad data) is a RuntimeError
def evaluate_command(checkpoint, data, json_path, out, split, strips, device, limit, no_lpips, fit) -> None:
    """PSNR, SSIM, ΔE76, ΔE2000 (+ LPIPS) per image, a summary table and comparison strips.

    With --fit-strengths the strengths are fitted to each target instead of predicted, which
    separates what the operators cannot do from what the strength predictor got wrong.
    """
    from bno.pipelines.evaluate.evaluation import evaluate, format_table

    identity = checkpoint == "identity"
    if out is None:
        base = Path("eval-identity") if identity else Path(checkpoint)
        if not identity and not base.is_dir():
            base = base.parent
        out = base / "eval" / f"{Path(data).resolve().name}-{split}{'-fitted' if fit else ''}"
    summary = evaluate(
        None if identity else checkpoint, data, out, split=split, strips=strips, device=device,
        use_lpips=not no_lpips, limit=limit, fit=fit, log=lambda m: click.echo(m, err=True),
    )
    name = "identity" if identity else Path(checkpoint).name + (" (fitted strengths)" if fit else "")
    click.echo(format_table({name: summary}))
    gaps = {key.removeprefix("strength_gap_"): value for key, value in summary.items() if key.startswith("strength_gap_")}
    if gaps:
        click.echo("mean |fitted − predicted| strength: " + ", ".join(f"{code} {gap:.2f}" for code, gap in gaps.items()))
        costs = {code: summary[f"cost_of_predicting_{code}"] for code in gaps}
        click.echo("PSNR lost by predicting one strength, the others fitted: " + ", ".join(f"{code} {cost:.2f} dB" for code, cost in costs.items()))
        click.echo(f"fitted vs predicted strengths: {summary['strength_plot']}")
    click.echo(f"per-image metrics: {summary['per_image_csv']}; strips: {Path(out) / 'strips'}")
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


@main.command(name="ensemble")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="New checkpoint folder (must not hold files).")
@report_errors
def ensemble_command(runs, out) -> None:
    """Average the strength predictors of stage-2 RUNS (seeds over one stage-1 run) into one checkpoint."""
    from bno.pipelines.train.ensemble import ensemble_checkpoints

    result = ensemble_checkpoints(runs, out)
    click.echo(f"{result['kind']} ensemble of {result['members']} strength predictors over one set of operators: {result['out']}")


main.add_command(config_command)  # bno-train config [stage1|stage2]: every recipe key
main.add_command(compare)  # bno-train compare EVAL_A EVAL_B: paired bootstrap of two evaluations

if __name__ == "__main__":
    main()
