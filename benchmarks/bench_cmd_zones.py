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

from sts.commands.zones import read_points, zones_column
from sts.floorplan_io import load_floorplan

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
    pts = benchmark(read_points, points_csv, ["L0", "L1"])
    assert len(pts.lines) == N


def test_lookup_and_format(benchmark: Any, points_csv: Path, plan: Any) -> None:
    pts = read_points(points_csv, ["L0", "L1"])
    zones_column(plan, pts, points_csv)  # numba kernels loaded outside timing
    column = benchmark(zones_column, plan, pts, points_csv)
    assert len(column) == N and column.count("") < N // 4
