"""The radio model: its defaults come from the real recordings and reproduce them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from shapely.geometry import Polygon

from geometry.model import Floorplan, Level, Reader, Site, Zone, ZoneKind
from simulator.radio import MOTION_COLUMNS, RadioParams, build_reader_table, hear_step
from simulator.radio_fit import distance_profile, fit_log_distance, radio_defaults, read_tetam


@pytest.fixture(scope="module")
def tetam():
    return read_tetam()


def _open_hall(readers: np.ndarray) -> Floorplan:
    """The tetam readers over open ground (the recordings have no walls)."""
    area = Zone(
        "hall", "hall", "L0", ZoneKind.OUTDOOR, Polygon([(-2, -2), (23, -2), (23, 20), (-2, 20)])
    )
    unique = np.unique(readers, axis=0)
    rd = tuple(
        Reader(f"r{i}", "L0", float(x), float(y), float(z)) for i, (x, y, z) in enumerate(unique)
    )
    return Floorplan(Site("tetam", "tetam"), (Level("L0", 0, "ground"),), (area,), rd)


def _simulate_at(samples, params: RadioParams, seed: int = 1):
    """One advertisement from every true position of the recording, heading at random."""
    fp = _open_hall(samples.reader_xyz)
    table = build_reader_table(fp, params)
    n = len(samples.rssi)
    motion = np.zeros((n, MOTION_COLUMNS))
    motion[:, 2] = motion[:, 4] = samples.tag_xyz[:, 0]
    motion[:, 3] = motion[:, 5] = samples.tag_xyz[:, 1]
    motion[:, 6] = np.random.default_rng(seed).uniform(-np.pi, np.pi, n)
    heard = hear_step(
        table,
        params,
        (motion, motion),
        (np.ones(n, bool), np.zeros(n)),
        (0.0, 1.0),
        np.ones(len(fp.readers), bool),
        seed,
    )
    tag = samples.tag_xyz[heard.badge]
    rxyz = table.readers[heard.reader, :3]
    d = np.linalg.norm(
        np.column_stack([tag[:, :2], np.full(len(tag), params.tag_height_m)]) - rxyz, axis=1
    )
    return d, heard.rssi.astype(np.float64), heard


def _one_advertisement_each(table, params: RadioParams, motion: np.ndarray):
    """One advertisement of every badge of `motion` (all at t 0), every reader up."""
    n = len(motion)
    return hear_step(
        table,
        params,
        (motion, motion),
        (np.ones(n, bool), np.zeros(n)),
        (0.0, 1.0),
        np.ones(len(table.readers), bool),
        3,
    )


def test_defaults_are_the_fit_on_tetam(tetam):
    fit = fit_log_distance(tetam.distance_m, tetam.rssi)
    fitted = radio_defaults(fit)
    defaults = RadioParams()
    assert fit.samples > 9000
    assert defaults.rssi_1m == pytest.approx(fitted.rssi_1m, abs=0.05)
    assert defaults.exponent == pytest.approx(fitted.exponent, abs=0.005)
    assert defaults.sigma_db == pytest.approx(fitted.sigma_db, abs=0.05)


def test_simulated_rssi_versus_distance_matches_the_real_recordings(tetam):
    """Per 2 m bin from 2 to 16 m: median within 2.5 dB, spread within 1.5 dB of the real."""
    params = dataclasses.replace(
        RadioParams(),
        candidates=12,
        packet_loss=0.0,
        tag_height_m=float(tetam.tag_xyz[:, 2].mean()),
    )
    d_sim, rssi_sim, _ = _simulate_at(tetam, params)
    edges = np.arange(2.0, 18.0, 2.0)
    real = distance_profile(tetam.distance_m, tetam.rssi, edges)
    sim = distance_profile(d_sim, rssi_sim, edges)
    assert (real.count > 300).all() and (sim.count > 300).all()
    assert np.abs(sim.median - real.median).max() <= 2.5, (sim.median, real.median)
    assert np.abs(sim.sd - real.sd).max() <= 1.5, (sim.sd, real.sd)


def test_a_reader_behind_the_wearer_hears_less(tetam):
    params = dataclasses.replace(RadioParams(), sigma_db=0.0, packet_loss=0.0)
    fp = _open_hall(np.array([[10.0, 5.0, 2.5]]))
    table = build_reader_table(fp, params)
    motion = np.zeros((2, MOTION_COLUMNS))
    motion[:, [2, 4]] = 5.0
    motion[:, [3, 5]] = 5.0
    motion[1, 6] = np.pi  # the second badge's wearer faces away from the reader
    heard = _one_advertisement_each(table, params, motion)
    facing, away = heard.rssi[heard.badge == 0][0], heard.rssi[heard.badge == 1][0]
    assert facing - away == pytest.approx(params.body_db, abs=1.0)


def test_readers_that_are_down_hear_nothing_and_output_is_time_ordered(tetam):
    params = dataclasses.replace(RadioParams(), candidates=12)
    samples = dataclasses.replace(
        tetam, tag_xyz=tetam.tag_xyz[:500], reader_xyz=tetam.reader_xyz[:500], rssi=tetam.rssi[:500]
    )
    fp = _open_hall(tetam.reader_xyz)
    table = build_reader_table(fp, params)
    n = 500
    motion = np.zeros((n, MOTION_COLUMNS))
    motion[:, [2, 4]] = samples.tag_xyz[:, [0]]
    motion[:, [3, 5]] = samples.tag_xyz[:, [1]]
    up = np.ones(len(fp.readers), bool)
    up[[0, 3]] = False
    phase = np.random.default_rng(2).uniform(0, 1, n)
    heard = hear_step(
        table, params, (motion, motion), (np.ones(n, bool), phase), (100.0, 101.0), up, 5
    )
    assert len(heard.t) > n
    assert not np.isin(heard.reader, [0, 3]).any()
    assert (np.diff(heard.t) >= 0).all()
    assert (heard.rssi >= params.sensitivity_dbm).all()
    again = hear_step(
        table, params, (motion, motion), (np.ones(n, bool), phase), (100.0, 101.0), up, 5
    )
    assert heard.rssi.tobytes() == again.rssi.tobytes()


def test_a_badge_by_a_wall_is_heard_from_its_own_side():
    """Walls are counted from where the badge is, not from the centre of its table cell.

    The wall between the two rooms is at x 10, which is the centre of the table cell
    [9, 11): a badge at 9.3 is in the west room and must hear the east room's reader
    through the wall, and the badge at 10.7 the west room's.
    """
    params = dataclasses.replace(RadioParams(), sigma_db=0.0, packet_loss=0.0, body_db=0.0)
    west = Zone(
        "west", "west", "L0", ZoneKind.CLASSROOM, Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    )
    east = Zone(
        "east", "east", "L0", ZoneKind.CLASSROOM, Polygon([(10, 0), (20, 0), (20, 10), (10, 10)])
    )
    readers = (Reader("r-west", "L0", 5.0, 5.0, 2.5), Reader("r-east", "L0", 15.0, 5.0, 2.5))
    fp = Floorplan(Site("s", "s"), (Level("L0", 0, "ground"),), (west, east), readers)
    table = build_reader_table(fp, params)
    assert table.grid[0, 0] + 7.5 * params.cell_m == 10.0  # the wall is on a cell's centre
    motion = np.zeros((2, MOTION_COLUMNS))
    motion[:, [2, 4]] = np.array([[9.3], [10.7]])
    motion[:, [3, 5]] = 5.0
    heard = _one_advertisement_each(table, params, motion)
    rssi = {
        (int(b), int(r)): float(v)
        for b, r, v in zip(heard.badge, heard.reader, heard.rssi, strict=True)
    }

    def open_path(x: float, reader_x: float) -> float:
        d = np.sqrt((x - reader_x) ** 2 + (2.5 - params.tag_height_m) ** 2)
        return params.rssi_1m - 10 * params.exponent * np.log10(d)

    assert rssi[0, 0] == pytest.approx(open_path(9.3, 5.0), abs=0.5)
    assert rssi[0, 1] == pytest.approx(open_path(9.3, 15.0) - params.wall_db, abs=0.5)
    assert rssi[1, 1] == pytest.approx(open_path(10.7, 15.0), abs=0.5)
    assert rssi[1, 0] == pytest.approx(open_path(10.7, 5.0) - params.wall_db, abs=0.5)
