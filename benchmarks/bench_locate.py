"""The whole ReadingBatch -> positions path (windowing, trilateration, tracking).

Target (issue 3): at least 1,000,000 readings/s on this machine, one process.
Workload: the tetam floorplan (12 readers), 2,000 tags walking for 20 s, each heard
about 24 times a second (the rate of the real tetam recordings): 960,000 readings.

    .venv/bin/python -m pytest benchmarks/bench_locate.py --benchmark-only \
        --benchmark-columns=min,median,ops -q
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box

from engine.batches import ReadingBatch
from engine.gain_offset import GainSpec
from engine.locate import Locator, LocatorConfig
from engine.radio_map import RadioMap, Residuals, Smoothing, smooth_residuals
from engine.tracking import TrackerSpec, TrackState, WalkableGrid, track
from engine.windowing import Statistic, WindowSpec, window_readings
from geometry.model import Floorplan, Zone, ZoneKind

ROOT = Path(__file__).resolve().parent.parent
N_TAGS = 2000
SECONDS = 20
RATE = 24  # readings per tag per second


def load_tetam() -> Floorplan:
    """The tetam floorplan through the application loader."""
    from sts.floorplan_io import load_floorplan

    return load_floorplan(ROOT / "floorplans" / "tetam").floorplan


def synthetic_readings(fp: Floorplan, seed: int = 1) -> ReadingBatch:
    """Tags walking straight lines at 1 m/s; log-distance RSSI with 6 dB noise, time order."""
    rng = np.random.default_rng(seed)
    xyz = np.array([[r.x, r.y, r.z] for r in fp.readers])
    n = N_TAGS * SECONDS * RATE
    t = np.sort(rng.uniform(0.0, SECONDS, n))
    tag = rng.integers(0, N_TAGS, n).astype(np.int32)
    reader = rng.integers(0, len(xyz), n).astype(np.int32)
    start = rng.uniform([2, 2], [18, 15], (N_TAGS, 2))
    heading = rng.uniform(0, 2 * np.pi, N_TAGS)
    px = np.clip(start[tag, 0] + np.cos(heading[tag]) * t * 0.5, 0, 20.6)
    py = np.clip(start[tag, 1] + np.sin(heading[tag]) * t * 0.5, 0, 17.6)
    d = np.sqrt(
        (px - xyz[reader, 0]) ** 2 + (py - xyz[reader, 1]) ** 2 + (1.2 - xyz[reader, 2]) ** 2
    )
    rssi = np.clip(-62 - 14 * np.log10(d) + rng.normal(0, 6, n), -127, 0)
    return ReadingBatch.from_arrays(t, tag, reader, rssi)


@pytest.fixture(scope="module")
def world() -> tuple[Floorplan, ReadingBatch]:
    fp = load_tetam()
    batch = synthetic_readings(fp)
    # Compile every kernel once outside the timing.
    loc = Locator(fp)
    loc.process(batch.take(np.arange(20000)))
    loc.flush()
    return fp, batch


def test_locate_pipeline(benchmark, world) -> None:
    """Locator.process + flush over ~1M readings: readings/s = len(batch) * ops."""
    fp, batch = world

    def setup():
        return (Locator(fp),), {}

    def run(loc: Locator) -> int:
        return len(loc.process(batch)) + len(loc.flush())

    fixes = benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["readings"] = len(batch)
    benchmark.extra_info["fixes"] = fixes
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert fixes > 0.9 * N_TAGS * SECONDS


@pytest.mark.parametrize(
    "statistic", [Statistic.QUANTILE, Statistic.MEAN], ids=["quantile", "mean"]
)
def test_locate_pipeline_body_and_gain(benchmark, world, statistic: Statistic) -> None:
    """The same, as a site calibrated with the body loss, the gain offset and the radius
    widening beyond its band locates: solved and tracked one update time after the other;
    with the window statistic its survey chose (`sts calibrate`: the upper quartile, or
    the mean with its gain reference near 0)."""
    fp, batch = world
    reference = 2.3 if statistic == Statistic.QUANTILE else 0.2
    config = LocatorConfig(
        window=WindowSpec(statistic=statistic),
        body_db=4.0,
        gain=GainSpec(reference_db=reference),
        uncertainty_per_gain_db=0.6,
    )

    def setup():
        return (Locator(fp, None, config),), {}

    def run(loc: Locator) -> int:
        return len(loc.process(batch)) + len(loc.flush())

    fixes = benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert fixes > 0.9 * N_TAGS * SECONDS


def quartered(fp: Floorplan) -> Floorplan:
    """The tetam hall cut into four rooms (2 x 2) by walls: most fixes have a reader
    behind a wall, the worst case of the wall correction."""
    quarters = tuple(
        Zone(f"q{i}{j}", f"Q{i}{j}", "L0", ZoneKind.ROOM, box(x, y, x + 10.3, y + 8.8))
        for i, x in enumerate((0.0, 10.3))
        for j, y in enumerate((0.0, 8.8))
    )
    return replace(fp, zones=fp.zones + quarters)


def test_locate_pipeline_walls(benchmark, world) -> None:
    """The same readings located on the hall cut into four rooms with a wall loss of
    3 dB (a fix with a wall in the way is solved twice)."""
    fp, batch = world
    walled = quartered(fp)
    config = LocatorConfig(wall_db=3.0)

    def setup():
        return (Locator(walled, None, config),), {}

    def run(loc: Locator) -> int:
        return len(loc.process(batch)) + len(loc.flush())

    fixes = benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert fixes > 0.9 * N_TAGS * SECONDS


def hall_map(fp: Floorplan, seed: int = 3) -> RadioMap:
    """A radio map over the whole tetam hall for every reader (3 dB residuals on a 1 m
    grid, smoothed as `sts calibrate` smooths them): every fix is corrected."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(0.5, 20.6, 1.0), np.arange(0.5, 17.6, 1.0))
    n_readers = len(fp.readers)
    points = np.repeat(np.column_stack((gx.ravel(), gy.ravel())), n_readers, axis=0)
    residuals = Residuals(
        points[:, 0],
        points[:, 1],
        np.zeros(len(points), np.int64),
        np.tile(np.arange(n_readers), gx.size).astype(np.int64),
        rng.normal(0.0, 3.0, len(points)),
    )
    return smooth_residuals(residuals, (1, n_readers), (0.0, 0.0), Smoothing(2.0, 1.0, 0.5))


