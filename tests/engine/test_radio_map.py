"""The survey's radio map: it learns a reader's bias where the survey saw it and nothing
far from it, the locator's fix there moves toward the truth with it, and it corrects by
0 off its tiles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import ReadingBatch
from engine.locate import Locator, LocatorConfig, locate_all
from engine.radio_map import RadioMap, Residuals, Smoothing, smooth_residuals
from geometry.errors import ConfigError
from geometry.model import Floorplan, Level, Reader, ReaderCalibration, Site, Zone, ZoneKind
from sts.accuracy import Survey, engine_positions, least_squares_positions
from sts.readings_csv import Truth

CAL = ReaderCalibration(rssi_1m=-60.0, exponent=2.0, sigma_db=4.0)
HEIGHT = 1.2
SIDE = 20.0
#: Reader 0 (the south-west corner) reads this much stronger when the badge is in the
#: north-east corner (x and y above CORNER): a metal cabinet, a reflection.
BIAS_DB = 8.0
CORNER = 14.0
FAR = (5.0, 5.0)
IN_CORNER = (17.5, 17.5)


def hall() -> Floorplan:
    """A 20 x 20 m hall, readers in its corners and at the middle of its sides."""
    spots = [(0.5, 0.5), (19.5, 0.5), (0.5, 19.5), (19.5, 19.5)]
    spots += [(10.0, 0.5), (10.0, 19.5), (0.5, 10.0), (19.5, 10.0)]
    return Floorplan(
        Site("hall", "Hall"),
        (Level("L0", 0, "Ground"),),
        (Zone("hall", "Hall", "L0", ZoneKind.ROOM, box(0, 0, SIDE, SIDE)),),
        tuple(Reader(f"r{i}", "L0", x, y, 2.5, CAL) for i, (x, y) in enumerate(spots)),
    )


def biased_rssi(fp: Floorplan, xy: np.ndarray) -> np.ndarray:
    """(points, readers) RSSI: the calibration's path loss, reader 0 BIAS_DB stronger
    in the north-east corner."""
    reader_xyz = np.array([[r.x, r.y, r.z] for r in fp.readers])
    d = np.sqrt(
        ((xy[:, None, :] - reader_xyz[None, :, :2]) ** 2).sum(-1)
        + (reader_xyz[None, :, 2] - HEIGHT) ** 2
    )
    rssi = CAL.rssi_1m - 10 * CAL.exponent * np.log10(d)
    corner = (xy[:, 0] > CORNER) & (xy[:, 1] > CORNER)
    rssi[corner, 0] += BIAS_DB
    return rssi


def heard(fp: Floorplan, xy: np.ndarray, tag: int, noise_db: float, seed: int) -> ReadingBatch:
    """Every reader hears the badge `tag` at each of `xy`, one point a second."""
    rng = np.random.default_rng(seed)
    rssi = biased_rssi(fp, xy) + rng.normal(0.0, noise_db, (len(xy), len(fp.readers)))
    n, k = rssi.shape
    t = np.repeat(np.arange(n, dtype=np.float64), k) + np.tile(np.linspace(0.0, 0.5, k), n)
    reader = np.tile(np.arange(k), n)
    return ReadingBatch.from_arrays(t, np.full(n * k, tag), reader, rssi.ravel())


def survey(fp: Floorplan, walks: int = 4, noise_db: float = 2.0) -> tuple[ReadingBatch, Truth]:
    """`walks` tags, each back and forth over a 1 m grid of the hall (shifted by a
    quarter metre per walk), every point heard by every reader."""
    batches, truths = [], []
    for tag in range(walks):
        shift = 0.25 * tag
        gx, gy = np.meshgrid(np.arange(0.5, SIDE, 1.0) + shift, np.arange(0.5, SIDE, 1.0))
        gx[1::2] = gx[1::2, ::-1]  # back and forth along the rows, as a walker would
        xy = np.column_stack((gx.ravel(), gy.ravel()))
        xy = np.clip(np.repeat(xy, 4, axis=0), 0.1, SIDE - 0.1)
        batches.append(heard(fp, xy, tag, noise_db, seed=10 + tag))
        t = np.arange(len(xy), dtype=np.float64) + 0.25
        truths.append((t, np.full(len(t), tag, np.int32), xy[:, 0], xy[:, 1]))
    batch = ReadingBatch.from_arrays(
        *(np.concatenate([getattr(b, f) for b in batches]) for f in ("t", "tag", "reader", "rssi"))
    )
    t, tag_codes, x, y = (np.concatenate(parts) for parts in zip(*truths, strict=True))
    names = tuple(f"w{i}" for i in range(walks))
    return batch, Truth(t, tag_codes, x, y, ("L0",) * len(t), names, ())


def true_residuals(fp: Floorplan, xy: np.ndarray) -> Residuals:
    """The bias itself as residuals at `xy` (no noise, the true path loss)."""
    n, k = len(xy), len(fp.readers)
    flat = np.repeat(xy, k, axis=0)
    residual = np.zeros((n, k))
    corner = (xy[:, 0] > CORNER) & (xy[:, 1] > CORNER)
    residual[corner, 0] = BIAS_DB
    return Residuals(
        flat[:, 0],
        flat[:, 1],
        np.zeros(n * k, np.int64),
        np.tile(np.arange(k), n).astype(np.int64),
        residual.ravel(),
    )


def at(radio_map: RadioMap, where: tuple[float, float], reader: int) -> float:
    """The map's correction for `reader` at `where`."""
    value = radio_map.correction(
        np.zeros(1, np.int32), np.array([where], float), np.array([[reader]], np.int32)
    )
    return float(value[0, 0])


