"""The Lightroom-equivalent operators: reference semantics, edge values and the registry."""

import numpy as np
import pytest

from bno.synth.ops import OPERATORS, WhitePoint, get_operator
from bno.synth.ops.blacks import black_point, black_ramp, blacks
from bno.synth.ops.exposure import exposure
from bno.synth.ops.vibrance import vibrance
from bno.synth.ops.white_balance import white_balance

AS_SHOT = WhitePoint(4300.0, 6.0)


def _edge_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "black": np.zeros((4, 5, 3), np.float32),
        "white": np.ones((4, 5, 3), np.float32),
        "random": rng.random((6, 7, 3), dtype=np.float32),
        "primaries": np.eye(3, dtype=np.float32)[None],
        "tiny": np.full((2, 2, 3), 1e-30, np.float32),
    }


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("kind", sorted(_edge_images()))
def test_every_level_and_range_end_is_finite(name, kind):
    op = OPERATORS[name]
    image = _edge_images()[kind]
    values = [*op.level_values(21, AS_SHOT), *op.slider_range]
    for value in values:
        out = op.apply(image, value, AS_SHOT)
        assert out.dtype == np.float32 and out.shape == image.shape
        assert np.isfinite(out).all(), f"{name}={value} on {kind}"
        assert (out >= 0).all()


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_identity_value_leaves_image_unchanged(name):
    op = OPERATORS[name]
    image = _edge_images()["random"]
    identity = AS_SHOT.temperature if op.identity is None else op.identity
    np.testing.assert_allclose(op.apply(image, identity, AS_SHOT), image, atol=1e-6)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_n_dimensional_input_is_elementwise(name):
    op = OPERATORS[name]
    image = _edge_images()["random"]
    value = op.level_values(5, AS_SHOT)[3]
    whole = op.apply(image, value, AS_SHOT)
    flat = op.apply(image.reshape(-1, 3), value, AS_SHOT)
    single = np.stack([op.apply(pixel, value, AS_SHOT) for pixel in image.reshape(-1, 3)])
    np.testing.assert_allclose(whole.reshape(-1, 3), flat, rtol=1e-6)
    np.testing.assert_allclose(flat, single, rtol=1e-6, atol=1e-7)


def test_registry_lookup_and_schedules():
    assert {op.code for op in OPERATORS.values()} == {"BC", "EX", "WB", "VB"}
    assert get_operator("EX") is get_operator("exposure") is OPERATORS["exposure"]
    with pytest.raises(KeyError, match="valid: blacks"):
        get_operator("contrast")
    for op in OPERATORS.values():
        values = op.level_values(21, AS_SHOT)
        assert values.shape == (21,) and np.all(np.diff(values) > 0)
        low, high = op.slider_range
        assert low <= values.min() and values.max() <= high
    np.testing.assert_allclose(get_operator("EX").level_values(5), [-2, -1, 0, 1, 2])


def test_out_of_range_value_names_the_range():
    with pytest.raises(ValueError, match=r"outside \[-5, 5\] EV"):
        get_operator("exposure").apply(np.zeros((1, 1, 3), np.float32), 7.0)
    with pytest.raises(ValueError):
        get_operator("vibrance").check_value(float("nan"))


# --- exposure ---------------------------------------------------------------


def test_positive_exposure_is_a_linear_gain():
    x = np.linspace(0, 2, 101, dtype=np.float32)
    np.testing.assert_allclose(exposure(x, 1.5), x * 2**1.5, rtol=1e-6)


@pytest.mark.parametrize("ev", [-0.3, -1.0, -4.0])
def test_negative_exposure_follows_dng_sdk_tone(ev):
    """DNG SDK dng_function_exposure_tone: gain below 1/4, C¹ quadratic to white above."""
    s = 2.0**ev
    x = np.linspace(0, 1, 4001, dtype=np.float32)
    y = exposure(x, ev)
    below = x <= 0.25
    np.testing.assert_allclose(y[below], x[below] * s, rtol=1e-6)
    assert y[-1] == pytest.approx(1.0, abs=1e-6)
    slopes = np.diff(y) / np.diff(x)
    assert np.all(slopes > 0)
    knee = np.searchsorted(x, 0.25)
    assert slopes[knee + 1] == pytest.approx(s, abs=2e-3)  # slope continuous at the knee


