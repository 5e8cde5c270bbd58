"""``bno-bench``: the benchmark tables of the README, one subcommand per component."""

from __future__ import annotations

import os
import subprocess
import sys

import click

from bno.pipelines.bench.model import model_command
from bno.pipelines.bench.train import main as train_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Speed and memory benchmarks; each prints a table (ratios against a baseline run alongside)."""


@main.command(name="ops", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def ops(ctx: click.Context) -> None:
    """Operators on 500×333 (one thread) and half-size raw decoding; options: see `--help`.

    Runs ``python -m bno.pipelines.bench.ops`` in a fresh process whose BLAS/OpenMP pools have one thread.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    sys.exit(subprocess.call([sys.executable, "-m", "bno.pipelines.bench.ops", *ctx.args], env=env))


@main.command(name="synth", context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def synth(ctx: click.Context) -> None:
    """The Dask synthesis job on 24 MP DNGs (decode once vs naive, 1 vs 2 workers, memory); see `--help`."""
    from bno.pipelines.bench.synth import main as bench_synth

    sys.exit(bench_synth(ctx.args))


main.add_command(model_command, name="model")
main.add_command(train_command, name="train")
