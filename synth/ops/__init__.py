"""The registry of Lightroom-equivalent operators.

Each :class:`Operator` pairs a pure function on linear ProPhoto float32 images with
its slider (name, unit, range) and a level schedule: the slider value written at
each level ``0 … N−1`` of a NeurOp-style operator dataset, so that the training
strength ``v = (level_B − level_A)/(N − 1)`` is meaningful.

| code | name          | slider        | unit   | range           | schedule (level 0 → N−1)        | strength +1 | Camera Raw key |
|------|---------------|---------------|--------|-----------------|---------------------------------|-------------|----------------|
| BC   | blacks        | Blacks        | slider | [−100, 100]     | −100 → +100                     | +200        | Blacks2012     |
| EX   | exposure      | Exposure      | EV     | [−5, 5]         | −2 → +2 EV                      | +4 EV       | Exposure2012   |
| WB   | white-balance | Temperature   | K      | [2000, 50000]   | as-shot −100 → +100 mired warmer| 200 mired warmer | Temperature |
| VB   | vibrance      | Vibrance      | slider | [−100, 100]     | −100 → +100                     | +200        | Vibrance       |

The WB schedule is relative to each raw's as-shot white (Temperature moves in
equal mired steps, Tint stays as shot), so level ``k`` means the same *change* in
every scene while the recorded value is the absolute Temperature.

Slider changes are measured on each slider's *change scale* (:attr:`Operator.change_unit`):
the slider value itself for linear sliders, and mired (10⁶/K, positive = warmer image)
for Temperature, whose schedule is linear in mired. Stage 1 teaches that strength
``v = (level_B − level_A)/(N − 1)`` is a change of ``v ×`` :meth:`Operator.strength_span`.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Callable

import numpy as np

from ..temperature import D50_WHITE, WhitePoint
from .blacks import blacks
from .exposure import exposure
from .vibrance import vibrance
from .white_balance import D65_WHITE, white_balance

__all__ = [
    "D50_WHITE",
    "D65_WHITE",
    "OPERATORS",
    "TEMPERATURE_RANGE",
    "WB_SCHEDULE_MIRED",
    "Operator",
    "WhitePoint",
    "get_operator",
    "mired",
    "slider_mapping",
]

#: Mired (10⁶/K) span of the WB schedule on each side of the as-shot temperature.
WB_SCHEDULE_MIRED = 100.0
#: Temperature slider range of Camera Raw for raws, in kelvin.
TEMPERATURE_RANGE = (2000.0, 50000.0)


def mired(temperature: float | np.ndarray) -> np.ndarray:
    """Micro reciprocal degrees, ``10⁶ / T`` (T in kelvin; float64): the scale on which white balance moves evenly.

    >>> float(mired(5000.0))
    200.0
    """
    return 1e6 / np.asarray(temperature, dtype=np.float64)


def _same(values: np.ndarray) -> np.ndarray:
    return values


def _warmer_mired(temperatures: np.ndarray) -> np.ndarray:
    """Temperature (K) → minus mired: an increase is a warmer image, like the slider."""
    return -mired(temperatures)


def _linear_schedule(low: float, high: float) -> Callable[[int, WhitePoint], np.ndarray]:
    def schedule(levels: int, as_shot: WhitePoint) -> np.ndarray:
        return np.linspace(low, high, levels)

    return schedule


def _temperature_schedule(levels: int, as_shot: WhitePoint) -> np.ndarray:
    """Temperatures (K) in equal mired steps from ``as_shot`` − 100 mired (cooler) to + 100 (warmer image)."""
    steps = mired(as_shot.temperature) - np.linspace(-WB_SCHEDULE_MIRED, WB_SCHEDULE_MIRED, levels)
    low, high = TEMPERATURE_RANGE
    return mired(np.clip(steps, mired(high), mired(low)))


def _apply_exposure(image: np.ndarray, value: float, as_shot: WhitePoint) -> np.ndarray:
    return exposure(image, value)


def _apply_blacks(image: np.ndarray, value: float, as_shot: WhitePoint) -> np.ndarray:
    return blacks(image, value)


def _apply_white_balance(image: np.ndarray, value: float, as_shot: WhitePoint) -> np.ndarray:
    return white_balance(image, value, None, as_shot)


def _apply_vibrance(image: np.ndarray, value: float, as_shot: WhitePoint) -> np.ndarray:
    return vibrance(image, value)


@dataclass(frozen=True)
class Operator:
    """A registered operator: its slider, its function and its level schedule."""

    name: str  #: CLI name, e.g. "exposure"
    code: str  #: NeurOp-style folder code, e.g. "EX"
    slider: str  #: Lightroom slider it imitates
    unit: str  #: unit of the slider value
    slider_range: tuple[float, float]  #: valid slider values (inclusive)
    apply_fn: Callable[[np.ndarray, float, WhitePoint], np.ndarray]  #: (image, value, as_shot) -> image
    schedule_fn: Callable[[int, WhitePoint], np.ndarray]  #: (levels, as_shot) -> slider values
    identity: float | None  #: slider value that leaves the image unchanged (None: the as-shot temperature)
    camera_raw_key: str  #: the Camera Raw (XMP ``crs:``) setting of the slider, e.g. "Exposure2012"
    change_unit: str  #: unit of a slider *change* (see :meth:`strength_span`), e.g. "EV" or "mired"
    change_scale: Callable[[np.ndarray], np.ndarray] = _same  #: slider values → the scale changes are measured on
    default_levels: int = 21  #: NeurOp's 21 levels (0 … 20)

    def check_value(self, value: float) -> None:
        """Raise ``ValueError`` naming the valid range if ``value`` is outside the slider range."""
        low, high = self.slider_range
        if not np.isfinite(value) or not low <= value <= high:
            shown = f"{value:g}" if float(f"{value:g}") == value else repr(float(value))  # 5.0000001, not 5
            raise ValueError(f"{self.name} value {shown} is outside [{low:g}, {high:g}] {self.unit}")

    def apply(self, image: np.ndarray, value: float, as_shot: WhitePoint = D65_WHITE) -> np.ndarray:
        """Render linear ProPhoto ``image`` (H, W, 3) float32 at slider ``value``."""
        self.check_value(value)
        return self.apply_fn(image, value, WhitePoint(*as_shot))

    def level_values(self, levels: int | None = None, as_shot: WhitePoint = D65_WHITE) -> np.ndarray:
        """Slider values of levels ``0 … levels−1`` (float64, increasing)."""
        levels = self.default_levels if levels is None else levels
        if levels < 2:
            raise ValueError(f"{self.name}: need at least 2 levels, got {levels}")
        return self.schedule_fn(levels, WhitePoint(*as_shot))

    def strength_span(self, levels: int | None = None) -> float:
        """The slider change (in :attr:`change_unit`) that strength +1 stands for: the schedule's full span.

        The schedules are linear on the change scale, so the span does not depend on the level
        count, nor (for Temperature, in mired) on the as-shot white.

        >>> get_operator("EX").strength_span(), get_operator("WB").strength_span()
        (4.0, 200.0)
        """
        scaled = self.change_scale(self.level_values(levels, D50_WHITE))
        return round(float(scaled[-1] - scaled[0]), 9)


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("blacks", "BC", "Blacks", "slider", (-100.0, 100.0), _apply_blacks, _linear_schedule(-100, 100), 0.0,
                 "Blacks2012", "slider"),
        Operator("exposure", "EX", "Exposure", "EV", (-5.0, 5.0), _apply_exposure, _linear_schedule(-2, 2), 0.0,
                 "Exposure2012", "EV"),
        Operator("white-balance", "WB", "Temperature", "K", TEMPERATURE_RANGE, _apply_white_balance, _temperature_schedule, None,
                 "Temperature", "mired", _warmer_mired),
        Operator("vibrance", "VB", "Vibrance", "slider", (-100.0, 100.0), _apply_vibrance, _linear_schedule(-100, 100), 0.0,
                 "Vibrance", "slider"),
    )
}


def get_operator(name_or_code: str) -> Operator:
    """Look an operator up by name (``"exposure"``) or code (``"EX"``), case-insensitively."""
    key = name_or_code.strip().lower()
    for op in OPERATORS.values():
        if key in (op.name, op.code.lower()):
            return op
    valid = ", ".join(f"{op.name} ({op.code})" for op in OPERATORS.values())
    raise KeyError(f"unknown operator {name_or_code!r}; valid: {valid}")


def slider_mapping(codes: Sequence[str], levels: Mapping[str, int] | None = None) -> dict[str, tuple[float, float]]:
    """``{code: (change at v = −1, change at v = +1)}``: how a model's strengths read as slider changes.

    >>> slider_mapping(["EX", "WB"])
    {'EX': (-4.0, 4.0), 'WB': (-200.0, 200.0)}
    """
    levels = levels or {}
    spans = {code: get_operator(code).strength_span(levels.get(code)) for code in codes}
    return {code: (-span, span) for code, span in spans.items()}
