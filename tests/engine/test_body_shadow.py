"""The wearer's body: the heading from the track, the correction it gives, its fit on a
survey, and streaming that stays exact with it on."""

from __future__ import annotations

import numpy as np
import pytest

from engine.batches import ReadingBatch
from engine.body_shadow import body_excess, facing_cosine
from engine.locate import LocatorConfig, locate_all
from geometry.errors import ConfigError
from geometry.model import Floorplan
from sts.readings_csv import Truth
from sts.survey_fit import fit_body_db
from tests.engine.test_locate import CAL, in_chunks, same, tetam_floorplan

BODY_DB = 8.0
HEIGHT = 1.2


def test_readers_ahead_count_plus_one_behind_minus_one_and_standing_still_zero() -> None:
    readers = np.array([[[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0], [0.0, 0.0]]] * 3)
    position = np.zeros((3, 2))
    velocity = np.array([[0.8, 0.0], [0.05, 0.0], [np.nan, np.nan]])
    cos = facing_cosine(readers, position, velocity)
    np.testing.assert_allclose(cos[0], [1.0, -1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_array_equal(cos[1:], 0.0)  # too slow to tell, and no track
    np.testing.assert_allclose(body_excess(readers, position, velocity, 6.0)[0], [3, -3, 0, 0])


def walk(fp: Floorplan, body_db: float, seed: int) -> tuple[ReadingBatch, Truth]:
    """A badge walked to and fro along y = 3.5 m at 0.6 m/s, heard by every reader twice a
    second: the calibration's model, a body that loses body_db toward readers behind
    (relative to the mean over headings), and 3 dB of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 120.0, 0.5)
    leg = 16.0 / 0.6
    phase = np.mod(t, 2 * leg)
    x = np.where(phase < leg, 2.0 + 0.6 * phase, 18.0 - 0.6 * (phase - leg))
    y = np.full(len(t), 3.5)
    vx = np.where(phase < leg, 0.6, -0.6)
    xyz = np.array([[r.x, r.y, r.z] for r in fp.readers])
    dx, dy = xyz[None, :, 0] - x[:, None], xyz[None, :, 1] - y[:, None]
    d = np.sqrt(dx**2 + dy**2 + (xyz[None, :, 2] - HEIGHT) ** 2)
    cos = dx * vx[:, None] / (np.hypot(dx, dy) * 0.6)
    rssi = CAL.rssi_1m - 10 * CAL.exponent * np.log10(d) + body_db * cos / 2
    rssi += rng.normal(0.0, 3.0, rssi.shape)
    n_r = len(xyz)
    batch = ReadingBatch.from_arrays(
        np.repeat(t, n_r), np.zeros(len(t) * n_r), np.tile(np.arange(n_r), len(t)), rssi.ravel()
    )
    zero = np.zeros(len(t), np.int32)
    return batch, Truth(t, zero, x, y, tuple("L0" for _ in t), ("badge",), ())


def median_error(fp: Floorplan, batch: ReadingBatch, truth: Truth, body_db: float) -> float:
    positions, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=HEIGHT, body_db=body_db))
    late = positions.t > 10.0
    tx = np.interp(positions.t, truth.t, truth.x)
    ty = np.interp(positions.t, truth.t, truth.y)
    return float(np.median(np.hypot(positions.x - tx, positions.y - ty)[late]))


def test_the_correction_locates_a_walking_wearer_better() -> None:
    fp = tetam_floorplan()
    batch, truth = walk(fp, BODY_DB, seed=1)
    plain = median_error(fp, batch, truth, 0.0)
    corrected = median_error(fp, batch, truth, BODY_DB / 2)
    assert corrected < plain - 0.2


def test_the_survey_fit_finds_a_body_and_finds_none_where_there_is_none() -> None:
    fp = tetam_floorplan()
    per_reader = {r.id: CAL for r in fp.readers}
    batch, truth = walk(fp, BODY_DB, seed=2)
    fitted = fit_body_db(fp, batch, truth, per_reader, HEIGHT)
    # Less than the loss itself (the track's heading is noisier than the wearer's), not 0.
    assert 2.0 < fitted <= BODY_DB
    batch, truth = walk(fp, 0.0, seed=2)
    assert fit_body_db(fp, batch, truth, per_reader, HEIGHT) == 0.0


def test_streaming_with_the_body_correction_gives_the_same_positions_as_one_batch() -> None:
    fp = tetam_floorplan()
    batch, _ = walk(fp, BODY_DB, seed=3)
    config = LocatorConfig(tag_height=HEIGHT, body_db=4.0)
    whole, _ = locate_all(fp, batch, None, config)
    rng = np.random.default_rng(7)
    cuts = sorted(rng.choice(np.arange(1, len(batch)), size=25, replace=False).tolist())
    same(whole, in_chunks(fp, batch, cuts, config))


@pytest.mark.parametrize("body_db", [-1.0, 31.0, float("nan")])
def test_a_body_loss_out_of_range_is_a_config_error(body_db: float) -> None:
    with pytest.raises(ConfigError):
        LocatorConfig(body_db=body_db)
