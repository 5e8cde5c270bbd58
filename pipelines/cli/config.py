"""``bno-train config``: every key of the training recipe schema, with type, default and meaning.

    bno-train config            # all keys
    bno-train config stage1     # the keys stage 1 reads (shared keys, model, stage1.*)

The listing is generated from :class:`bno.pipelines.train.config.TrainConfig` (the schema
that validates recipes and ``--set`` overrides), so it cannot drift from what is accepted.
"""

from __future__ import annotations

import click

from bno.pipelines.cli.common import report_errors

__all__ = ["config_command", "format_rows"]

STAGES = ("stage1", "stage2")


def format_rows(rows: list, width: int = 0) -> str:
    """An aligned text table of :class:`~bno.pipelines.schema.SchemaRow` (key, type, default, meaning)."""
    header = ("key", "type", "default", "meaning")
    cells = [header] + [(r.path, r.type, r.default, r.meaning) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]))
    return "\n".join(line.rstrip() for line in lines)


@click.command(name="config")
@click.argument("stage", required=False, type=click.Choice(STAGES))
@report_errors
def config_command(stage: str | None) -> None:
    """List every recipe key (for --config files and --set KEY=VALUE): type, default, meaning.

    With STAGE, only the keys that stage reads. Model keys are the model's own config
    (model.bno.* = BNOConfig, model.neurop.* = NeurOpConfig); their chain is model.operators.
    """
    from bno.schema import schema_rows
    from bno.pipelines.train.config import ModelConfig, TrainConfig

    trainer_keys = {f"model.{kind}.{key}" for kind in ("bno", "neurop") for key in ModelConfig.TRAINER_KEYS}
    rows = schema_rows(TrainConfig, skip=trainer_keys)
    if stage is not None:
        rows = [row for row in rows if not any(row.path.startswith(f"{other}.") for other in STAGES if other != stage)]
    click.echo(format_rows(rows))