# --- blacks -----------------------------------------------------------------


@pytest.mark.parametrize("slider", [-100, -60, -10, -1, 0, 1, 30, 100])
def test_blacks_ramp_continuous_monotonic_white_fixed(slider):
    x = np.linspace(0, 1, 20001, dtype=np.float64)
    y = blacks(x.astype(np.float32), slider).astype(np.float64)
    assert y[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(y) >= -1e-7)
    assert np.max(np.abs(np.diff(y))) < 1e-3  # no jumps: steps bounded by slope × dx
    if slider < 0:
        assert y[0] == 0.0  # crushed
    if slider > 0:
        assert y[0] > 0.0  # lifted


def test_blacks_matches_dng_sdk_ramp_formula():
    b = black_point(-80)
    slope = 1 / (1 - b)
    radius = min(b / 2, (1 / 16) / slope)
    q = slope / (4 * radius)
    for x in [0.0, b - radius, b - radius / 2, b, b + radius / 2, b + radius, 0.5, 1.0]:
        expected = 0.0 if x <= b - radius else q * (x - b + radius) ** 2 if x < b + radius else (x - b) * slope
        assert black_ramp(np.float32(x), b) == pytest.approx(expected, abs=1e-6)


def test_blacks_ramp_is_continuous_in_the_slider():
    x = np.linspace(0, 1, 257, dtype=np.float32)
    for slider in np.linspace(-100, 100, 81):
        delta = np.abs(blacks(x, slider + 0.01) - blacks(x, slider)).max()
        assert delta < 1e-4, slider


# --- white balance ------------------------------------------------------------


def test_white_balance_at_as_shot_is_identity_and_neutral_stays_neutral():
    grey = np.full((2, 2, 3), 0.18, np.float32)
    np.testing.assert_array_equal(white_balance(grey, AS_SHOT.temperature, AS_SHOT.tint, AS_SHOT), grey)
    # rebalancing from W0 to W and back is the identity
    there = white_balance(grey, 6500, 0, AS_SHOT)
    back = white_balance(there, AS_SHOT.temperature, AS_SHOT.tint, WhitePoint(6500, 0))
    np.testing.assert_allclose(back, grey, rtol=1e-5)


def test_raising_temperature_warms_and_tint_turns_magenta():
    grey = np.full((1, 1, 3), 0.18, np.float32)
    previous = None
    for temperature in [3000, 4000, 5000, 6500, 9000, 15000]:
        r, g, b = white_balance(grey, temperature, AS_SHOT.tint, AS_SHOT)[0, 0]
        warmth = r / b
        if previous is not None:
            assert warmth > previous
        previous = warmth
    r, g, b = white_balance(grey, AS_SHOT.temperature, AS_SHOT.tint + 30, AS_SHOT)[0, 0]
    assert g < min(r, b)  # magenta


# --- vibrance -----------------------------------------------------------------


def _saturation(rgb: np.ndarray) -> np.ndarray:
    return (rgb.max(-1) - rgb.min(-1)) / rgb.max(-1)


def test_vibrance_keeps_neutrals():
    greys = np.linspace(0, 1, 11, dtype=np.float32)[:, None].repeat(3, 1)
    for slider in (-100, -30, 40, 100):
        np.testing.assert_allclose(vibrance(greys, slider), greys, atol=1e-7)


@pytest.mark.parametrize("slider", [20, 50, 100])
def test_vibrance_moves_pastels_more_than_saturated_colours(slider):
    pastel = np.array([0.50, 0.45, 0.42], np.float32)
    saturated = np.array([0.50, 0.15, 0.05], np.float32)
    gain = []
    for colour in (pastel, saturated):
        out = vibrance(colour, slider)
        gain.append(_saturation(out) / _saturation(colour))
        assert out.mean() == pytest.approx(colour.mean(), rel=1e-5)  # moves chroma only
    assert gain[0] > gain[1] > 1.0


def test_negative_vibrance_desaturates():
    colour = np.array([0.5, 0.3, 0.2], np.float32)
    assert _saturation(vibrance(colour, -50)) < _saturation(colour)
