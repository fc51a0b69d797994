"""Zone lookup throughput (pytest-benchmark): Northfield, and 100 to 20,000 zones.

    .venv/bin/python -m pytest benchmarks/bench_zone_index.py --benchmark-only \
        --benchmark-columns=min,median,ops -q

Every bulk case queries 1,000,000 points (80% near a random zone, 20% anywhere: see
`synthetic_campus.random_points`) and gets every zone containing each point with the
distance to its boundary. `ops` x 1,000,000 is points per second. One core is the
query on the calling thread (`parallel=False`); "all cores" the parallel kernel. The
live case is one engine tick of 40 fixes on Northfield, by default on the calling
thread (below `ZoneIndexSettings.parallel_from_points`). The side-by-side comparison
with shapely, and the live batch sizes with a busy core, are
`zone_lookup_side_by_side.py`.
"""

from __future__ import annotations

import os

import numba
import pytest
from synthetic_campus import campus, northfield, random_points

from geometry.zone_index import ZoneIndex

N_POINTS = 1_000_000
SIZES = (100, 1_000, 20_000)


def _world(size: int | None) -> tuple[ZoneIndex, tuple]:
    """A compiled index and its points: Northfield (size None) or a synthetic campus."""
    if size is None:
        _, level_ids, zones = northfield()
    else:
        level_ids, zones = campus(size)
    index = ZoneIndex(level_ids, zones)
    pts = random_points(zones, N_POINTS, seed=1, levels=level_ids)
    index.query(*(a[:10] for a in pts))  # compile the grid and the kernels outside timing
    index.query(*(a[:50_000] for a in pts), parallel=True)
    return index, pts


@pytest.fixture(scope="module", params=[None, *SIZES], ids=["northfield", *map(str, SIZES)])
def world(request: pytest.FixtureRequest) -> tuple[ZoneIndex, tuple]:
    """One index and point set per campus, shared by the one- and all-core cases."""
    return _world(request.param)


def test_query_one_core(benchmark, world) -> None:
    """Both passes on the calling thread."""
    index, pts = world
    hits = benchmark.pedantic(
        index.query, args=pts, kwargs={"parallel": False}, rounds=7, iterations=1
    )
    assert len(hits) == N_POINTS and len(hits.zone) > 0


def test_live_tick_of_40_fixes(benchmark) -> None:
    """One engine tick's query: 40 fixes on Northfield, the default (serial) path."""
    index, pts = _world(None)
    tick = tuple(a[:40] for a in pts)
    hits = benchmark(index.query, *tick)
    assert len(hits) == 40


def test_query_all_cores(benchmark, world) -> None:
    """Parallel kernel on every core (2 on the reference machine)."""
    index, pts = world
    numba.set_num_threads(os.cpu_count() or 1)
    hits = benchmark.pedantic(
        index.query, args=pts, kwargs={"parallel": True}, rounds=7, iterations=1
    )
    assert len(hits) == N_POINTS and len(hits.zone) > 0


@pytest.mark.parametrize("parallel", [False, True], ids=["one_core", "all_cores"])
def test_membership_only(benchmark, world, parallel) -> None:
    """`distances=False`: the same kernel without the distances, serial or parallel."""
    index, pts = world
    numba.set_num_threads(os.cpu_count() or 1)
    hits = benchmark.pedantic(
        index.query,
        args=pts,
        kwargs={"parallel": parallel, "distances": False},
        rounds=7,
        iterations=1,
    )
    assert len(hits) == N_POINTS and len(hits.zone) > 0 and len(hits.distance) == 0
