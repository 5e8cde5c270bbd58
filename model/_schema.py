"""The model configs' field types (codes, channel widths, slider spans) on the :mod:`bno.schema` base.

A config *is* its model's constructor arguments (diffusers-style): it is what a recipe's
``model.bno`` / ``model.neurop`` section holds and what a checkpoint's ``config.json``
stores. Validation is strict — ``true``/``false`` only for booleans, whole numbers for
integers, finite numbers (an int or a float, never a bool or a string) for floats — and
unknown keys are errors. Lists stand for tuples (JSON and YAML have no tuples).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict

from bno.schema import Real, Schema

__all__ = [
    "ADDED_LATER",
    "PREDICTOR_MEMBERS_HELP",
    "SLIDERS_HELP",
    "Channels",
    "Code",
    "Codes",
    "ConfigModel",
    "PredictorHeight",
    "PredictorMembers",
    "Real",
    "SliderSpan",
    "Sliders",
]

#: An operator code: a ``nn.ModuleDict`` key (letters, digits, ``_``; no dots), e.g. ``"EX"``.
Code = Annotated[str, Strict(), Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=32)]
#: ``(value at strength −1, value at +1)`` of a slider; a JSON/YAML list of two numbers.
SliderSpan = Annotated[tuple[Real, Real], Strict(False)]


def _distinct(codes: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"operator codes must be distinct, {repeated[0]!r} repeats")
    return codes


#: A layer width: 1 … 1024 channels (bounds keep a mistyped config from allocating terabytes).
Channels = Annotated[int, Strict(), Field(ge=1, le=1024)]
#: The strength predictor's input height, px: ≥ 16 so that the encoder's std over H, W has samples.
PredictorHeight = Annotated[int, Strict(), Field(ge=16, le=4096)]
#: How many strength predictors a model averages (:class:`~bno.model.predictor.StrengthEnsemble`).
PredictorMembers = Annotated[int, Strict(), Field(ge=1, le=64)]
PREDICTOR_MEMBERS_HELP = "strength predictors whose strengths are averaged (1: NeurOp's one; more: `bno-train ensemble` of stage-2 seeds)"
#: Config keys that checkpoints written before the key existed lack; the default rebuilds their network.
ADDED_LATER = frozenset({"predictor_members"})
#: Strength −1…1 → Lightroom slider value, linear: ``code → (value at −1, value at +1)``.
Sliders = dict[Code, SliderSpan]
SLIDERS_HELP = "code → [slider value at strength −1, at +1]; filled in by stage 1 from the operator schedule"

#: An ordered list of 1…64 distinct operator codes (a list in JSON/YAML).
Codes = Annotated[tuple[Code, ...], Strict(False), Field(min_length=1, max_length=64), AfterValidator(_distinct)]


#: The base of the model configs: :class:`bno.schema.Schema` (strict, frozen, closed, finite floats).
ConfigModel = Schema
