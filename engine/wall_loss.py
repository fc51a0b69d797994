"""Walls between the badge and a reader: each one costs the reading `wall_db`.

The path-loss model of the solver knows distance only. In a flat or a school, a reader
behind a wall reads a badge weaker than its distance says, and a per-reader fit on a
survey averages that over the rooms it was heard from. With the walls counted (geometry/
walls.py: each change of room along the straight line), a reading plus walls x wall_db
is what the reader would have read in the open: what the model expects.

The walls depend on where the badge is, which is what is being solved for: the locator
counts them at an estimate (the fix of a first solve), adds them back to the readings
and solves again. `sts calibrate` fits wall_db on the survey (`sts.survey_fit.
fit_wall_db`); 0 turns the correction off, and a plan with one room has no walls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from numba import njit

from geometry.model import Floorplan
from geometry.walls import RasterFrame, count_walls, room_raster

#: Cell side of the room raster, m: finer than any wall-to-wall distance indoors.
CELL_M = 0.25
#: Cell side of the walls lookup, m: walls are counted from a cell's centre, once per
#: reader and cell, the first time a fix falls in it.
LOOKUP_CELL_M = 0.5
#: A lookup entry not counted yet.
UNKNOWN = 255
#: A run of no room between two rooms up to this long is the wall between them (plans
#: cut along the middle of their walls leave such a strip).
SLIT_M = 0.6
#: Walls counted at most: beyond, the signal comes round them (doors, corridors).
MAX_WALLS = 4


@dataclass(frozen=True, slots=True, eq=False)
class WallMap:
    """The rooms of every level of a site as a raster, its readers' places on it, and
    the walls between each reader and each cell of a coarser lookup raster of its level
    (counted on first use: a cell no fix ever falls in costs nothing; each entry is a
    function of the plan alone, so the order of the fixes does not change any count)."""

    rooms: npt.NDArray[np.int32]  # (levels, rows, columns): walled zone number + 1, 0 none
    frame: RasterFrame
    reader_xy: npt.NDArray[np.float64]  # (R, 2)
    reader_level: npt.NDArray[np.int32]  # (R,) index into the floorplan's levels
    lookup_frame: RasterFrame
    max_walls: int = MAX_WALLS
    slit_m: float = SLIT_M
    walled: bool = field(init=False)  # two rooms or more on some level
    lookup: npt.NDArray[np.uint8] = field(init=False)  # (R, rows, columns), UNKNOWN: not yet

    def __post_init__(self) -> None:
        # One room on every level: nothing between a badge inside and a reader inside.
        rooms = [np.unique(level[level > 0]) for level in self.rooms]
        object.__setattr__(self, "walled", any(len(r) > 1 for r in rooms))
        f = self.lookup_frame
        shape = (len(self.reader_xy), f.rows, f.columns) if self.walled else (0, 0, 0)
        object.__setattr__(self, "lookup", np.full(shape, UNKNOWN, np.uint8))

    @classmethod
    def from_floorplan(cls, floorplan: Floorplan, cell_m: float = CELL_M) -> WallMap:
        """The room raster of every level, readers in file order."""
        frame = RasterFrame.around(floorplan, cell_m, margin_m=2.0 * cell_m)
        rooms = np.zeros((max(1, len(floorplan.levels)), frame.rows, frame.columns), np.int32)
        for i, level in enumerate(floorplan.levels):
            rooms[i] = room_raster(floorplan, level.id, frame)
        levels = {lv.id: i for i, lv in enumerate(floorplan.levels)}
        return cls(
            rooms,
            frame,
            np.array([[r.x, r.y] for r in floorplan.readers], np.float64).reshape(-1, 2),
            np.array([levels.get(r.level, 0) for r in floorplan.readers], np.int32),
            RasterFrame.around(floorplan, LOOKUP_CELL_M, margin_m=LOOKUP_CELL_M),
        )

    def walls(
        self,
        level: npt.NDArray[np.int32],
        position: npt.NDArray[np.float64],
        reader: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.float64]:
        """Walls between each row's position (n, 2) on its level (n,) and each of its
        readers (n, k; -1 none), at most `max_walls`, counted from the centre of the
        position's lookup cell; 0 for a reader on another level, an unused slot or a
        position that is not finite."""
        if not self.walled:
            return np.zeros(reader.shape)
        f, g = self.frame, self.lookup_frame
        return _walls_to_readers(
            (self.rooms, (f.x0, f.y0, f.cell_m)),
            (self.lookup, (g.x0, g.y0, g.cell_m)),
            (level, position, reader),
            (self.reader_xy, self.reader_level),
            (self.slit_m, self.max_walls),
        )


@njit(cache=True)
def _walls_to_readers(
    rooms: tuple[np.ndarray, tuple[float, float, float]],
    lookup: tuple[np.ndarray, tuple[float, float, float]],
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    readers: tuple[np.ndarray, np.ndarray],
    limits: tuple[float, int],
) -> np.ndarray:
    """`WallMap.walls` over every row and reader slot, filling the lookup on the way."""
    raster, room_frame = rooms
    table, (lx0, ly0, cell) = lookup
    level, position, reader = rows
    reader_xy, reader_level = readers
    slit_m, max_walls = limits
    n, k = reader.shape
    _, n_rows, n_cols = table.shape
    out = np.zeros((n, k))
    for i in range(n):
        x, y = position[i, 0], position[i, 1]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        row = min(max(int(np.floor((y - ly0) / cell)), 0), n_rows - 1)
        col = min(max(int(np.floor((x - lx0) / cell)), 0), n_cols - 1)
        centre = (lx0 + (col + 0.5) * cell, ly0 + (row + 0.5) * cell)
        for j in range(k):
            r = reader[i, j]
            if r < 0 or reader_level[r] != level[i]:
                continue
            if table[r, row, col] == UNKNOWN:
                to = (reader_xy[r, 0], reader_xy[r, 1])
                walls = count_walls(raster[level[i]], room_frame, centre, to, slit_m)
                table[r, row, col] = min(walls, max_walls)
            out[i, j] = table[r, row, col]
    return out
