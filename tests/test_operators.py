"""The Lightroom-equivalent operators: reference semantics, edge values and the registry."""

import colour
import numpy as np
import pytest

from references import ADOBE_TEMPERATURE_TINT_XY, LINDBLOOM_D50_XYZ, LINDBLOOM_PROPHOTO_TO_XYZ, XYZ_of_xy
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
    """One stop doubles the light (LibRaw exp_shift=2.0 is +1 EV, SPEC §3); no clip above white."""
    x = np.linspace(0, 2, 101, dtype=np.float32)
    np.testing.assert_allclose(exposure(np.float32(0.18), 1.0), 0.36, rtol=1e-6)
    np.testing.assert_allclose(exposure(np.float32(0.18), 2.0), 0.72, rtol=1e-6)
    np.testing.assert_allclose(exposure(x[1:], 1.5) / x[1:], 2.8284271247461903, rtol=1e-6)  # 2^1.5 = √8
    # stops add up: +0.5 EV then +1 EV is +1.5 EV, and +1 EV twice is +2 EV
    np.testing.assert_allclose(exposure(exposure(x, 0.5), 1.0), exposure(x, 1.5), rtol=1e-6)
    np.testing.assert_allclose(exposure(exposure(x, 1.0), 1.0), exposure(x, 2.0), rtol=1e-6)
    assert exposure(x, 0.0).tolist() == x.tolist()


#: DNG SDK dng_function_exposure_tone, evaluated by hand (fractions) from the published formula
#: y = s·x for x ≤ 1/4, else (a x + b) x + c with a = 16/9 (1 − s), b = s − a/2, c = 1 − a − b:
#: EV −1 (s = 1/2): a = 8/9,  b = 1/18,  c = 1/18;  EV −2 (s = 1/4): a = 4/3, b = −5/12, c = 1/12.
DNG_EXPOSURE_TONE = {
    -1.0: {0.0: 0.0, 0.125: 1 / 16, 0.25: 1 / 8, 0.3: 137 / 900, 0.375: 29 / 144, 0.5: 11 / 36, 0.75: 43 / 72, 1.0: 1.0},
    -2.0: {0.0: 0.0, 0.125: 1 / 32, 0.25: 1 / 16, 0.3: 47 / 600, 0.375: 11 / 96, 0.5: 5 / 24, 0.75: 25 / 48, 1.0: 1.0},
}


