"""Reading a model's strengths as Lightroom slider changes, and writing them as Camera Raw settings.

Stage 1 teaches operator ``c`` that strength ``v = (level_B − level_A)/(N − 1)`` takes an
image from level A to level B of the operator's schedule, so for the linear schedules a
strength ``v`` is a slider *change* of ``v × span`` with ``span = value(N−1) − value(0)``:

| code | span (default schedule) | strength +1 means          |
|------|-------------------------|----------------------------|
| BC   | 200 slider units        | Blacks +200 (clamped ±100) |
| EX   | 4 EV                    | Exposure +4 EV             |
| WB   | 200 mired               | Temperature 200 mired higher (warmer image); Tint as shot |
| VB   | 200 slider units        | Vibrance +200 (clamped ±100) |

The model stores this as ``config.sliders = {code: (−span, +span)}`` (value at v = −1, +1).
Changes are relative to the image the model is given — for raws, our as-shot render — so
the equivalent absolute Lightroom settings are approximate, and more so once stage 2 has
fine-tuned the operators away from their stage-1 meaning.

White balance on a raw is reported as an absolute Temperature (from the raw's as-shot
white, ``T = 10⁶ / (10⁶/T₀ − Δmired)``); on a rendered image as Camera Raw's
``IncrementalTemperature``, taken here as Δmired / 2 (±200 mired ↦ ±100), an
approximation: Adobe does not publish that scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bno.synth.ops import D65_WHITE, OPERATORS, TEMPERATURE_RANGE, WhitePoint, get_operator, mired

from bno.pipelines.edit.xmp import CameraRawSettings

__all__ = [
    "SliderChange",
    "StrengthOverride",
    "camera_raw_settings",
    "check_temperature",
    "describe_changes",
    "parse_overrides",
    "resolve_overrides",
]

#: Camera Raw IncrementalTemperature units per mired (approximate, see the module docstring).
INCREMENTAL_PER_MIRED = 0.5


@dataclass(frozen=True)
class SliderChange:
    """One operator's strength and its slider change (WB: mired, positive = warmer image)."""

    code: str
    strength: float
    change: float

    def describe(self, as_shot: WhitePoint | None) -> str:
        """Human-readable, e.g. ``Exposure +0.85 EV`` or ``Temperature 5600 K (+18 mired)``."""
        op = get_operator(self.code)
        if op.change_unit == "mired":  # Temperature: absolute from a raw's as-shot white, else incremental
            if as_shot is None:
                return f"Temperature {self.change * INCREMENTAL_PER_MIRED:+.0f} (incremental, {self.change:+.0f} mired)"
            return f"Temperature {warmer_temperature(as_shot, self.change):.0f} K / Tint {round(as_shot.tint):+d}"
        unit = " EV" if op.unit == "EV" else ""
        digits = 2 if op.unit == "EV" else 0
        return f"{op.slider} {self.change:+.{digits}f}{unit}"


def warmer_temperature(as_shot: WhitePoint, mired_change: float) -> float:
    """The Temperature (K) ``mired_change`` mired above ``as_shot`` on the WB schedule's scale, clipped."""
    low, high = TEMPERATURE_RANGE
    return float(mired(np.clip(mired(as_shot.temperature) - mired_change, mired(high), mired(low))))


def describe_changes(changes: list[SliderChange], as_shot: WhitePoint | None, approximate: bool) -> str:
    """One line, e.g. ``Blacks −12, Exposure +0.85 EV, …`` (prefixed with ``≈`` when approximate; "" when empty)."""
    text = ", ".join(change.describe(as_shot) for change in changes)
    return f"≈ {text}" if approximate and text else text


def camera_raw_settings(changes: list[SliderChange], as_shot: WhitePoint | None) -> CameraRawSettings:
    """Camera Raw settings for an XMP sidecar: absolute WB for raws (``as_shot`` given), incremental otherwise."""
    values: dict[str, float] = {}
    for change in changes:
        op = get_operator(change.code)
        if op.change_unit != "mired":
            values[op.camera_raw_key] = change.change
        elif as_shot is not None:
            values["Temperature"] = warmer_temperature(as_shot, change.change)
            values["Tint"] = as_shot.tint
        else:
            values["IncrementalTemperature"] = change.change * INCREMENTAL_PER_MIRED
            values["IncrementalTint"] = 0.0
    return CameraRawSettings.from_keys(values)


# --------------------------------------------------------------------------- --set overrides

