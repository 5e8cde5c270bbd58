"""The base of the model's config classes: strict, frozen pydantic models (used only inside ``model``).

A config *is* its model's constructor arguments (diffusers-style): it is what a recipe's
``model.bno`` / ``model.neurop`` section holds and what a checkpoint's ``config.json``
stores. Validation is strict — ``true``/``false`` only for booleans, whole numbers for
integers, finite numbers (an int or a float, never a bool or a string) for floats — and
unknown keys are errors. Lists stand for tuples (JSON and YAML have no tuples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError

__all__ = [
    "SLIDERS_HELP",
    "Channels",
    "Code",
    "Codes",
    "ConfigModel",
    "PredictorHeight",
    "Real",
    "SliderSpan",
    "Sliders",
    "describe_error",
    "missing_keys",
]

#: A finite number: an int or a float, never a bool, a string, NaN or ±inf.
Real = Annotated[float, Strict(), Field(allow_inf_nan=False)]
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
#: Strength −1…1 → Lightroom slider value, linear: ``code → (value at −1, value at +1)``.
Sliders = dict[Code, SliderSpan]
SLIDERS_HELP = "code → [slider value at strength −1, at +1]; filled in by stage 1 from the operator schedule"

#: An ordered list of 1…64 distinct operator codes (a list in JSON/YAML).
Codes = Annotated[tuple[Code, ...], Strict(False), Field(min_length=1, max_length=64), AfterValidator(_distinct)]


class ConfigModel(BaseModel):
    """Strict, frozen, closed (unknown keys are errors) pydantic model; floats must be finite."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, validate_default=True)


def describe_error(error: ValidationError, prefix: str = "") -> str:
    """One line for the first problem: ``<prefix>.<key path>: <reason>`` (e.g. ``bilateral.grid_depth: …``)."""
    first = error.errors(include_url=False)[0]
    path = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "value_error":  # raised by a validator: its own words, without "Value error, "
        message = str(first["ctx"]["error"])
    else:
        message = first["msg"].replace("a valid tuple", "a list")
    return f"{path}: {message}" if path else message


def _model_class(annotation: Any) -> type[ConfigModel] | None:
    """The :class:`ConfigModel` subclass an annotation names (through ``Annotated``/``Optional``), else ``None``."""
    if isinstance(annotation, type) and issubclass(annotation, ConfigModel):
        return annotation
    for arg in get_args(annotation) if get_origin(annotation) is not None else ():
        found = _model_class(arg)
        if found is not None:
            return found
    return None


def missing_keys(cls: type[ConfigModel], data: Any, prefix: str = "") -> list[str]:
    """Key paths of ``cls``'s fields (recursively) absent from the plain ``data``.

    A checkpoint's ``config.json`` must spell out every field: a default filled in
    silently could build a different network than the one whose weights are stored.
    """
    if not isinstance(data, Mapping):
        return []
    missing = []
    for name, field in cls.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if name not in data:
            missing.append(path)
            continue
        nested = _model_class(field.annotation)
        if nested is not None:
            missing += missing_keys(nested, data[name], path)
    return missing
