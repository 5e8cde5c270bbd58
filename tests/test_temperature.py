"""Adobe Temperature/Tint <-> CIE xy against the reference table of SPEC §2 (Adobe DNG SDK values),
CIE illuminant A, and an independent CCT/Duv method (Ohno 2013, in colour-science)."""

import colour
import numpy as np
import pytest

from references import ADOBE_TEMPERATURE_TINT_XY, CIE_A_XY, CIE_D50_XY, CIE_D65_XY
from bno.synth.temperature import temperature_tint_to_xy, xy_to_temperature_tint

# (T K, tint) -> (x, y), Adobe Camera Raw / DNG SDK (SPEC §2).
ADOBE_REFERENCE = [(t, tint, x, y) for (t, tint), (x, y) in ADOBE_TEMPERATURE_TINT_XY.items()]


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
    [(CIE_D65_XY, 6503, 9.8), (CIE_D50_XY, 5002, 9.6)],  # D65 and D50, SPEC §2
)
def test_standard_illuminants_read_as_adobe_does(xy, temperature, tint):
    white = xy_to_temperature_tint(xy)
    assert white.temperature == pytest.approx(temperature, abs=2.5)
    assert white.tint == pytest.approx(tint, abs=0.3)


@pytest.mark.parametrize("temperature, tint, x, y", ADOBE_REFERENCE)
def test_adobe_xy_reads_back_as_its_temperature_and_tint(temperature, tint, x, y):
    """The inverse direction against the same published table (the xy are given to 5 decimals)."""
    white = xy_to_temperature_tint((x, y))
    assert white.temperature == pytest.approx(temperature, abs=0.5)
    assert white.tint == pytest.approx(tint, abs=0.02)


def test_illuminant_a_is_on_the_locus_at_2856_kelvin():
    """CIE illuminant A is a Planckian radiator at 2856 K (CIE 15:2004): Duv = 0, so tint 0."""
    white = xy_to_temperature_tint(CIE_A_XY)
    assert white.temperature == pytest.approx(2856, abs=1.0)
    assert white.tint == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("temperature", [2500, 3300, 5000, 6500, 9000, 15000])
@pytest.mark.parametrize("tint", [-40, 0, 25])
def test_agrees_with_ohno_2013(temperature, tint):
    """An independent CCT/Duv method: Ohno (2013, LEUKOS 10(1)), colour-science's implementation
    (our code uses Robertson 1968). Tint is Adobe's 3000 × Duv; the two methods agree to < 0.1 % in T."""
    uv = colour.xy_to_UCS_uv(temperature_tint_to_xy(temperature, tint))
    cct, duv = colour.temperature.uv_to_CCT_Ohno2013(uv)
    assert cct == pytest.approx(temperature, rel=1e-3)
    assert 3000.0 * duv == pytest.approx(tint, abs=0.35)


@pytest.mark.parametrize("temperature", [2500, 3300, 5000, 6500, 9000, 15000])
@pytest.mark.parametrize("tint", [-40, 0, 25])
def test_round_trip(temperature, tint):
    white = xy_to_temperature_tint(temperature_tint_to_xy(temperature, tint))
    assert white.temperature == pytest.approx(temperature, rel=1e-4)
    assert white.tint == pytest.approx(tint, abs=1e-2)
