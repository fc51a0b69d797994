"""The per-tag gain offset: a badge reading hotter than the calibration is located as if
it were not; streaming stays exact; bad parameters are refused."""

from __future__ import annotations

import numpy as np
import pytest

from engine.batches import ReadingBatch
from engine.gain_offset import GainSpec, applied_offset, fix_residual, step
from engine.locate import LocatorConfig, locate_all
from geometry.errors import ConfigError
from tests.engine.test_locate import in_chunks, same, tetam_floorplan, tetam_track

# The reference `sts calibrate` fits on another track of the room, straight_01, with the
# default path-loss model (tests/sts/test_gain_reference.py).
SURVEYED = 2.3
GAIN = LocatorConfig(tag_height=1.8, gain=GainSpec(reference_db=SURVEYED))
PLAIN = LocatorConfig(tag_height=1.8)


def hotter(batch: ReadingBatch, db: float) -> ReadingBatch:
    """The same readings from a badge that reads `db` hotter."""
    return ReadingBatch(batch.t, batch.tag, batch.reader, batch.rssi + np.float32(db))


def median_error(positions, truth: np.ndarray, after: float) -> float:
    """Median error of the fixes later than `after` s into the track."""
    late = positions.t >= positions.t[0] + after
    tx = np.interp(positions.t, truth[:, 0], truth[:, 1])
    ty = np.interp(positions.t, truth[:, 0], truth[:, 2])
    return float(np.median(np.hypot(positions.x - tx, positions.y - ty)[late]))


def test_a_badge_10_db_hot_or_weak_is_located_like_the_surveyed_one() -> None:
    fp = tetam_floorplan()
    batch, truth = tetam_track("straight_05", fp)
    # Once the estimate has settled (~20 s): with the offset estimate the error does not
    # depend on how hot or weak an offset badge reads; without, a 10 dB weaker badge is
    # lost. The surveyed badge (0 dB) stays within the dead band: located as without.
    with_gain = {}
    for db in (0.0, 10.0, -10.0, 12.0, 16.0):
        positions, _ = locate_all(fp, hotter(batch, db), None, GAIN)
        with_gain[db] = median_error(positions, truth, after=20.0)
    off = [with_gain[db] for db in (10.0, -10.0, 12.0, 16.0)]
    assert max(off) - min(off) < 0.3
    plain, _ = locate_all(fp, batch, None, PLAIN)
    assert abs(with_gain[0.0] - median_error(plain, truth, after=20.0)) < 0.15
    weak_plain, _ = locate_all(fp, hotter(batch, -10.0), None, PLAIN)
    assert with_gain[-10.0] < median_error(weak_plain, truth, after=20.0) - 2.0
    hot_plain, _ = locate_all(fp, hotter(batch, 12.0), None, PLAIN)
    assert with_gain[12.0] < median_error(hot_plain, truth, after=20.0) - 0.5


def test_the_surveyed_badges_own_residual_is_not_an_offset() -> None:
    # Every fix leaves the reference's residual (the window's upper quartile reads hotter
    # than the mean model): with it the integrator stays at 0; without, it walks out.
    spec = GainSpec(reference_db=3.5)
    state = np.zeros(1)
    for _ in range(100):
        state = step(state, np.array([3.5]), spec)
    assert state[0] == 0.0
    for _ in range(100):
        state = step(state, np.array([3.5]), GainSpec())
    assert applied_offset(state, GainSpec())[0] > 10.0


def test_one_wall_attenuated_reader_does_not_move_the_offset() -> None:
    # Six readers: five read as modelled (within the noise), the one behind a wall 12 dB
    # weaker, fix after fix (a mean residual of -2 dB, under the band's 3 dB x leak /
    # rate); a badge 12 dB weak reads so at all six.
    spec = GainSpec(reference_db=1.0)
    rng = np.random.default_rng(3)
    modelled = np.full((1, 6), -70.0)
    sigma = np.full((1, 6), 5.0)
    used = np.ones((1, 6), bool)
    walled, weak = np.zeros(1), np.zeros(1)
    for _ in range(300):
        noise = rng.normal(1.0, 2.0, (1, 6))
        wall = modelled + noise + np.array([[-12.0, 0, 0, 0, 0, 0]])
        residual = fix_residual(
            wall - applied_offset(walled, spec)[:, None], modelled, sigma, used, spec
        )
        walled = step(walled, residual, spec)
        assert applied_offset(walled, spec)[0] == 0.0
        badge = modelled + noise - 12.0 - applied_offset(weak, spec)[:, None]
        weak = step(weak, fix_residual(badge, modelled, sigma, used, spec), spec)
    assert abs(applied_offset(weak, spec)[0] + 12.0) < 1.5


def test_a_row_without_a_fix_leaves_the_integrator_as_it_was() -> None:
    spec = GainSpec(reference_db=2.0)
    none_used = np.zeros((1, 4), bool)
    residual = fix_residual(np.zeros((1, 4)), np.zeros((1, 4)), np.ones((1, 4)), none_used, spec)
    assert np.isnan(residual[0])
    np.testing.assert_array_equal(step(np.array([7.0]), residual, spec), [7.0])


def test_streaming_with_the_gain_offset_gives_the_same_positions_as_one_batch() -> None:
    fp = tetam_floorplan()
    batch, _ = tetam_track("straight_01", fp)
    batch = hotter(batch, 8.0)
    whole, _ = locate_all(fp, batch, None, GAIN)
    rng = np.random.default_rng(5)
    cuts = sorted(rng.choice(np.arange(1, len(batch)), size=25, replace=False).tolist())
    same(whole, in_chunks(fp, batch, cuts, GAIN))


def test_offsets_within_the_dead_band_are_not_applied_and_the_integrator_is_bounded() -> None:
    spec = GainSpec(dead_band_db=3.0, limit_db=10.0, rate=0.5, leak=0.0)
    np.testing.assert_allclose(
        applied_offset(np.array([-2.0, 2.9, 5.0, -7.0]), spec), [0, 0, 2, -4]
    )
    np.testing.assert_allclose(step(np.array([9.0, 0.0]), np.array([10.0, -4.0]), spec), [10, -2])


def test_the_integrator_leaks_within_the_dead_band_only() -> None:
    spec = GainSpec(dead_band_db=4.0, rate=0.5, leak=0.5)
    # 1 + 0.5 x 2 = 2 is within the band: halved; 3 + 0.5 x 4 = 5 is beyond: kept.
    np.testing.assert_allclose(step(np.array([1.0, 3.0]), np.array([2.0, 4.0]), spec), [1, 5])
    # A residual that only wanders (+-3 dB, alternating) never leaves the band.
    state = np.zeros(1)
    for k in range(200):
        state = step(state, np.array([3.0 if k % 2 else -3.0]), spec)
        assert applied_offset(state, spec)[0] == 0.0
    # A steady residual settles within the band below dead_band x leak / rate = 4 dB,
    # and pushes through it above, to be integrated without loss.
    for _ in range(50):
        state = step(state, np.array([3.5]), spec)
    assert applied_offset(state, spec)[0] == 0.0
    for _ in range(5):
        state = step(state, np.array([5.0]), spec)
    assert applied_offset(state, spec)[0] > 8.0


@pytest.mark.parametrize(
    "kwargs", [{"prior_db": 0.0}, {"rate": 0.0}, {"rate": 1.5}, {"dead_band_db": -1.0},
               {"limit_db": 2.0}, {"leak": 1.0}, {"leak": -0.1}, {"reference_db": 25.0}],
)  # fmt: skip
def test_bad_gain_parameters_are_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        GainSpec(**kwargs)
