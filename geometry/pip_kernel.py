"""Numba kernels of the zone query: which zones contain each point, and how far their edges are.

They read a `Grid` (built by `geometry.zone_grid`): per level a uniform grid whose cells
each have a run of *entries* in one int32 stream, so a point's candidates are one
contiguous read. A FULL entry's cell lies strictly inside its zone: only the distance
is measured. Any other entry's edges can decide the crossing-number test anywhere in
the cell; every entry has the edges that can be nearest to a point of it.

Edge rule (closed zones): a point is on the boundary when the orientation determinant of
an edge is exactly zero and the point lies within the edge's bounding box; it is then
inside with distance 0. Exact for axis-aligned edges and vertices; on slanted edges it is
the floating-point decision. See docs/zone-lookup.md.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit, prange

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

#: Columns of an edge row: ax, ay, bx, by, dx, dy, 1/length^2, padding (64 bytes a row).
EDGE_COLS = 8

#: Stream values before an entry's edges: zone number, FULL (1) or not (0), edge count.
ENTRY_HEAD = 3

#: Output buffers of a query: zone numbers, distances, each point's first hit.
Hits = tuple[Int32Array, FloatArray, IntArray]


class Grid(NamedTuple):
    """Every level's candidate grid as flat arrays, the one value the query kernels take.

    Level l: origin (x0[l], y0[l]), cells of 1/inv_cell[l] metres, nx[l] x ny[l] of them
    (row-major) from global cell first_cell[l]. Cell c: its entries are
    stream[cells[c, 0]:cells[c + 1, 0]], cells[c, 1] of them. An entry's edge j is row
    zone_start[zone] + j of `edges` (EDGE_COLS columns), zones' edges by zone number.
    """

    x0: FloatArray
    y0: FloatArray
    inv_cell: FloatArray
    nx: IntArray
    ny: IntArray
    first_cell: IntArray
    cells: IntArray
    stream: Int32Array
    edges: FloatArray
    zone_start: IntArray


@njit(cache=True)
def seg_dist2(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    """Squared distance from a point to a segment."""
    dx = bx - ax
    dy = by - ay
    wx = px - ax
    wy = py - ay
    t = wx * dx + wy * dy
    if t <= 0.0:
        return wx * wx + wy * wy
    length2 = dx * dx + dy * dy
    if t >= length2:
        ux = px - bx
        uy = py - by
        return ux * ux + uy * uy
    # perpendicular distance from the orientation determinant: exact 0 on the edge's line
    c = dx * wy - dy * wx
    return c * c / length2


@njit(cache=True)
def crosses(py: float, ay: float, by: float, c: float, dy: float) -> bool:
    """Whether edge (ax, ay)-(bx, by) crosses the horizontal ray going right from a point
    at height py; c = dx * (py - ay) - dy * (px - ax) is its orientation determinant with
    the point. Half-open in y, so a vertex on the ray counts once. Branch-free (`&` on
    booleans): points in random order would mispredict a branch."""
    return ((ay > py) != (by > py)) & ((c > 0.0) == (dy > 0.0))


@njit(cache=True)
def in_edge_box(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    """Whether a point lies in an edge's bounding box: with a zero orientation
    determinant, whether it lies on the edge (the closed-zone rule's boundary)."""
    return (min(ax, bx) <= px) & (px <= max(ax, bx)) & (min(ay, by) <= py) & (py <= max(ay, by))


@njit(cache=True)
def _cell_of(level: int, px: float, py: float, g: Grid) -> int:
    """The global cell of a point, or -1 off the grid, on an unknown level, or for NaN."""
    if level < 0 or level >= g.nx.shape[0]:
        return -1
    fx = (px - g.x0[level]) * g.inv_cell[level]
    fy = (py - g.y0[level]) * g.inv_cell[level]
    # written so that NaN fails every comparison
    if not (fx >= 0.0 and fy >= 0.0 and fx < g.nx[level] and fy < g.ny[level]):
        return -1
    return g.first_cell[level] + int(fy) * g.nx[level] + int(fx)


@njit(cache=True)
def _point_hits(
    px: float, py: float, run: tuple[int, int], g: Grid, distances: bool, out: Hits, k: int
) -> int:
    """Write the zones containing one point (and their distances) into out from k on;
    how many. `run`: its cell's entries in the stream. Every candidate is written, only
    hits advance the count; per edge nearly branch-free (bitwise `&`, `^` on booleans,
    clamps): mispredictions cost more here than the arithmetic."""
    zone_out, dist_out, _ = out
    found = 0
    pos, stop = run
    while pos < stop:
        zone = g.stream[pos]
        full = g.stream[pos + 1] == 1
        first = pos + ENTRY_HEAD
        pos = first + g.stream[pos + 2]
        zone_out[k + found] = zone
        if full and not distances:
            found += 1
            continue
        base = g.zone_start[zone]
        parity = False
        on_edge = False
        nearest2 = np.inf
        for item in range(first, pos):
            row = base + g.stream[item]
            ay = g.edges[row, 1]
            by = g.edges[row, 3]
            wx = px - g.edges[row, 0]
            wy = py - ay
            dx = g.edges[row, 4]
            dy = g.edges[row, 5]
            # (a FULL entry's parity is meaningless, its edges not being ray-complete)
            side = dx * wy - dy * wx
            parity ^= crosses(py, ay, by, side, dy)
            if side == 0.0:
                # rare, so a well-predicted branch: on the segment, not just its line?
                on_edge |= in_edge_box(px, py, g.edges[row, 0], ay, g.edges[row, 2], by)
            if distances:
                t = min(max((wx * dx + wy * dy) * g.edges[row, 6], 0.0), 1.0)
                ex = wx - t * dx
                ey = wy - t * dy
                nearest2 = min(nearest2, ex * ex + ey * ey)
        if distances:
            dist_out[k + found] = 0.0 if on_edge else math.sqrt(nearest2)
        found += full | parity | on_edge
    return found


@njit(cache=True)
def chunk_cells(
    level: Int32Array, x: FloatArray, y: FloatArray, g: Grid, start: int, end: int, run: IntArray
) -> int:
    """Pass 1: the run of entries of points start..end into run[]; their candidate count.

    All lookups first, in their own loop, so the CPU overlaps their cache misses.
    """
    candidates = 0
    for i in range(start, end):
        c = _cell_of(level[i], x[i], y[i], g)
        on = c >= 0
        # off the grid: an empty run
        run[i, 0] = g.cells[c, 0] if on else 0
        run[i, 1] = g.cells[c + 1, 0] if on else 0
        candidates += g.cells[c, 1] if on else 0
    return candidates


@njit(cache=True)
def chunk_hits(
    x: FloatArray,
    y: FloatArray,
    run: IntArray,
    span: tuple[int, int, int],
    g: Grid,
    distances: bool,
    out: Hits,
) -> int:
    """Pass 2: the hits of points start..end (span: start, end, k) written from k on;
    the new k."""
    start, end, k = span
    offsets = out[2]
    for i in range(start, end):
        offsets[i] = k
        k += _point_hits(x[i], y[i], (run[i, 0], run[i, 1]), g, distances, out, k)
    return k


@njit(cache=True, parallel=True)
def parallel_query(
    level: Int32Array, x: FloatArray, y: FloatArray, g: Grid, distances: bool, bounds: IntArray
) -> tuple[IntArray, Int32Array, FloatArray]:
    """Both passes a chunk per thread, then the chunks' hits joined: CSR arrays."""
    n = x.shape[0]
    chunks = bounds.shape[0] - 1
    run = np.empty((n, 2), np.int64)
    room = np.zeros(chunks + 1, np.int64)
    for c in prange(chunks):
        room[c + 1] = chunk_cells(level, x, y, g, bounds[c], bounds[c + 1], run)
    room = np.cumsum(room)
    zone = np.empty(room[chunks], np.int32)
    dist = np.empty(room[chunks] if distances else 0, np.float64)
    offsets = np.empty(n + 1, np.int64)
    end = np.empty(chunks, np.int64)
    for c in prange(chunks):
        span = (bounds[c], bounds[c + 1], room[c])
        end[c] = chunk_hits(x, y, run, span, g, distances, (zone, dist, offsets))
    # chunk c wrote its hits from room[c] to end[c]: move them down over the gaps
    done = np.zeros(chunks + 1, np.int64)
    for c in range(chunks):
        done[c + 1] = done[c] + end[c] - room[c]
    zone_joined = np.empty(done[chunks], np.int32)
    dist_joined = np.empty(done[chunks] if distances else 0, np.float64)
    for c in prange(chunks):
        zone_joined[done[c] : done[c + 1]] = zone[room[c] : end[c]]
        if distances:
            dist_joined[done[c] : done[c + 1]] = dist[room[c] : end[c]]
        for i in range(bounds[c], bounds[c + 1]):
            offsets[i] -= room[c] - done[c]
    offsets[n] = done[chunks]
    return offsets, zone_joined, dist_joined


def query_grid(
    level: Int32Array, x: FloatArray, y: FloatArray, g: Grid, threads: int, distances: bool
) -> tuple[IntArray, Int32Array, FloatArray]:
    """All hits of a batch on the grid: (offsets, zone, distance) in CSR form.

    On one thread both passes run here, on the calling thread; on more, the points are
    cut into chunks run on the numba threads. `distance` is empty when not asked for.
    """
    n = len(x)
    if threads > 1:
        # 4 chunks per thread (at least 4,096 points each), so a slow chunk delays little
        chunks = max(1, min(4 * threads, n // 4096))
        bounds = np.linspace(0, n, chunks + 1).astype(np.int64)
        return parallel_query(level, x, y, g, distances, bounds)
    run = np.empty((n, 2), np.int64)
    room = chunk_cells(level, x, y, g, 0, n, run)
    zone = np.empty(room, np.int32)
    dist = np.empty(room if distances else 0, np.float64)
    offsets = np.empty(n + 1, np.int64)
    offsets[n] = chunk_hits(x, y, run, (0, n, 0), g, distances, (zone, dist, offsets))
    found = int(offsets[n])
    return offsets, zone[:found], dist[: found if distances else 0]


@njit(cache=True)
def signed_distance_kernel(
    zone: Int32Array, x: FloatArray, y: FloatArray, seg: FloatArray, zone_start: IntArray
) -> FloatArray:
    """Signed distance of point i to zone[i] (edges seg[zone_start[z]:zone_start[z + 1]]):
    > 0 inside, < 0 outside, 0 on the boundary."""
    out = np.empty(x.shape[0], np.float64)
    for i in range(x.shape[0]):
        px, py = x[i], y[i]
        inside = False
        nearest2 = np.inf
        for j in range(zone_start[zone[i]], zone_start[zone[i] + 1]):
            ax, ay, bx, by = seg[j, 0], seg[j, 1], seg[j, 2], seg[j, 3]
            nearest2 = min(nearest2, seg_dist2(px, py, ax, ay, bx, by))
            if (py < ay and py < by) or (py > ay and py > by):
                continue
            side = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
            if side == 0.0 and in_edge_box(px, py, ax, ay, bx, by):
                inside, nearest2 = True, 0.0  # on the boundary
                break
            inside ^= crosses(py, ay, by, side, by - ay)
        out[i] = math.sqrt(nearest2) if inside else -math.sqrt(nearest2)
    return out
