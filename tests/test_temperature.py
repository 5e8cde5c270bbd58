"""Adobe Temperature/Tint <-> CIE xy against the reference table of SPEC §2 (Adobe DNG SDK values)."""

import numpy as np
import pytest

from bno.synth.temperature import temperature_tint_to_xy, xy_to_temperature_tint

# (T K, tint) -> (x, y), Adobe Camera Raw / DNG SDK (SPEC §2).
ADOBE_REFERENCE = [
    (2850, 0, 0.44799, 0.40755),
    (5000, 0, 0.34510, 0.35162),
    (5000, 20, 0.34641, 0.36624),
    (5000, -20, 0.34386, 0.33774),
    (10000, 0, 0.28063, 0.28828),
]


@pytest.mark.parametrize("temperature, tint, x, y", ADOBE_REFERENCE)
def test_temperature_tint_to_xy_matches_adobe(temperature, tint, x, y):
    np.testing.assert_allclose(temperature_tint_to_xy(temperature, tint), [x, y], atol=5e-5)


def test_vectorised_equals_elementwise():
    temperatures = np.array([[2850, 5000], [5000, 10000]])
    tints = np.array([[0, 20], [-20, 0]])
    batch = temperature_tint_to_xy(temperatures, tints)
    assert batch.shape == (2, 2, 2)
    for index in np.ndindex(2, 2):
        np.testing.assert_allclose(batch[index], temperature_tint_to_xy(temperatures[index], tints[index]))


@pytest.mark.parametrize(
    "xy, temperature, tint",
    [((0.31271, 0.32902), 6503, 9.8), ((0.34567, 0.35850), 5002, 9.6)],  # D65 and D50, SPEC §2
)
def test_standard_illuminants_read_as_adobe_does(xy, temperature, tint):
    white = xy_to_temperature_tint(xy)
    assert white.temperature == pytest.approx(temperature, abs=2.5)
    assert white.tint == pytest.approx(tint, abs=0.3)


@pytest.mark.parametrize("temperature", [2500, 3300, 5000, 6500, 9000, 15000])
@pytest.mark.parametrize("tint", [-40, 0, 25])
def test_round_trip(temperature, tint):
    white = xy_to_temperature_tint(temperature_tint_to_xy(temperature, tint))
    assert white.temperature == pytest.approx(temperature, rel=1e-4)
    assert white.tint == pytest.approx(tint, abs=1e-2)
