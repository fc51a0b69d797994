"""Path-loss calibration: known parameters recovered through outliers; shrinkage; TOML data."""

from __future__ import annotations

import numpy as np
import pytest

from geometry.calibration import (
    EXPONENT_RANGE,
    calibration_from_dict,
    calibration_to_dict,
    fit_path_loss,
)
from geometry.errors import ConfigError, InputError


def survey(n, p0, ex, sigma, seed, outliers=0.1, d_range=(0.8, 20.0)):
    """Samples of readers with known parameters, a fraction replaced by gross outliers."""
    rng = np.random.default_rng(seed)
    p0 = np.asarray(p0, float)
    ex = np.asarray(ex, float)
    reader = rng.integers(0, len(p0), n)
    d = rng.uniform(*d_range, n)
    rssi = p0[reader] - 10 * ex[reader] * np.log10(d) + rng.normal(0, sigma, n)
    bad = rng.random(n) < outliers
    # Body shadowing (deep fades) and reflections (spikes): 12-30 dB off.
    rssi[bad] += rng.choice([-1.0, 1.0], bad.sum()) * rng.uniform(12, 30, bad.sum())
    return d, rssi, reader


def test_global_fit_recovers_known_parameters_through_ten_percent_outliers():
    d, rssi, reader = survey(6000, [-60.0], [2.2], 4.0, seed=1)
    cal = fit_path_loss(d, rssi, reader, 1)
    assert cal.global_.rssi_1m == pytest.approx(-60.0, abs=0.7)
    assert cal.global_.exponent == pytest.approx(2.2, abs=0.08)
    assert cal.global_.sigma_db == pytest.approx(4.0, rel=0.12)
    # Ordinary least squares would be pulled off by the outliers: the robust fit is not.
    slope, icpt = np.polyfit(-10 * np.log10(d), rssi, 1)
    naive_sigma = np.std(rssi - (icpt + slope * -10 * np.log10(d)))
    assert naive_sigma > 1.5 * cal.global_.sigma_db


def test_per_reader_fits_recover_each_reader():
    p0 = [-55.0, -58.0, -62.0, -66.0, -60.0]
    ex = [1.6, 2.0, 2.4, 2.8, 1.9]
    d, rssi, reader = survey(10000, p0, ex, 3.0, seed=2)
    cal = fit_path_loss(d, rssi, reader, 5, min_samples=30)
    assert np.allclose(cal.rssi_1m, p0, atol=0.8)
    assert np.allclose(cal.exponent, ex, atol=0.08)
    assert np.allclose(cal.sigma_db, 3.0, rtol=0.15)
    assert cal.n_samples.sum() == 10000


def test_few_samples_shrink_toward_the_global_fit_and_none_get_it():
    # Readers 0..3 well surveyed at -60 / 2.0; reader 4 is 8 dB hotter with only 6 samples;
    # reader 5 never heard.
    d, rssi, reader = survey(4000, [-60.0] * 4, [2.0] * 4, 3.0, seed=3, outliers=0.0)
    rng = np.random.default_rng(4)
    d4 = rng.uniform(1, 10, 6)
    r4 = -52.0 - 20 * np.log10(d4) + rng.normal(0, 3, 6)
    d = np.concatenate((d, d4))
    rssi = np.concatenate((rssi, r4))
    reader = np.concatenate((reader, np.full(6, 4)))
    cal = fit_path_loss(d, rssi, reader, 6, min_samples=30)
    g = cal.global_
    assert cal.rssi_1m[5] == g.rssi_1m and cal.exponent[5] == g.exponent
    assert cal.n_samples[5] == 0 and cal.n_samples[4] == 6
    # Between the global fit and its own truth, nearer the global (6 << 30 samples).
    assert g.rssi_1m < cal.rssi_1m[4] < -52.0
    assert cal.rssi_1m[4] - g.rssi_1m < 0.5 * (-52.0 - g.rssi_1m)
    # With many samples the same reader gets its own value.
    more = survey(3000, [-52.0], [2.0], 3.0, seed=5, outliers=0.0)
    cal2 = fit_path_loss(
        np.concatenate((d, more[0])),
        np.concatenate((rssi, more[1])),
        np.concatenate((reader, np.full(3000, 4))),
        6,
    )
    assert cal2.rssi_1m[4] == pytest.approx(-52.0, abs=0.6)


