"""Walls on a raster of rooms: the count agrees with shapely's line crossings, a wall's
own thickness is one wall (or none at a line's end), open ground is no wall."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from geometry.model import Floorplan, Level, Site, Zone, ZoneKind
from geometry.walls import RasterFrame, count_walls, room_raster

#: 3 x 2 rooms of 4 x 3 m sharing their walls, and a lawn (not walled) south of them.
ROOMS = [box(4.0 * i, 3.0 * j, 4.0 * (i + 1), 3.0 * (j + 1)) for i in range(3) for j in range(2)]
CELL = 0.25


def plan(rooms: list[shapely.Polygon]) -> Floorplan:
    zones = [Zone(f"r{i}", f"R{i}", "L0", ZoneKind.ROOM, p) for i, p in enumerate(rooms)]
    zones.append(Zone("lawn", "Lawn", "L0", ZoneKind.OUTDOOR, box(0, -6, 12, 0)))
    return Floorplan(Site("s", "S"), (Level("L0", 0, "G"),), tuple(zones))


def walls(fp: Floorplan, a: tuple[float, float], b: tuple[float, float], slit: float) -> int:
    frame = RasterFrame.around(fp, CELL, margin_m=1.0)
    raster = room_raster(fp, "L0", frame)
    return int(count_walls(raster, (frame.x0, frame.y0, frame.cell_m), a, b, slit))


GRID = plan(ROOMS)
inside = st.tuples(st.floats(0.3, 11.7), st.floats(0.3, 5.7))


@settings(max_examples=200, deadline=None)
@given(inside, inside)
def test_walls_are_the_room_boundaries_the_line_crosses(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    line = LineString([a, b])
    # Away from the rooms' edges and corners, where a raster cell may fall either side.
    edges = shapely.union_all([r.boundary for r in ROOMS])
    if any(Point(p).distance(edges) < 0.3 for p in (a, b)):
        return
    corners = shapely.MultiPoint([c for r in ROOMS for c in r.exterior.coords])
    if line.distance(corners) < 0.3:
        return
    crossed = max(sum(line.intersection(r).length > 1e-9 for r in ROOMS) - 1, 0)
    assert walls(GRID, a, b, 0.0) == crossed


def test_a_thin_strip_between_two_rooms_is_one_wall_and_a_reader_on_it_is_behind_none() -> None:
    # Two rooms either side of a 0.3 m wall that is in neither.
    fp = plan([box(0, 0, 3.85, 3), box(4.15, 0, 8, 3)])
    for y in np.linspace(0.5, 2.5, 9):
        assert walls(fp, (1.0, y), (7.0, y), 0.6) == 1
        assert walls(fp, (1.0, y), (4.0, 1.5), 0.6) == 0  # a reader mounted on the wall
        assert walls(fp, (7.0, y), (4.0, 1.5), 0.6) == 0
    # The simulator's count (slit 0): every change of room, so at least the one wall.
    assert walls(fp, (1.0, 1.5), (7.0, 1.5), 0.0) in (1, 2)


def test_open_ground_is_no_wall_but_leaving_a_room_onto_it_is_one() -> None:
    assert walls(GRID, (2.0, -3.0), (10.0, -4.0), 0.6) == 0  # across the lawn
    assert walls(GRID, (2.0, -3.0), (2.0, 1.5), 0.6) == 1  # lawn -> room
    assert walls(GRID, (2.0, 1.5), (2.0, -3.0), 0.6) == 1  # and back
    assert walls(GRID, (2.0, 1.5), (2.0, 4.5), 0.6) == 1  # room -> room
    assert walls(GRID, (2.0, -3.0), (2.0, 4.5), 0.6) == 2
