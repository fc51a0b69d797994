"""The per-tag gain offset: a badge reading hotter than the calibration is located as if
it were not; streaming stays exact; bad parameters are refused."""

from __future__ import annotations

import numpy as np
import pytest

from engine.batches import ReadingBatch
from engine.gain_offset import GainSpec, applied_offset, fix_residual, learning_offset, step
from engine.locate import Locator, LocatorConfig, locate_all
from geometry.errors import ConfigError
from tests.engine.test_locate import in_chunks, same, tetam_floorplan, tetam_track
from tests.engine.test_radio_map import CAL, HEIGHT, hall

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
    # weaker, fix after fix (a mean residual of -2 dB, within the band); a badge 12 dB
    # weak reads so at all six. Each learns from its readings less its whole estimate.
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
            wall - learning_offset(walled, spec)[:, None], modelled, sigma, used, spec
        )
        walled = step(walled, residual, spec)
        # the estimate wanders about -2 dB: past the band now and then, by a fraction
        assert abs(applied_offset(walled, spec)[0]) < 0.3
        badge = modelled + noise - 12.0 - learning_offset(weak, spec)[:, None]
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


def test_estimates_within_the_dead_band_are_not_applied_and_the_integrator_is_bounded() -> None:
    spec = GainSpec(dead_band_db=3.0, full_db=6.0, limit_db=10.0, rate=0.5)
    # 0 within the band, all of it from full_db, the share ramping between.
    np.testing.assert_allclose(
        applied_offset(np.array([-2.0, 2.9, 4.5, -6.0, 7.0, -9.0]), spec),
        [0, 0, 2.25, -6, 7, -9],
    )
    np.testing.assert_allclose(learning_offset(np.array([2.0, -7.0]), spec), [2, -7])
    np.testing.assert_allclose(step(np.array([9.0, 0.0]), np.array([10.0, -4.0]), spec), [10, -2])
    measured = GainSpec(applies=False)
    np.testing.assert_array_equal(applied_offset(np.array([9.0]), measured), [0.0])
    np.testing.assert_array_equal(learning_offset(np.array([9.0]), measured), [0.0])


def test_the_estimate_settles_on_the_offset_however_much_of_it_the_fix_absorbs() -> None:
    # Far readers on one side: the fix moves to absorb most of what is left to correct,
    # so its residual shows a quarter of it. The estimate learns from the fix with all of
    # it removed, so it settles on the offset itself: a 2 dB one (within the band) is
    # never applied, 10 dB ones are applied in full.
    spec = GainSpec(reference_db=1.0)
    rng = np.random.default_rng(4)
    for offset in (2.0, -2.0, 10.0, -10.0):
        estimate = np.zeros(1)
        applied = []
        for _ in range(300):
            left = offset - learning_offset(estimate, spec)
            estimate = step(estimate, 1.0 + 0.25 * left + rng.normal(0.0, 0.3, 1), spec)
            applied.append(applied_offset(estimate, spec)[0])
        if abs(offset) < spec.dead_band_db:
            assert np.abs(applied[50:]).max() < 0.5
        else:
            assert abs(np.mean(applied[50:]) - offset) < 0.5


def stationary(position: tuple[float, float], bias_db: np.ndarray, gain_db: float) -> ReadingBatch:
    """300 s of a badge standing at `position` in `hall()`, every reader hearing it 4
    times a second: the path loss plus each reader's `bias_db` (what the model gets
    wrong there) plus the badge's own `gain_db`, 4 dB noise."""
    rng = np.random.default_rng(1)
    fp = hall()
    xyz = np.array([[r.x, r.y, r.z] for r in fp.readers])
    d = np.sqrt(((np.array(position) - xyz[:, :2]) ** 2).sum(1) + (xyz[:, 2] - HEIGHT) ** 2)
    mean = CAL.rssi_1m - 10 * CAL.exponent * np.log10(d) + bias_db + gain_db
    n, k = 1200, len(xyz)
    rssi = mean[None, :] + rng.normal(0.0, 4.0, (n, k))
    t = np.repeat(np.arange(n) / 4.0, k) + np.tile(np.linspace(0.0, 0.2, k), n)
    return ReadingBatch.from_arrays(t, np.zeros(n * k), np.tile(np.arange(k), n), rssi.ravel())


def test_a_place_the_model_reads_hot_is_not_taken_for_a_hot_badge() -> None:
    # Where the badge stands the corner readers read 3 dB above the model and the others
    # 1 dB below (a place the survey did not walk): to the estimate, a few dB of gain.
    # The badge without an offset is located as without the estimate (closed through
    # the applied share instead, the estimate settled at the band plus that error and
    # applied it: 0.89 m against 0.50); a badge 10 dB hot there is still corrected.
    fp = hall()
    spot = (4.0, 10.0)
    bias = np.array([3.0, 3.0, 3.0, 3.0, -1.0, -1.0, -1.0, -1.0])
    errors = {}
    for gain_db in (0.0, 10.0):
        batch = stationary(spot, bias, gain_db)
        for name, spec in (("plain", None), ("estimate", GainSpec())):
            locator = Locator(fp, {}, LocatorConfig(gain=spec))
            positions = locator.process(batch)
            late = positions.t > 60.0
            error = np.hypot(positions.x - spot[0], positions.y - spot[1])[late]
            errors[name, gain_db] = float(np.median(error))
            if spec is not None and gain_db == 0.0:
                assert abs(applied_offset(locator.gain_state_db(), spec)[0]) < 1.0
    assert errors["estimate", 0.0] < errors["plain", 0.0] + 0.1
    assert errors["estimate", 10.0] < errors["plain", 10.0] - 0.3


@pytest.mark.parametrize(
    "kwargs", [{"prior_db": 0.0}, {"rate": 0.0}, {"rate": 1.5}, {"dead_band_db": -1.0},
               {"limit_db": 2.0}, {"full_db": 3.0}, {"reference_db": 25.0}],
)  # fmt: skip
def test_bad_gain_parameters_are_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        GainSpec(**kwargs)
