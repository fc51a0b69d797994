"""The reported radius: the filter's, scaled, and widened only while the tag's gain
offset estimate is beyond its dead band; positions never depend on it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.locate import LocatorConfig, locate_all
from engine.uncertainty import RadiusModel
from geometry.errors import ConfigError
from tests.engine.test_gain_offset import GAIN, hotter
from tests.engine.test_locate import tetam_floorplan, tetam_track


def test_the_radius_widens_by_the_db_beyond_the_band_and_only_there() -> None:
    model = RadiusModel(scale=0.5, per_gain_db=0.2)
    filter_radius = np.array([4.0, 4.0, 4.0, 4.0])
    gain = np.array([0.0, -2.9, 5.0, -8.0])
    radius = model.radius(filter_radius, gain, dead_band_db=3.0)
    # Within the band: the scaled radius; beyond: 1 + 0.2 per dB beyond, either sign.
    np.testing.assert_allclose(radius, [2.0, 2.0, 2.0 * 1.4, 2.0 * 2.0])
    # No estimate, or no widening fitted: the scaled radius, bit for bit.
    np.testing.assert_array_equal(model.radius(filter_radius, None, 3.0), filter_radius * 0.5)
    flat = RadiusModel(scale=0.5)
    np.testing.assert_array_equal(flat.radius(filter_radius, gain, 3.0), filter_radius * 0.5)


def test_a_badge_off_the_survey_gets_a_wider_radius_at_the_same_positions() -> None:
    fp = tetam_floorplan()
    batch, _ = tetam_track("straight_05", fp)
    widened = replace(GAIN, uncertainty_scale=0.4, uncertainty_per_gain_db=0.3)
    plain = replace(GAIN, uncertainty_scale=0.4)
    for db, wider in ((0.0, False), (12.0, True)):
        readings = hotter(batch, db)
        a, _ = locate_all(fp, readings, None, widened)
        b, _ = locate_all(fp, readings, None, plain)
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        ratio = a.uncertainty / b.uncertainty
        assert ratio.min() >= 1.0
        if wider:
            # The estimate pushes through the band at the first fix and stays beyond it
            # (at the badge's ~12 dB plus the band): the fixes are widened.
            assert np.mean(ratio > 1.5) > 0.9
        else:
            # The surveyed badge's estimate never leaves the band: radius unchanged.
            np.testing.assert_array_equal(a.uncertainty, b.uncertainty)


def test_without_the_gain_estimate_the_widening_changes_nothing() -> None:
    fp = tetam_floorplan()
    batch, _ = tetam_track("straight_05", fp)
    plain = LocatorConfig(tag_height=1.8, uncertainty_scale=0.4)
    a, _ = locate_all(fp, batch, None, plain)
    b, _ = locate_all(fp, batch, None, replace(plain, uncertainty_per_gain_db=0.5))
    np.testing.assert_array_equal(a.uncertainty, b.uncertainty)


@pytest.mark.parametrize(
    "kwargs",
    [{"scale": 0.0}, {"scale": float("nan")}, {"per_gain_db": -0.1}, {"per_gain_db": 6.0}],
)
def test_bad_radius_parameters_are_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        RadiusModel(**kwargs)
    names = {"scale": "uncertainty_scale", "per_gain_db": "uncertainty_per_gain_db"}
    with pytest.raises(ConfigError):
        LocatorConfig(**{names[k]: v for k, v in kwargs.items()})
