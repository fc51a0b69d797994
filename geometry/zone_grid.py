"""Compiling zones to the candidate grid the query kernels read (`pip_kernel.Grid`).

Each level's zones are laid on a uniform grid. A cell lists, in ascending zone number,
the zones that can contain a point of it, as *entries*: FULL when the (padded) cell
lies strictly inside the zone (no inside test), else an edge of the zone touches it.
Cells strictly outside a zone do not list it.

Each entry has its own list of edges: for a non-FULL entry every edge that can cross a
horizontal ray going right from a point of the cell (so the crossing number is exact),
and for every entry each edge that can be nearest to a point of the cell. With
U = min over edges of the largest distance from a corner of the cell to the edge (a
segment's distance is convex, so its maximum over the cell is at a corner), no point
of the cell is farther than U from the boundary: an edge farther than U from the whole
cell is never nearest, and the minimum over the kept edges is the exact distance.

Cells are padded by a millionth of their size when the lists are made, so a point that
rounding puts in a neighbouring cell is still covered by that cell's lists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from geometry.errors import InputError
from geometry.pip_kernel import (
    EDGE_COLS,
    ENTRY_HEAD,
    FloatArray,
    Grid,
    Int32Array,
    IntArray,
    crosses,
    seg_dist2,
)

#: Automatic cell size: this fraction of the median short side of the zones' bounds.
#: Small cells leave fewer points in cells a wall crosses (the only ones that need the
#: crossing test) and keep each list short.
CELL_FRACTION = 1.0 / 9.0

#: Most grid cells one level may have.
MAX_CELLS = 50_000_000

Box = tuple[float, float, float, float]


def edge_rows(seg: FloatArray) -> FloatArray:
    """Edges (ax, ay, bx, by) as the kernels' rows: with dx, dy and 1/length^2."""
    rows = np.zeros((len(seg), EDGE_COLS), np.float64)
    rows[:, :4] = seg
    dx = seg[:, 2] - seg[:, 0]
    dy = seg[:, 3] - seg[:, 1]
    rows[:, 4] = dx
    rows[:, 5] = dy
    rows[:, 6] = 1.0 / (dx * dx + dy * dy)
    return rows


def auto_cell_size(bounds: FloatArray) -> float:
    """CELL_FRACTION of the median short side of the zones' bounds (rows xmin, ymin, xmax,
    ymax), coarsened so the cell count stays proportional to the zone count."""
    width = float(bounds[:, 2].max() - bounds[:, 0].min())
    height = float(bounds[:, 3].max() - bounds[:, 1].min())
    short = np.minimum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    size = max(CELL_FRACTION * float(np.median(short)), max(width, height, 1e-9) / 4096.0, 1e-6)
    # past a floor that plans with large grounds (Northfield's fields) need
    most = min(max(65_536, 128 * len(bounds)), 8_000_000)
    while (width / size + 1.0) * (height / size + 1.0) > most:
        size *= 1.25
    return size


def compile_grid(
    levels: Sequence[str],
    edges: FloatArray,
    zone_start: IntArray,
    zone_level: IntArray,
    bounds: FloatArray,
    cell_size: float | None,
) -> Grid:
    """The grid of every level. Zone z: edge rows edges[zone_start[z]:zone_start[z + 1]]
    (`edge_rows`), level zone_level[z] (-1: no zone has number z), bounds[z]."""
    geometry = np.array(
        [
            _level_geometry(name, bounds[zone_level == code], cell_size)
            for code, name in enumerate(levels)
        ],
        np.float64,
    ).reshape(-1, 5)
    size = geometry[:, 2].copy()
    nx, ny = geometry[:, 3].astype(np.int64), geometry[:, 4].astype(np.int64)
    first_cell = np.concatenate([[0], np.cumsum(nx * ny)[:-1]]).astype(np.int64)
    cells, no_stream = np.zeros((int((nx * ny).sum()) + 1, 2), np.int64), np.zeros(0, np.int32)
    x0, y0 = geometry[:, 0].copy(), geometry[:, 1].copy()
    grid = Grid(x0, y0, 1.0 / size, nx, ny, first_cell, cells, no_stream, edges, zone_start)
    pairs = _candidate_pairs(grid, size, zone_level, bounds)
    return grid._replace(stream=_grid_stream(grid, size, zone_level, pairs))


def _level_geometry(
    name: str, bounds: FloatArray, cell_size: float | None
) -> tuple[float, float, float, int, int]:
    """(x0, y0, cell size, nx, ny) of the grid over zones of these bounds."""
    if len(bounds) == 0:
        return (0.0, 0.0, 1.0, 1, 1)
    size = cell_size or auto_cell_size(bounds)
    # one cell of margin so points on the max edge of the extent still fall in the grid
    x0, y0 = float(bounds[:, 0].min()) - size, float(bounds[:, 1].min()) - size
    nx = math.floor((bounds[:, 2].max() - x0) / size) + 2
    ny = math.floor((bounds[:, 3].max() - y0) / size) + 2
    if nx * ny > MAX_CELLS:
        raise InputError(
            f"level {name!r}: a cell size of {size} m makes {nx * ny} grid cells (at most "
            f"{MAX_CELLS}); give a larger cell_size_m or leave it automatic"
        )
    return (x0, y0, size, nx, ny)