def grid_points(step: float = 0.5) -> np.ndarray:
    gx, gy = np.meshgrid(np.arange(0.25, SIDE, step), np.arange(0.25, SIDE, step))
    return np.column_stack((gx.ravel(), gy.ravel()))


def corner_map(fp: Floorplan) -> RadioMap:
    """The map of the bias itself, measured 20 times on every half-metre cell."""
    return smooth_residuals(
        true_residuals(fp, np.repeat(grid_points(), 20, axis=0)),
        (1, len(fp.readers)),
        (0.0, 0.0),
        Smoothing(bandwidth_m=1.0, shrink=20.0, cell_m=0.5),
    )


def test_smoothing_learns_the_bias_in_its_corner_and_nothing_elsewhere() -> None:
    radio_map = corner_map(hall())
    assert 0.85 * BIAS_DB < at(radio_map, IN_CORNER, 0) <= BIAS_DB
    assert abs(at(radio_map, FAR, 0)) < 0.1
    assert abs(at(radio_map, IN_CORNER, 1)) < 0.1
    # Off every tile (far outside the hall), on an unused slot or at no fix: 0.
    assert at(radio_map, (500.0, 500.0), 0) == 0.0
    assert at(radio_map, (np.nan, 1.0), 0) == 0.0
    assert at(radio_map, IN_CORNER, -1) == 0.0


def test_cells_the_survey_crossed_once_correct_by_a_fraction_of_what_it_saw() -> None:
    fp = hall()
    one = true_residuals(fp, np.array([IN_CORNER]))
    radio_map = smooth_residuals(one, (1, len(fp.readers)), (0.0, 0.0), Smoothing(1.0, 20.0, 0.5))
    # One reading of weight 1 against a shrink of 20: 8 / 21 dB at most.
    assert 0.0 < at(radio_map, IN_CORNER, 0) <= BIAS_DB / 21.0 + 1e-6


def test_the_fix_in_the_biased_corner_moves_toward_the_truth_with_the_map() -> None:
    fp = hall()
    radio_map = corner_map(fp)
    batch = heard(fp, np.tile(IN_CORNER, (10, 1)), 0, noise_db=0.0, seed=1)
    config = LocatorConfig(tag_height=HEIGHT, tracking=False)
    plain, _ = locate_all(fp, batch, None, config)
    mapped, _ = locate_all(fp, batch, None, replace(config, radio_map=radio_map))
    before = np.median(np.hypot(plain.x - IN_CORNER[0], plain.y - IN_CORNER[1]))
    after = np.median(np.hypot(mapped.x - IN_CORNER[0], mapped.y - IN_CORNER[1]))
    # Reader 0 reads 8 dB hot: without the map the fix is pulled toward it.
    assert before > 0.3
    assert after < 0.25 * before


def test_each_level_has_its_own_map_and_the_fix_s_level_chooses() -> None:
    # Two levels, one reader: +5 dB on level 0's cell, -3 dB on level 1's.
    index = np.array([[[0, 0, 0, 1, 1]], [[1, 0, 0, 1, 1]]], np.int64)
    radio_map = RadioMap(np.array([5.0, -3.0], np.float32), index, 0.0, 0.0, 1.0)
    where = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    reader = np.zeros((3, 1), np.int32)
    got = radio_map.correction(np.array([0, 1, 2], np.int32), where, reader)
    # A level the map does not hold corrects by 0.
    np.testing.assert_array_equal(got[:, 0], [5.0, -3.0, 0.0])


def test_a_map_of_other_readers_is_refused_by_the_locator() -> None:
    index = np.zeros((1, 3, 5), np.int64)  # three readers; the hall has eight
    radio_map = RadioMap(np.zeros(0, np.float32), index, 0.0, 0.0, 0.5)
    with pytest.raises(ConfigError, match="radio map holds 3 readers"):
        Locator(hall(), None, LocatorConfig(radio_map=radio_map))


def test_the_plain_least_squares_baseline_of_sts_accuracy_ignores_the_map() -> None:
    fp = hall()
    batch = heard(fp, np.tile(IN_CORNER, (10, 1)), 0, noise_db=0.0, seed=1)
    truth = Truth(
        np.arange(10.0),
        np.zeros(10, np.int32),
        *np.tile(IN_CORNER, (10, 1)).T,
        ("L0",) * 10,
        ("w0",),
        (),
    )
    config = LocatorConfig(tag_height=HEIGHT)
    mapped = replace(config, radio_map=corner_map(fp), wall_db=3.0, body_db=4.0)
    plain = least_squares_positions(Survey(fp, batch, truth, {}, config))
    same = least_squares_positions(Survey(fp, batch, truth, {}, mapped))
    np.testing.assert_array_equal(plain.x, same.x)
    # ...while the engine itself uses the map: its fix in the corner moves.
    assert not np.array_equal(
        engine_positions(Survey(fp, batch, truth, {}, config)).x,
        engine_positions(Survey(fp, batch, truth, {}, mapped)).x,
    )
