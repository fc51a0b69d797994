"""The tetam floorplan: loads cleanly, readers are the data set's sensors, walkable space fits."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import shapely

from engine.tracking import WalkableGrid
from sts.floorplan_io import load_floorplan

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "tetam-ble"


def test_loads_without_problems_and_readers_are_the_sensors() -> None:
    loaded = load_floorplan(ROOT / "floorplans" / "tetam")
    assert loaded.warnings == ()
    fp = loaded.floorplan
    line = next(
        ln for ln in (DATA / "tetam.dev").read_text().splitlines() if ln.startswith("Dongles")
    )
    sensors = ast.literal_eval(line.split(":", 1)[1].strip())
    assert {r.id for r in fp.readers} == set(sensors)
    for r in fp.readers:
        assert [r.x, r.y, r.z] == sensors[r.id][0]
    assert [lv.id for lv in fp.levels] == ["L0"]


def test_true_positions_lie_in_walkable_space() -> None:
    fp = load_floorplan(ROOT / "floorplans" / "tetam").floorplan
    grid = WalkableGrid.from_floorplan(fp, cell=0.25, tolerance=0.25)
    floor = fp.zone("tetam-floor").polygon
    furniture = [z.polygon for z in fp.zones if z.properties.get("walkable") is False]
    assert furniture and all(not f.overlaps(floor) for f in furniture)
    for path in sorted(DATA.glob("*.mbd")):
        with open(path, newline="") as fh:
            xy = np.array([[float(r[4]), float(r[5])] for r in csv.reader(fh) if r])
        px, py = grid.project(np.zeros(len(xy), np.int32), xy[:, 0], xy[:, 1])
        moved = np.hypot(px - xy[:, 0], py - xy[:, 1])
        # The occupancy grid is 0.5 m: a few true positions graze furniture or walls.
        assert np.mean(moved == 0) > 0.9, path.name
        assert np.percentile(moved, 99) < 0.6, path.name
        assert shapely.contains_xy(floor.buffer(0.6), xy[:, 0], xy[:, 1]).mean() > 0.99
