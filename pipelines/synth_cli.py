"""``bno-synth``: synthesise Lightroom-equivalent operator data from camera raws."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from synth.io import write_srgb
from synth.ops import OPERATORS, get_operator
from synth.raw import decode_raw

from .apply_cli import apply

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Decode raws, apply Lightroom-equivalent operators, write and audit training data."""
    ctx.obj = {"debug": debug}


@main.command(name="operators")
def operators() -> None:
    """List the registered operators, their sliders, units, ranges and default schedules."""
    click.echo(f"{'name':<14} {'code':<4} {'slider':<12} {'unit':<7} {'range':<18} levels")
    for op in OPERATORS.values():
        low, high = op.slider_range
        click.echo(f"{op.name:<14} {op.code:<4} {op.slider:<12} {op.unit:<7} {f'[{low:g}, {high:g}]':<18} {op.default_levels}")


main.add_command(apply)

_SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "raws"


@main.command(name="generate")
@click.option("--op", "op_name", default="exposure", show_default=True, type=click.Choice(sorted(OPERATORS)), help="Operator.")
@click.option("--raws", type=click.Path(exists=True, file_okay=False, path_type=Path), default=_SAMPLES, help="Folder of raws.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("data/init"), show_default=True)
@click.option("--levels", default=21, show_default=True, help="Levels of the operator's schedule.")
@click.option("--long-edge", default=500, show_default=True, help="Long edge of the written images, px.")
def generate(op_name: str, raws: Path, out: Path, levels: int, long_edge: int) -> None:
    """Render every raw in RAWS at each level of one operator (sequential first version)."""
    op = get_operator(op_name)
    (out / op.code).mkdir(parents=True, exist_ok=True)
    for raw in tqdm(sorted(raws.glob("*.dng")), unit="scene"):
        decoded = decode_raw(raw, half_size=True, long_edge=long_edge)
        for level, value in enumerate(op.level_values(levels, decoded.as_shot)):
            write_srgb(out / op.code / f"{raw.stem}-{level}.png", op.apply(decoded.image, value, decoded.as_shot))

if __name__ == "__main__":
    main()
