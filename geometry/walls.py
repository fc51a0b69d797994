"""Walls between rooms: a raster of each level's rooms and the walls a straight line crosses.

A level is cut into square cells; each cell holds the number (+1) of the walled zone
(a room, a corridor, stairs...) that covers its centre, 0 where none does (open ground,
a wall's own thickness between two rooms). Walking the straight line between two points
on that raster, every change of room is a wall. The radio simulator (simulator/radio.py)
and the locator's wall correction (engine/wall_loss.py) both count walls this way.

A plan whose rooms are cut along the middle of their walls leaves a thin strip of no room
between two of them; `slit_m` says how long a run of no room between two rooms may be and
still be one wall (0: every change counts, the strip is two walls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from numba import njit

from geometry.model import ROOM_LIKE_KINDS, Floorplan, ZoneKind

#: Zones whose outline is a wall (the rest are containers or open ground).
WALLED_KINDS = ROOM_LIKE_KINDS | {
    ZoneKind.STAIRS,
    ZoneKind.ELEVATOR,
    ZoneKind.STAFF_ONLY,
    ZoneKind.RESTRICTED,
}


@dataclass(frozen=True, slots=True)
class RasterFrame:
    """Where a raster lies: its south-west corner (x0, y0), cell side and size in cells."""

    x0: float
    y0: float
    cell_m: float
    columns: int
    rows: int

    @classmethod
    def around(cls, floorplan: Floorplan, cell_m: float, margin_m: float) -> RasterFrame:
        """A frame over every zone and reader of the site, with a margin."""
        bounds = np.array(
            [z.polygon.bounds for z in floorplan.zones]
            + [[r.x, r.y, r.x, r.y] for r in floorplan.readers]
        ).reshape(-1, 4)
        x0, y0 = bounds[:, 0].min() - margin_m, bounds[:, 1].min() - margin_m
        x1, y1 = bounds[:, 2].max() + margin_m, bounds[:, 3].max() + margin_m
        columns = int(np.ceil((x1 - x0) / cell_m))
        rows = int(np.ceil((y1 - y0) / cell_m))
        return cls(float(x0), float(y0), float(cell_m), columns, rows)


def room_raster(floorplan: Floorplan, level_id: str, frame: RasterFrame) -> npt.NDArray[np.int32]:
    """Walled zone number + 1 at each cell centre of a level, (rows, columns); 0: none."""
    xs = frame.x0 + (np.arange(frame.columns) + 0.5) * frame.cell_m
    ys = frame.y0 + (np.arange(frame.rows) + 0.5) * frame.cell_m
    gx, gy = np.meshgrid(xs, ys)
    raster = np.zeros(gx.shape, dtype=np.int32)
    walled = [z for z in floorplan.zones_on(level_id) if z.kind in WALLED_KINDS]
    # Larger rooms first, so a room nested in another (a store in a hall) wins.
    for number, zone in sorted(enumerate(walled), key=lambda nz: -nz[1].polygon.area):
        bx0, by0, bx1, by1 = zone.polygon.bounds
        sel = (gx >= bx0) & (gx <= bx1) & (gy >= by0) & (gy <= by1)
        inside = shapely.contains_xy(zone.polygon, gx[sel], gy[sel])
        idx = np.flatnonzero(sel.ravel())[inside]
        raster.ravel()[idx] = number + 1
    return raster


@njit(cache=True)
def count_walls(
    raster: np.ndarray,
    frame: tuple[float, float, float],
    a: tuple[float, float],
    b: tuple[float, float],
    slit_m: float,
) -> int:
    """Walls along the straight line a -> b on `raster` (frame: x0, y0, cell side).

    Each change of room is one. A run of no room shorter than `slit_m` is a wall's own
    thickness: between two rooms it is one wall, not two, and at either end of the line
    (a reader mounted on a wall) it is none. Points off the raster are no room.
    """
    x0, y0, res = frame
    ny, nx = raster.shape
    length = np.hypot(b[0] - a[0], b[1] - a[1])
    steps = max(int(length / (res * 0.5)), 1)
    step_m = length / steps
    walls = 0
    prev = -1
    left = 0  # the room the current run of no room was entered from (0: the line's start)
    run_m = 0.0  # how long that run is so far
    for s in range(steps + 1):
        f = s / steps
        i = int(np.floor((a[1] + (b[1] - a[1]) * f - y0) / res))
        j = int(np.floor((a[0] + (b[0] - a[0]) * f - x0) / res))
        cell = raster[i, j] if 0 <= i < ny and 0 <= j < nx else 0
        if prev > 0 and cell == 0:
            left, run_m = prev, 0.0
        elif prev == 0 and cell > 0:
            # Out of the run: the wall of the room before it (if any), and, past a wall's
            # thickness, this room's own.
            walls += (1 if left > 0 else 0) + (1 if run_m >= slit_m else 0)
        elif prev > 0 and cell != prev:
            walls += 1
        if cell == 0:
            run_m += step_m
        prev = cell
    if prev == 0 and left > 0 and run_m >= slit_m:
        walls += 1  # the line ends in the open, out of a room
    return walls
