"""Click commands ``generate``, ``audit``, ``pairs`` and ``preview`` of ``bno-synth``.

Defaults come from the declaration (``--manifest``, default: ``./data_manifest.yaml`` or the
project's). Exit status: 0 success; 1 some raws failed (or the audit found problems);
2 bad usage or unreadable input (one-line ``error:`` message, traceback with ``--debug``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import click
from tabulate import tabulate

from bno.pipelines.cli.common import OperatorType, UserError, report_errors

__all__ = ["audit_command", "generate_command", "pairs_command", "preview_command"]

EXIT_FAILURES = 1
#: ``--format`` choices: :data:`bno.pipelines.data.manifest.FORMATS` (spelt out so ``--help`` stays light).
FORMAT_CHOICES = ("png8", "png16", "tiff16")


def _declaration(manifest: str | None, raws: str | None, long_edge: int | None, fmt: str | None):
    from bno.pipelines.data.manifest import check_render, load_declaration, with_overrides

    declaration = load_declaration(manifest)
    if raws is not None:
        declaration = replace(declaration, raws=str(Path(raws)))
    if long_edge is not None:
        declaration = replace(declaration, render=replace(declaration.render, long_edge=None if long_edge == 0 else long_edge))
    declaration = with_overrides(declaration, format=fmt)
    check_render(declaration.render, "options")
    return declaration


def _print_failures(failures: list[dict]) -> None:
    for failure in failures:
        click.echo(f"error: {failure['source']}: {failure['reason']}", err=True)


_common_run_options = [
    click.option("--raws", type=click.Path(file_okay=False), default=None, help="Folder of camera raws (default: the declaration's source.raws, the bundled samples)."),
    click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True, help="Which split of the split rule to render."),
    click.option("--limit", type=click.IntRange(min=0), default=None, help="Render only the first N scenes (by name) of the split."),
    click.option("--long-edge", type=click.IntRange(min=0), default=None, help="Long edge in pixels (0: full decode size; default: declaration)."),
    click.option("--workers", type=click.IntRange(min=0), default=None, help="Local Dask worker processes (default: one per core; 0: in-process, no Dask)."),
    click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", default=None, help="Address of an existing Dask scheduler, e.g. tcp://host:8786 (also DASK_SCHEDULER_ADDRESS); outputs need a shared filesystem."),
    click.option("--max-failures", type=click.IntRange(min=1), default=None, help="Stop early (cancel the remaining scenes) after N failed raws."),
    click.option("--progress-interval", type=float, default=10.0, show_default=True, help="Seconds between plain progress lines when stderr is not a terminal."),
    click.option("--manifest", "manifest", type=click.Path(dir_okay=False, exists=True), default=None, help="Dataset declaration (default: ./data_manifest.yaml, else the project's)."),
]


def _run_options(function):
    for option in reversed(_common_run_options):
        function = option(function)
    return function


@click.command(name="generate")
@click.option("--op", "ops", multiple=True, type=OperatorType(allow_all=True), default=("all",), show_default=True, help="Operator(s) to render (repeatable; name or code, see `bno-synth operators`), or all.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output folder (default: the declaration's output, ./data/init).")
@click.option("--levels", type=click.IntRange(min=2), default=None, help="Levels per operator (default: the declaration's, 21).")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default=None, help="png8/png16: display sRGB; tiff16: linear ProPhoto (default: declaration, png8).")
@_run_options
@report_errors
def generate_command(ops, out, levels, fmt, raws, split, limit, long_edge, workers, scheduler, max_failures, progress_interval, manifest) -> None:
    """Render every requested operator × level of each raw into OUT/<CODE>/<scene>-<level>.<ext>.

    Each raw is decoded once, on a Dask cluster; complete scenes are skipped (checked by
    hash), so rerunning after an interruption finishes the job. Writes OUT/manifest.jsonl
    and OUT/data_manifest.yaml. Exit 1 when some raws failed.
    """
    from bno.pipelines.data.generate import generate
    from bno.synth.ops import OPERATORS

    declaration = _declaration(manifest, raws, long_edge, fmt)
    names = list(OPERATORS) if "all" in ops else list(dict.fromkeys(ops))
    out_dir = Path(out or declaration.output)
    result = generate(
        declaration, names, out_dir, levels=levels, split=split, limit=limit, workers=workers,
        scheduler=scheduler, max_failures=max_failures, progress_interval=progress_interval,
    )
    rows = [(code, count) for code, count in result.files_per_op.items()]
    click.echo(tabulate(rows + [("total", len(result.records))], ("op", "files")))
    rate = (result.ok + result.skipped) / result.seconds if result.seconds > 0 else 0.0
    click.echo(
        f"scenes: {result.scenes} selected, {result.ok} rendered, {result.skipped} already complete, "
        f"{len(result.failures)} failed; {result.seconds:.1f} s wall, {rate:.2f} scenes/s; output {out_dir}"
    )
    _print_failures(result.failures)
    if result.stopped_early:
        click.echo(f"error: stopped after {max_failures} failures (--max-failures)", err=True)
    if result.failures or result.stopped_early:
        sys.exit(EXIT_FAILURES)


@click.command(name="audit")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON (name, ok, summary, details).")
@click.option("--manifest", "manifest", type=click.Path(dir_okay=False, exists=True), default=None, help="Declaration naming the default DIRECTORY (its output).")
@report_errors
def audit_command(directory, as_json, manifest) -> None:
    """Check a dataset (default: the declaration's output): files, hashes, completeness, values, leakage.

    One row per check; each failing row names the files. Exit 0 only when all are clean,
    1 when a check fails, 2 when the folder or its manifest.jsonl cannot be read.
    """
    from bno.pipelines.data.audit import audit
    from bno.pipelines.data.manifest import load_declaration

    root = Path(directory or load_declaration(manifest).output)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    if not (root / "manifest.jsonl").is_file():
        raise UserError(f"{root} has no manifest.jsonl (not a bno-synth dataset?)")
    rows = audit(root)
    if as_json:
        click.echo(json.dumps({"dataset": str(root), "ok": all(r.ok for r in rows), "checks": [r.to_dict() for r in rows]}, indent=1, ensure_ascii=False))
    else:
        click.echo(tabulate([(r.name, "ok" if r.ok else "FAIL", r.summary) for r in rows], ("check", "status", "summary")))
        for row in rows:
            if not row.ok:
                click.echo(f"\n{row.name}:")
                for line in row.details:
                    click.echo(f"  {line}")
    if not all(r.ok for r in rows):
        sys.exit(EXIT_FAILURES)


@click.command(name="pairs")
@click.option("--targets", type=click.Path(file_okay=False), default=None, help="Expert targets: FiveK tiff16_c (16-bit ProPhoto TIFF) or 8-bit sRGB JPEG/PNG (default: declaration, samples/expert).")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output folder for trainA/trainB/testA/testB (default: ./data/pairs).")
@click.option("--index", "index_dir", type=click.Path(file_okay=False, exists=True), default=None, help="Index an existing FiveK-Dark/-Lite folder (trainA/trainB/testA/testB) instead of rendering.")
@click.option("--inputs", type=click.Path(file_okay=False, exists=True), default=None, help="Index this inputs folder against --targets instead of rendering.")
@click.option("--index-file", type=click.Path(dir_okay=False), default=None, help="Where to write pairs.jsonl (default: DIR/pairs.jsonl for --index, ./pairs.jsonl for --inputs).")
@click.option("--strict", is_flag=True, help="Exit 1 when files are left unmatched.")
@_run_options
@report_errors
def pairs_command(targets, out, index_dir, inputs, index_file, strict, raws, split, limit, long_edge, workers, scheduler, max_failures, progress_interval, manifest) -> None:
    """Stage-2 pairs: render raws + expert targets in the FiveK-Dark layout, or index existing pairs.

    Files are matched by FiveK id / scene name, never by sorted order; unmatched files
    are reported on both sides.
    """
    from bno.pipelines.data.pairs import index_layout, index_pairs, make_pairs, write_index

    declaration = _declaration(manifest, raws, long_edge, None)
    if index_dir is not None or inputs is not None:
        if index_dir is not None:
            destination = Path(index_file or Path(index_dir) / "pairs.jsonl")
            found = index_layout(index_dir, destination.parent)
        else:
            if targets is None:
                raise UserError("--inputs needs --targets")
            destination = Path(index_file or "pairs.jsonl")
            found = index_pairs(inputs, targets, destination.parent, None, declaration)
        write_index(found, destination)
        click.echo(f"{len(found.pairs)} pairs -> {destination}; unmatched: {len(found.unmatched_inputs)} inputs, {len(found.unmatched_targets)} targets")
        for name in found.unmatched_inputs:
            click.echo(f"warning: unmatched input {name}", err=True)
        for name in found.unmatched_targets:
            click.echo(f"warning: unmatched target {name}", err=True)
        if strict and (found.unmatched_inputs or found.unmatched_targets):
            sys.exit(EXIT_FAILURES)
        return
    targets = targets or declaration.pairs_targets
    if targets is None:
        raise UserError("no --targets given and the declaration names no pairs.targets")
    out_dir = Path(out or declaration.pairs_output)
    result = make_pairs(declaration, targets, out_dir, split=split, limit=limit, workers=workers, scheduler=scheduler, max_failures=max_failures, progress_interval=progress_interval)
    per_split: dict[str, int] = {}
    for record in result.records:
        if record["role"] == "input":
            per_split[record["split"]] = per_split.get(record["split"], 0) + 1
    click.echo(tabulate(sorted(per_split.items()), ("split", "pairs")))
    click.echo(
        f"scenes: {result.scenes} matched, {result.ok} rendered, {result.skipped} already complete, {len(result.failures)} failed; "
        f"unmatched: {len(result.unmatched_raws)} raws, {len(result.unmatched_targets)} targets; {result.seconds:.1f} s; output {out_dir}"
    )
    for name in result.unmatched_raws:
        click.echo(f"warning: raw without a target: {name}", err=True)
    for name in result.unmatched_targets:
        click.echo(f"warning: target without a raw: {name}", err=True)
    _print_failures(result.failures)
    if result.failures or result.stopped_early or (strict and (result.unmatched_raws or result.unmatched_targets)):
        sys.exit(EXIT_FAILURES)


@click.command(name="preview")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--scenes", type=click.IntRange(min=1), default=4, show_default=True, help="Scenes (rows) per sheet.")
@click.option("--columns", type=click.IntRange(min=1), default=7, show_default=True, help="Levels (columns) per scene, spread over the schedule.")
@click.option("--tile-height", type=click.IntRange(min=16), default=96, show_default=True, help="Height of each tile in pixels.")
@report_errors
def preview_command(directory, scenes, columns, tile_height) -> None:
    """Write DIRECTORY/preview/<CODE>.png: a contact sheet per operator (levels of a few scenes side by side)."""
    from bno.pipelines.data.preview import write_previews

    for path in write_previews(directory, scenes, columns, tile_height):
        click.echo(str(path))