@pytest.mark.parametrize("ev", sorted(DNG_EXPOSURE_TONE))
def test_negative_exposure_matches_dng_sdk_tone_values(ev):
    table = DNG_EXPOSURE_TONE[ev]
    x = np.array(list(table), np.float32)
    np.testing.assert_allclose(exposure(x, ev), list(table.values()), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ev", [-0.3, -1.0, -4.0])
def test_negative_exposure_follows_dng_sdk_tone(ev):
    """DNG SDK dng_function_exposure_tone: a plain gain (one stop per EV) in the lower quarter,
    then a C¹ quadratic that keeps white; it never brightens and never reverses."""
    x = np.linspace(0, 1, 4001, dtype=np.float32)
    y = exposure(x, ev)
    below = (x > 0) & (x <= 0.25)
    np.testing.assert_allclose(np.log2(y[below] / x[below]), ev, atol=1e-5)  # ev stops darker
    assert y[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(y <= x + 1e-7)
    slopes = np.diff(y.astype(np.float64)) / np.diff(x.astype(np.float64))
    assert np.all(slopes > 0)
    assert np.abs(np.diff(slopes)).max() < 5e-3  # C¹: no kink anywhere, the knee at 1/4 included


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


#: Blacks slider -> DNG SDK ramp values, evaluated by hand (fractions) from the published
#: dng_function_exposure_ramp and our documented mapping b = −slider/100 × 0.05 (README):
#: −80: b = 0.04, slope = 1/0.96, toe radius R = min(b/2, (1/16)/slope) = 0.02, q = slope/(4R);
#: −100: b = 0.05, slope = 1/0.95, R = 0.025;  +60: b = −0.03 (no toe), f = (x + 0.03)/1.03.
#: (slider, black point b) -> {x: f(x)}.
DNG_EXPOSURE_RAMP = {
    (-80, 0.04): {0.0: 0.0, 0.02: 0.0, 0.03: 1 / 768, 0.04: 1 / 192, 0.05: 3 / 256, 0.06: 1 / 48, 0.5: 23 / 48, 1.0: 1.0},
    (-100, 0.05): {0.0: 0.0, 0.025: 0.0, 0.05: 1 / 152, 0.075: 1 / 38, 0.525: 1 / 2, 1.0: 1.0},
    (60, -0.03): {0.0: 3 / 103, 0.5: 53 / 103, 1.0: 1.0},
}


@pytest.mark.parametrize("slider, b", sorted(DNG_EXPOSURE_RAMP))
def test_blacks_matches_dng_sdk_ramp_values(slider, b):
    table = DNG_EXPOSURE_RAMP[slider, b]
    x = np.array(list(table), np.float32)
    assert black_point(slider) == pytest.approx(b, abs=1e-12)
    np.testing.assert_allclose(black_ramp(x, b), list(table.values()), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(blacks(x, slider), list(table.values()), rtol=1e-5, atol=1e-7)


def test_blacks_toe_is_c1_at_both_ends():
    """The SDK's quadratic toe meets 0 with slope 0 and the ramp with the ramp's slope."""
    b, slope, radius = 0.04, 1 / 0.96, 0.02  # Blacks −80, see DNG_EXPOSURE_RAMP
    h = 1e-4
    for edge, expected in ((b - radius, 0.0), (b + radius, slope)):
        x = np.array([edge - h, edge, edge + h], np.float64)
        y = black_ramp(x.astype(np.float32), b).astype(np.float64)
        left, right = (y[1] - y[0]) / h, (y[2] - y[1]) / h
        assert left == pytest.approx(expected, abs=5e-3) and right == pytest.approx(expected, abs=5e-3)


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


#: Pairs of Adobe whites (as shot, chosen) from SPEC §2's published table.
WHITE_PAIRS = [(shot, chosen) for shot in ADOBE_TEMPERATURE_TINT_XY for chosen in ADOBE_TEMPERATURE_TINT_XY if shot != chosen]


def _bradford_reference(prophoto: np.ndarray, shot: tuple, chosen: tuple) -> np.ndarray:
    """Independent rebalance: Lindbloom's ProPhoto matrix, colour-science's von Kries/Bradford
    adaptation (chromatic_adaptation_VonKries) from the chosen white to the as-shot white, with
    the whites' XYZ from Adobe's published xy. A grey lit by ``chosen`` must come out neutral."""
    xyz = prophoto.astype(np.float64) @ LINDBLOOM_PROPHOTO_TO_XYZ.T
    adapted = colour.adaptation.chromatic_adaptation_VonKries(
        xyz, XYZ_of_xy(ADOBE_TEMPERATURE_TINT_XY[chosen]), XYZ_of_xy(ADOBE_TEMPERATURE_TINT_XY[shot]), transform="Bradford"
    )
    return np.maximum(adapted @ np.linalg.inv(LINDBLOOM_PROPHOTO_TO_XYZ).T, 0)


@pytest.mark.parametrize("shot, chosen", WHITE_PAIRS)
def test_white_balance_matches_an_independent_bradford_adaptation(shot, chosen):
    image = np.random.default_rng(5).random((6, 7, 3), dtype=np.float32)
    ours = white_balance(image, *chosen, WhitePoint(*shot))
    np.testing.assert_allclose(ours, _bradford_reference(image, shot, chosen), atol=3e-4)


@pytest.mark.parametrize("shot, chosen", WHITE_PAIRS)
def test_a_grey_lit_by_the_chosen_white_becomes_neutral(shot, chosen):
    """In an image balanced for ``shot`` (its white shown as ProPhoto's D50), a grey card lit by
    ``chosen`` has the colour the camera's Bradford adaptation gives it; choosing that white in the
    WB operator must make the card neutral (R = G = B) at its own brightness."""
    card = 0.18 * XYZ_of_xy(ADOBE_TEMPERATURE_TINT_XY[chosen])
    shown = colour.adaptation.chromatic_adaptation_VonKries(
        card, XYZ_of_xy(ADOBE_TEMPERATURE_TINT_XY[shot]), LINDBLOOM_D50_XYZ, transform="Bradford"
    )
    pixel = (np.linalg.inv(LINDBLOOM_PROPHOTO_TO_XYZ) @ shown).astype(np.float32)
    assert np.ptp(pixel) / pixel.mean() > 0.02  # visibly tinted before
    out = white_balance(pixel, *chosen, WhitePoint(*shot))
    assert np.ptp(out) / out.mean() < 1e-3
    assert out.mean() == pytest.approx(0.18, rel=2e-3)


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


#: darktable basicadj vibrance, evaluated by hand for the pixel (0.5, 0.3, 0.1): mean 0.3, HSV
#: saturation δ = 0.8; +50: P = 0.5 (1 − √0.8), −100: P = −(1 − 0.8) = −0.2; out = 0.3 + (1 + P)(c − 0.3).
DARKTABLE_VIBRANCE = {
    50: (0.5 + 0.1 * (1 - 0.8**0.5), 0.3, 0.1 - 0.1 * (1 - 0.8**0.5)),
    -100: (0.46, 0.3, 0.14),
}


@pytest.mark.parametrize("slider", sorted(DARKTABLE_VIBRANCE))
def test_vibrance_matches_darktable_values(slider):
    out = vibrance(np.array([0.5, 0.3, 0.1], np.float32), slider)
    np.testing.assert_allclose(out, DARKTABLE_VIBRANCE[slider], rtol=1e-6, atol=1e-7)


def test_negative_vibrance_desaturates():
    colour = np.array([0.5, 0.3, 0.2], np.float32)
    assert _saturation(vibrance(colour, -50)) < _saturation(colour)