@pytest.mark.parametrize("walls", [False, True], ids=["map", "map_and_walls"])
def test_locate_pipeline_radio_map(benchmark, world, walls: bool) -> None:
    """The same readings corrected by a radio map covering the hall (every fix solved
    twice), and with the walls of the quartered hall too (both corrections added)."""
    fp, batch = world
    config = LocatorConfig(radio_map=hall_map(fp), wall_db=3.0 if walls else 0.0)
    plan = quartered(fp) if walls else fp

    def setup():
        return (Locator(plan, None, config),), {}

    def run(loc: Locator) -> int:
        return len(loc.process(batch)) + len(loc.flush())

    fixes = benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert fixes > 0.9 * N_TAGS * SECONDS


def test_locate_streaming_1s_batches(benchmark, world) -> None:
    """The same readings fed as 1 s batches (how a live site arrives)."""
    fp, batch = world
    cuts = np.searchsorted(batch.t, np.arange(1, SECONDS))
    parts = [
        batch.take(np.arange(a, b))
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(batch)], strict=True)
    ]

    def setup():
        return (Locator(fp),), {}

    def run(loc: Locator) -> int:
        n = sum(len(loc.process(p)) for p in parts)
        return n + len(loc.flush())

    fixes = benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert fixes > 0.9 * N_TAGS * SECONDS


def test_windowing_only(benchmark, world) -> None:
    """Windowing alone (sort + numba sweep)."""
    fp, batch = world
    spec = WindowSpec()
    w = benchmark(window_readings, batch, len(fp.readers), spec, 0, SECONDS * spec.phases)
    benchmark.extra_info["readings_per_s"] = len(batch) / benchmark.stats.stats.median
    assert len(w) > 0


def test_tracking_only(benchmark, world) -> None:
    """The Kalman filter alone over 40,000 fixes (2,000 tags x 20 s)."""
    fp, _ = world
    rng = np.random.default_rng(2)
    n = N_TAGS * SECONDS
    t = np.repeat(np.arange(SECONDS, dtype=float), N_TAGS)
    tag = np.tile(np.arange(N_TAGS, dtype=np.int32), SECONDS)
    x = rng.uniform(0, 20, n)
    y = rng.uniform(0, 17, n)
    grid = WalkableGrid.from_floorplan(fp)
    spec = TrackerSpec()

    def run() -> int:
        out = track(
            TrackState(),
            spec,
            grid,
            t,
            tag,
            x,
            y,
            np.ones(n),
            np.zeros(n, np.int32),
            np.ones(n, bool),
        )
        return len(out.x)

    assert benchmark(run) == n
    benchmark.extra_info["fixes_per_s"] = n / benchmark.stats.stats.median


def test_config_is_the_default(world) -> None:
    """The benchmark measures what `sts locate` runs."""
    assert Locator(world[0]).config == LocatorConfig()
