"""`sts zones` bulk lookup (pytest-benchmark): parse, look up and format 1,000,000 points.

    .venv/bin/python -m pytest benchmarks/bench_cmd_zones.py --benchmark-only \
        --benchmark-columns=min,median,ops -q

The points are uniform over the Northfield campus and its car park on both levels
(84% fall in at least one zone). `ops` x 1,000,000 is points per second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sts.floorplan_io import load_floorplan
from sts.points_csv import PointsChunk, read_points
from sts.zone_lookup import ZoneLookup

ROOT = Path(__file__).resolve().parents[1]
N = 1_000_000


@pytest.fixture(scope="module")
def points_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1)
    level = rng.choice(["L0", "L1"], N)
    x = np.round(rng.uniform(0, 220, N), 3)
    y = np.round(rng.uniform(0, 120, N), 3)
    path = tmp_path_factory.mktemp("zones") / "points.csv"
    body = "\n".join(map("{},{},{}".format, level.tolist(), x.tolist(), y.tolist()))
    path.write_text("level,x,y\n" + body + "\n")
    return path


@pytest.fixture(scope="module")
def plan() -> Any:
    return load_floorplan(ROOT / "floorplans" / "northfield").floorplan


def test_parse(benchmark: Any, points_csv: Path) -> None:
    chunks = benchmark(read_points, points_csv, ["L0", "L1"])
    assert sum(len(c.level) for c in chunks) == N


def _lookup_all(lookup: ZoneLookup, chunks: list[PointsChunk]) -> list[Any]:
    return [lookup.zones_column(c, wgs84=False) for c in chunks]


def test_lookup_and_format(benchmark: Any, points_csv: Path, plan: Any) -> None:
    chunks = read_points(points_csv, ["L0", "L1"])
    lookup = ZoneLookup(plan)
    _lookup_all(lookup, chunks)  # numba kernels loaded outside timing
    columns = benchmark(_lookup_all, lookup, chunks)
    empty = sum(c.to_pylist().count("") for c in columns)
    assert sum(len(c) for c in columns) == N and empty < N // 4