def _candidate_pairs(
    g: Grid, size: FloatArray, zone_level: IntArray, bounds: FloatArray
) -> tuple[IntArray, IntArray]:
    """(global cell, zone) for every cell of every zone's padded bounds, cell by cell
    and in a cell by ascending zone number."""
    zones = np.flatnonzero(zone_level >= 0)
    lv = zone_level[zones]
    origin = np.column_stack([g.x0, g.y0])[lv]
    pad = size[lv, None] * 1e-6
    lo = np.floor((bounds[zones, :2] - pad - origin) / size[lv, None])
    hi = np.floor((bounds[zones, 2:] + pad - origin) / size[lv, None])
    lo = np.maximum(lo, 0).astype(np.int64)
    hi = np.minimum(hi, np.column_stack([g.nx, g.ny])[lv] - 1).astype(np.int64)
    width, count = hi[:, 0] - lo[:, 0] + 1, np.prod(hi - lo + 1, axis=1)
    which = np.repeat(np.arange(len(zones)), count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    iy, ix = lo[which, 1] + step // width[which], lo[which, 0] + step % width[which]
    cell = g.first_cell[lv[which]] + iy * g.nx[lv[which]] + ix
    order = np.argsort(cell, kind="stable")
    return cell[order], zones[which][order]


@njit(cache=True)
def _seg_box_intersects(ax: float, ay: float, bx: float, by: float, box: Box) -> bool:
    """Whether a segment touches a closed axis-aligned box (conservative on ties)."""
    x0, y0, x1, y1 = box
    if max(ax, bx) < x0 or min(ax, bx) > x1 or max(ay, by) < y0 or min(ay, by) > y1:
        return False
    dx = bx - ax
    dy = by - ay
    s1 = dx * (y0 - ay) - dy * (x0 - ax)
    s2 = dx * (y0 - ay) - dy * (x1 - ax)
    s3 = dx * (y1 - ay) - dy * (x0 - ax)
    s4 = dx * (y1 - ay) - dy * (x1 - ax)
    # all four corners strictly on one side of the line: no contact
    return not (
        (s1 > 0 and s2 > 0 and s3 > 0 and s4 > 0) or (s1 < 0 and s2 < 0 and s3 < 0 and s4 < 0)
    )


@njit(cache=True)
def _classify(seg: FloatArray, e0: int, e1: int, box: Box) -> tuple[int, float]:
    """How a zone (edges seg[e0:e1]) meets a padded cell, and the cell's distance bound U.

    (-1: outside, 0: an edge touches the cell, 1: FULL) as its centre is when no edge
    touches it (then the whole cell is on the centre's side), U with a little slack.
    """
    x0, y0, x1, y1 = box
    mx = 0.5 * (x0 + x1)
    my = 0.5 * (y0 + y1)
    bound = np.inf
    touched = False
    inside = False
    for e in range(e0, e1):
        ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
        far = max(seg_dist2(x0, y0, ax, ay, bx, by), seg_dist2(x1, y0, ax, ay, bx, by))
        far = max(far, seg_dist2(x0, y1, ax, ay, bx, by), seg_dist2(x1, y1, ax, ay, bx, by))
        bound = min(bound, far)
        touched |= _seg_box_intersects(ax, ay, bx, by, box)
        inside ^= crosses(my, ay, by, (bx - ax) * (my - ay) - (by - ay) * (mx - ax), by - ay)
    kind = 0 if touched else (1 if inside else -1)
    return kind, bound * (1.0 + 1e-9) + 1e-18


@njit(cache=True)
def _grid_stream(
    g: Grid, size: FloatArray, zone_level: IntArray, pairs: tuple[IntArray, IntArray]
) -> Int32Array:
    """The stream of entries (`pip_kernel.Grid`) from the candidate (cell, zone) pairs,
    in cell order; fills g.cells (zeros) with every cell's run start and entry count."""
    cells = g.cells
    stream = np.empty(4096, np.int32)
    n = 0
    pair_cell, pair_zone = pairs
    for p in range(pair_cell.shape[0]):
        c, z = pair_cell[p], pair_zone[p]
        lv = zone_level[z]
        iy, ix = divmod(c - g.first_cell[lv], g.nx[lv])
        pad = size[lv] * 1e-6
        x0 = g.x0[lv] + ix * size[lv]
        y0 = g.y0[lv] + iy * size[lv]
        box = (x0 - pad, y0 - pad, x0 + size[lv] + pad, y0 + size[lv] + pad)
        e0, e1 = g.zone_start[z], g.zone_start[z + 1]
        kind, bound = _classify(g.edges, e0, e1, box)
        if kind < 0:
            continue
        if n + ENTRY_HEAD + e1 - e0 > stream.shape[0]:
            stream = np.concatenate((stream, np.empty(stream.shape[0] + e1 - e0, np.int32)))
        stream[n] = z
        stream[n + 1] = kind
        m = n + ENTRY_HEAD
        for e in range(e0, e1):
            ax, ay, bx, by = g.edges[e, 0], g.edges[e, 1], g.edges[e, 2], g.edges[e, 3]
            # no nearer to the cell than its bounding box: a superset of the edges within U
            near = (
                max(box[0] - max(ax, bx), 0.0, min(ax, bx) - box[2]) ** 2
                + max(box[1] - max(ay, by), 0.0, min(ay, by) - box[3]) ** 2
            ) <= bound
            # a ray going right from a point of the cell may cross it
            ray = (max(ay, by) >= box[1]) & (min(ay, by) <= box[3]) & (max(ax, bx) >= box[0])
            if near or (kind == 0 and ray):
                stream[m] = e - e0
                m += 1
        stream[n + 2] = m - n - ENTRY_HEAD
        cells[c + 1, 0] += m - n  # (the run lengths, summed below)
        cells[c, 1] += 1
        n = m
    cells[:, 0] = np.cumsum(cells[:, 0])
    return stream[:n].copy()
