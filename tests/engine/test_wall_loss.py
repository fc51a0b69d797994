"""The locator's wall correction: readers behind a wall stop pushing the fix away, a plan
with one room is left as it was, and streaming stays exact with it on."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import ReadingBatch
from engine.locate import LocatorConfig, locate_all
from engine.wall_loss import WallMap
from geometry.errors import ConfigError
from geometry.model import Floorplan, Level, Reader, ReaderCalibration, Site, Zone, ZoneKind
from tests.engine.test_locate import in_chunks, same

CAL = ReaderCalibration(rssi_1m=-60.0, exponent=2.0, sigma_db=4.0)
HEIGHT = 1.2


def two_rooms(split: bool = True) -> Floorplan:
    """Two 8 x 8 m rooms side by side (one 16 x 8 m room when not `split`), four readers
    in the west room's corners and two on the east room's far wall."""
    rooms = [box(0, 0, 8, 8), box(8, 0, 16, 8)] if split else [box(0, 0, 16, 8)]
    spots = [(0.5, 0.5), (7.5, 0.5), (0.5, 7.5), (7.5, 7.5), (15.5, 0.5), (15.5, 7.5)]
    return Floorplan(
        Site("two", "Two rooms"),
        (Level("L0", 0, "Ground"),),
        tuple(Zone(f"room{i}", f"R{i}", "L0", ZoneKind.ROOM, p) for i, p in enumerate(rooms)),
        tuple(Reader(f"r{i}", "L0", x, y, 2.5, CAL) for i, (x, y) in enumerate(spots)),
    )


def heard(
    fp: Floorplan, xy: np.ndarray, wall_db: float, noise_db: float, seed: int
) -> ReadingBatch:
    """Every reader hears a badge at each of `xy` (one point a second, one tag): the
    calibration's path loss, less wall_db per wall on the way, plus noise."""
    rng = np.random.default_rng(seed)
    reader_xyz = np.array([[r.x, r.y, r.z] for r in fp.readers])
    n, n_readers = len(xy), len(reader_xyz)
    d = np.sqrt(
        ((xy[:, None, :] - reader_xyz[None, :, :2]) ** 2).sum(-1)
        + (reader_xyz[None, :, 2] - HEIGHT) ** 2
    )
    code = np.tile(np.arange(n_readers, dtype=np.int32), (n, 1))
    walls = WallMap.from_floorplan(fp).walls(np.zeros(n, np.int32), xy, code)
    rssi = CAL.rssi_1m - 10 * CAL.exponent * np.log10(d) - wall_db * walls
    rssi += rng.normal(0.0, noise_db, rssi.shape)
    t = np.repeat(np.arange(n, dtype=np.float64), n_readers) + np.tile(
        np.linspace(0.0, 0.5, n_readers), n
    )
    return ReadingBatch.from_arrays(t, np.zeros(n * n_readers), code.ravel(), rssi.ravel())


def error_at(fp: Floorplan, batch: ReadingBatch, where: tuple[float, float], wall_db: float):
    config = LocatorConfig(tag_height=HEIGHT, wall_db=wall_db, tracking=False)
    positions, _ = locate_all(fp, batch, None, config)
    return np.hypot(positions.x - where[0], positions.y - where[1])


def test_readers_behind_a_wall_no_longer_push_the_fix_away() -> None:
    fp = two_rooms()
    where = (6.0, 4.0)
    batch = heard(fp, np.tile(where, (20, 1)), wall_db=8.0, noise_db=0.0, seed=1)
    # Read 8 dB weaker than their distance says, the east readers seem far: the fix
    # without walls is pushed west, off the badge by metres.
    assert np.median(error_at(fp, batch, where, 0.0)) > 1.0
    assert np.median(error_at(fp, batch, where, 8.0)) < 0.2


def test_a_plan_with_one_room_gives_the_same_positions_with_the_correction_on() -> None:
    fp = two_rooms(split=False)
    path = np.column_stack((np.linspace(1, 15, 40), np.full(40, 3.0)))
    batch = heard(fp, path, wall_db=0.0, noise_db=3.0, seed=2)
    off, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=HEIGHT))
    on, _ = locate_all(fp, batch, None, LocatorConfig(tag_height=HEIGHT, wall_db=6.0))
    same(off, on)
    assert not WallMap.from_floorplan(fp).walled


def test_streaming_with_walls_gives_the_same_positions_as_one_batch() -> None:
    fp = two_rooms()
    path = np.column_stack((np.linspace(1, 15, 40), np.full(40, 3.0)))
    batch = heard(fp, path, wall_db=6.0, noise_db=3.0, seed=3)
    config = LocatorConfig(tag_height=HEIGHT, wall_db=6.0)
    whole = in_chunks(fp, batch, [], config)
    assert len(whole) > 30
    same(whole, in_chunks(fp, batch, [7, 50, 51, 130], config))


def test_walls_are_counted_on_the_readers_level_only_and_not_at_an_unknown_place() -> None:
    fp = two_rooms()
    walls = WallMap.from_floorplan(fp)
    at = np.array([[4.0, 4.0], [4.0, 4.0], [np.nan, np.nan]])
    reader = np.array([[4, 0, -1], [4, 0, -1], [4, 0, -1]], np.int32)
    counted = walls.walls(np.array([0, 1, 0], np.int32), at, reader)
    np.testing.assert_array_equal(counted, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("wall_db", [-1.0, 31.0, float("nan")])
def test_a_wall_loss_out_of_range_is_a_config_error(wall_db: float) -> None:
    with pytest.raises(ConfigError, match="wall_db"):
        LocatorConfig(wall_db=wall_db)