def test_narrow_distance_range_keeps_the_global_exponent():
    # A reader surveyed only at 3.0-3.2 m cannot tell its slope: the prior holds it.
    d, rssi, reader = survey(3000, [-60.0] * 3, [2.0] * 3, 3.0, seed=6, outliers=0.0)
    rng = np.random.default_rng(7)
    d3 = rng.uniform(3.0, 3.2, 200)
    r3 = -60.0 - 20 * np.log10(d3) + rng.normal(0, 3, 200)
    cal = fit_path_loss(
        np.concatenate((d, d3)), np.concatenate((rssi, r3)), np.concatenate((reader, [3] * 200)), 4
    )
    assert cal.exponent[3] == pytest.approx(2.0, abs=0.25)
    assert cal.rssi_1m[3] == pytest.approx(-60.0, abs=1.5)


def test_unusable_samples_are_dropped_and_counted():
    d, rssi, reader = survey(1000, [-60.0, -60.0], [2.0, 2.0], 3.0, seed=8, outliers=0.0)
    d[:5] = np.nan
    d[5:8] = -1.0
    rssi[8:10] = np.inf
    reader[10:13] = 7  # not a reader
    cal = fit_path_loss(d, rssi, reader, 2)
    assert cal.dropped == 13
    assert cal.global_.exponent == pytest.approx(2.0, abs=0.1)


def test_results_stay_in_the_accepted_ranges():
    # Nonsense data (rssi rising with distance) still gives a usable calibration.
    rng = np.random.default_rng(9)
    d = rng.uniform(1, 10, 500)
    rssi = -90 + 10 * np.log10(d) + rng.normal(0, 1, 500)
    cal = fit_path_loss(d, rssi, np.zeros(500, int), 1)
    assert EXPONENT_RANGE[0] <= cal.exponent[0] <= EXPONENT_RANGE[1]
    assert -127 <= cal.rssi_1m[0] <= 0 and cal.sigma_db[0] > 0


def test_too_few_samples_or_one_distance_is_an_input_error():
    with pytest.raises(InputError, match="at least 3"):
        fit_path_loss([1.0, 2.0], [-60.0, -66.0], [0, 0], 1)
    with pytest.raises(InputError, match="different"):
        fit_path_loss([2.0] * 10, [-60.0] * 10, [0] * 10, 1)
    with pytest.raises(InputError, match="length"):
        fit_path_loss([1.0, 2.0, 3.0], [-60.0], [0], 1)


def test_dict_round_trip_and_errors_name_the_key():
    d, rssi, reader = survey(2000, [-58.0, -61.0, -64.0], [1.8, 2.0, 2.3], 3.0, seed=10)
    cal = fit_path_loss(d, rssi, reader, 3)
    ids = ["r-a", "r-b", "r-c"]
    data = calibration_to_dict(cal, ids)
    back = calibration_from_dict(data, ids)
    assert np.allclose(back.rssi_1m, cal.rssi_1m, atol=1e-3)
    assert np.allclose(back.exponent, cal.exponent, atol=1e-4)
    assert np.allclose(back.sigma_db, cal.sigma_db, atol=1e-3)
    assert (back.n_samples == cal.n_samples).all()
    # A reader missing from the file falls back to the global fit.
    del data["readers"]["r-b"]
    partial = calibration_from_dict(data, ids)
    assert partial.rssi_1m[1] == pytest.approx(cal.global_.rssi_1m, abs=1e-3)
    with pytest.raises(ConfigError, match=r"readers\.r-z"):
        calibration_from_dict({**data, "readers": {"r-z": data["readers"]["r-a"]}}, ids)
    bad = {**data, "readers": {"r-a": {**data["readers"]["r-a"], "exponent": "two"}}}
    with pytest.raises(ConfigError, match=r"readers.r-a.exponent"):
        calibration_from_dict(bad, ids, source="cal.toml")
    with pytest.raises(ConfigError, match="out of range"):
        calibration_from_dict({"global": {"rssi_1m": 5, "exponent": 2, "sigma_db": 3}}, ids)


def test_deterministic():
    d, rssi, reader = survey(3000, [-58.0, -61.0], [1.8, 2.3], 3.0, seed=11)
    a = fit_path_loss(d, rssi, reader, 2)
    b = fit_path_loss(d, rssi, reader, 2)
    assert a.rssi_1m.tobytes() == b.rssi_1m.tobytes() and a.global_ == b.global_