_OVERRIDE = re.compile(r"^\s*(?P<name>[A-Za-z]\w*(?:-\w+)*)\s*(?P<op>\+=|-=|=)\s*(?P<value>[+-]?(\d+(\.\d*)?|\.\d+))\s*(?P<unit>v?)\s*$")


@dataclass(frozen=True)
class StrengthOverride:
    """``--set`` item: ``code``, ``mode`` "set" or "nudge", ``value`` and whether it is a strength (``v``)."""

    code: str
    mode: str
    value: float
    is_strength: bool


def _valid_names() -> str:
    return ", ".join(f"{op.name} ({op.code})" for op in OPERATORS.values())


def parse_overrides(text: str) -> list[StrengthOverride]:
    """Parse ``exposure=+0.3,vibrance=0,WB+=500,blacks=0.2v``.

    ``=`` sets, ``+=``/``-=`` nudges the predicted value. A trailing ``v`` means strength
    (−1 … 1); otherwise the value is in slider units (EV; Blacks/Vibrance slider units;
    Temperature in K). Raises ``ValueError`` naming the valid operators for unknown names.
    """
    overrides = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _OVERRIDE.match(item)
        if match is None:
            raise ValueError(f"--set item {item!r} must look like NAME=VALUE, NAME+=VALUE or NAME=VALUEv; operators: {_valid_names()}")
        try:
            code = get_operator(match["name"]).code
        except KeyError:
            raise ValueError(f"--set: unknown operator {match['name']!r}; valid: {_valid_names()}") from None
        sign = -1.0 if match["op"] == "-=" else 1.0
        mode = "set" if match["op"] == "=" else "nudge"
        overrides.append(StrengthOverride(code, mode, sign * float(match["value"]), match["unit"] == "v"))
    return overrides


def _strength_shown(v: float) -> str:
    """A strength outside [-1, 1] with 3 significant digits, or 12 where 3 would round it into the range."""
    text = f"{v:+.3g}"
    return text if abs(float(text)) > 1.0 else f"{v:+.12g}"


def check_temperature(kelvin: float) -> None:
    """Refuse a ``--set`` Temperature outside the White balance slider's range (``TEMPERATURE_RANGE``, K)."""
    low, high = TEMPERATURE_RANGE
    if not low <= kelvin <= high:  # NaN fails too
        raise ValueError(f"--set {get_operator('WB').name}: Temperature {kelvin:.12g} K is outside [{low:g}, {high:g}] K")


def resolve_overrides(
    overrides: list[StrengthOverride],
    predicted: Mapping[str, float],
    sliders: Mapping[str, tuple[float, float]],
    as_shot: WhitePoint | None,
) -> dict[str, float]:
    """Turn overrides into strengths ``{code: v}`` given the predicted strengths.

    Slider-unit values need the model's slider mapping; a value the operator cannot reach
    (|v| > 1) is an error naming the valid range in both units.
    """
    strengths: dict[str, float] = {}
    for item in overrides:
        if item.code not in predicted:
            raise ValueError(f"--set: the model has no {item.code} operator (it has {', '.join(predicted)})")
        current = strengths.get(item.code, predicted[item.code])
        if item.is_strength:
            v = item.value if item.mode == "set" else current + item.value
        else:
            if item.code not in sliders:
                raise ValueError(f"--set: this checkpoint has no slider mapping for {item.code}; give a strength like {item.code}=0.2v")
            low, high = sliders[item.code]
            span = (high - low) / 2
            current_change = low + (current + 1.0) * span
            if get_operator(item.code).change_unit == "mired":
                reference = as_shot or D65_WHITE
                current_temperature = warmer_temperature(reference, current_change)
                target = item.value if item.mode == "set" else current_temperature + item.value
                check_temperature(target)
                change = float(mired(reference.temperature) - mired(target))
            else:
                change = item.value if item.mode == "set" else current_change + item.value
            v = (change - low) / span - 1.0
        if not -1.0 - 1e-9 <= v <= 1.0 + 1e-9:
            op = get_operator(item.code)
            low, high = sliders.get(item.code, (-1.0, 1.0))
            unit = op.change_unit
            raise ValueError(
                f"--set {op.name}: strength {_strength_shown(v)} is outside [-1, 1] (slider change [{low:+g}, {high:+g}] {unit})"
            )
        strengths[item.code] = max(-1.0, min(1.0, v))
    return strengths
