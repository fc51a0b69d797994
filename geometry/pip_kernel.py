"""Numba kernels of the zone index: candidate-grid build, batch point-in-zone, signed distance.

A zone is a set of edges (every ring of every part, holes included) stored as rows
`(ax, ay, bx, by)` of a float64 array. A level's zones are compiled to a uniform grid;
every cell lists its candidate zones as *entries*, each with a flag and two edge lists:

* `full`: the (slightly padded) cell lies strictly inside the zone, it touches no edge,
  so every point of the cell is inside without a test;
* `boundary`: an edge touches the padded cell; the entry carries a *ray list* (the zone's
  edges that can cross a horizontal ray going right from a point of the cell) for the
  crossing-number test;
* both kinds carry a *distance list*: every edge that can be the nearest edge of the zone
  to some point of the cell. With ``U`` = the largest possible distance from a point of
  the cell to the zone's boundary (bounded by ``min_e max_corner dist(corner, e)``, a
  segment's distance being convex), an edge farther than ``U`` from the whole cell can
  never be nearest, so the distance over the kept edges is the exact distance.

Cells of a zone are padded by `pad` (a millionth of the cell size) so that a point that
rounding puts into a neighbouring cell is still covered by that cell's lists.

Edge rule (closed zones): a point is on the boundary when the orientation determinant of
an edge is exactly zero and the point is inside the edge's bounding box; such a point
is inside with distance 0. Exact for axis-aligned edges and vertices (the determinant is
computed without rounding there); for slanted edges it is the floating-point decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit, prange

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FULL = np.uint8(2)
BOUNDARY = np.uint8(1)


@njit(cache=True, inline="always")
def _seg_dist2(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
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


@njit(cache=True, inline="always")
def _seg_box_intersects(
    ax: float, ay: float, bx: float, by: float, x0: float, y0: float, x1: float, y1: float
) -> bool:
    """Whether a segment touches a closed axis-aligned box (conservative on ties)."""
    if max(ax, bx) < x0 or min(ax, bx) > x1 or max(ay, by) < y0 or min(ay, by) > y1:
        return False
    dx = bx - ax
    dy = by - ay
    s1 = dx * (y0 - ay) - dy * (x0 - ax)
    s2 = dx * (y0 - ay) - dy * (x1 - ax)
    s3 = dx * (y1 - ay) - dy * (x0 - ax)
    s4 = dx * (y1 - ay) - dy * (x1 - ax)
    # all four corners strictly on one side of the line: no contact
    if s1 > 0.0 and s2 > 0.0 and s3 > 0.0 and s4 > 0.0:
        return False
    return not (s1 < 0.0 and s2 < 0.0 and s3 < 0.0 and s4 < 0.0)


@njit(cache=True, inline="always")
def _point_box_dist2(px: float, py: float, x0: float, y0: float, x1: float, y1: float) -> float:
    """Squared distance from a point to a closed box."""
    dx = max(x0 - px, 0.0, px - x1)
    dy = max(y0 - py, 0.0, py - y1)
    return dx * dx + dy * dy


@njit(cache=True, inline="always")
def _seg_box_dist2(
    ax: float, ay: float, bx: float, by: float, x0: float, y0: float, x1: float, y1: float
) -> float:
    """Squared distance between a segment and a closed box."""
    if _seg_box_intersects(ax, ay, bx, by, x0, y0, x1, y1):
        return 0.0
    d = min(_point_box_dist2(ax, ay, x0, y0, x1, y1), _point_box_dist2(bx, by, x0, y0, x1, y1))
    d = min(d, _seg_dist2(x0, y0, ax, ay, bx, by))
    d = min(d, _seg_dist2(x1, y0, ax, ay, bx, by))
    d = min(d, _seg_dist2(x0, y1, ax, ay, bx, by))
    return min(d, _seg_dist2(x1, y1, ax, ay, bx, by))


@njit(cache=True)
def classify_cells(
    seg: FloatArray,
    zstart: IntArray,
    zbox: FloatArray,
    x0: float,
    y0: float,
    s: float,
    nx: int,
    ny: int,
    pad: float,
) -> tuple[IntArray, IntArray, npt.NDArray[np.uint8]]:
    """Candidate entries of a level's grid: (cell, zone slot, FULL or BOUNDARY), cell-major."""
    nz = zbox.shape[0]
    ranges = np.empty((nz, 4), np.int64)
    total = 0
    for z in range(nz):
        ix0 = max(0, math.floor((zbox[z, 0] - pad - x0) / s))
        iy0 = max(0, math.floor((zbox[z, 1] - pad - y0) / s))
        ix1 = min(nx - 1, math.floor((zbox[z, 2] + pad - x0) / s))
        iy1 = min(ny - 1, math.floor((zbox[z, 3] + pad - y0) / s))
        ranges[z, 0] = ix0
        ranges[z, 1] = iy0
        ranges[z, 2] = ix1
        ranges[z, 3] = iy1
        if ix1 >= ix0 and iy1 >= iy0:
            total += (ix1 - ix0 + 1) * (iy1 - iy0 + 1)
    out_cell = np.empty(total, np.int64)
    out_zone = np.empty(total, np.int64)
    out_flag = np.empty(total, np.uint8)
    k = 0
    for z in range(nz):
        ix0, iy0, ix1, iy1 = ranges[z, 0], ranges[z, 1], ranges[z, 2], ranges[z, 3]
        if ix1 < ix0 or iy1 < iy0:
            continue
        w = ix1 - ix0 + 1
        h = iy1 - iy0 + 1
        mark = np.zeros((h, w), np.uint8)
        e0 = zstart[z]
        e1 = zstart[z + 1]
        # boundary cells: every padded cell an edge touches
        for e in range(e0, e1):
            ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
            jx0 = max(ix0, math.floor((min(ax, bx) - pad - x0) / s))
            jx1 = min(ix1, math.floor((max(ax, bx) + pad - x0) / s))
            jy0 = max(iy0, math.floor((min(ay, by) - pad - y0) / s))
            jy1 = min(iy1, math.floor((max(ay, by) + pad - y0) / s))
            for iy in range(jy0, jy1 + 1):
                cy0 = y0 + iy * s - pad
                cy1 = y0 + (iy + 1) * s + pad
                for ix in range(jx0, jx1 + 1):
                    if mark[iy - iy0, ix - ix0] == 1:
                        continue
                    cx0 = x0 + ix * s - pad
                    cx1 = x0 + (ix + 1) * s + pad
                    if _seg_box_intersects(ax, ay, bx, by, cx0, cy0, cx1, cy1):
                        mark[iy - iy0, ix - ix0] = 1
        # other cells: inside or outside as their centre, one scanline per row
        xs = np.empty(e1 - e0, np.float64)
        for iy in range(iy0, iy1 + 1):
            yc = y0 + (iy + 0.5) * s
            m = 0
            for e in range(e0, e1):
                ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
                if (ay > yc) != (by > yc):
                    xs[m] = ax + (yc - ay) * (bx - ax) / (by - ay)
                    m += 1
            row = np.sort(xs[:m])
            p = 0
            for ix in range(ix0, ix1 + 1):
                if mark[iy - iy0, ix - ix0] == 1:
                    continue
                xc = x0 + (ix + 0.5) * s
                while p < m and row[p] < xc:
                    p += 1
                if p % 2 == 1:
                    mark[iy - iy0, ix - ix0] = 2
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                f = mark[iy - iy0, ix - ix0]
                if f != 0:
                    out_cell[k] = iy * nx + ix
                    out_zone[k] = z
                    out_flag[k] = f
                    k += 1
    return out_cell[:k], out_zone[:k], out_flag[:k]


@njit(cache=True)
def _entry_lists(
    seg: FloatArray,
    e0: int,
    e1: int,
    boundary: bool,
    box: tuple[float, float, float, float],
    out: FloatArray,
    k: int,
    write: bool,
) -> int:
    """Append (or only count) one entry's ray list then distance list at out[k:]."""
    cx0, cy0, _cx1, cy1 = box
    if boundary:
        for e in range(e0, e1):
            ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
            if max(ay, by) >= cy0 and min(ay, by) <= cy1 and max(ax, bx) >= cx0:
                if write:
                    out[k, 0] = ax
                    out[k, 1] = ay
                    out[k, 2] = bx
                    out[k, 3] = by
                k += 1
    return k


@njit(cache=True)
def _entry_dist_list(
    seg: FloatArray,
    e0: int,
    e1: int,
    box: tuple[float, float, float, float],
    u: float,
    out: FloatArray,
    k: int,
    write: bool,
) -> int:
    """Append (or only count) one entry's distance list at out[k:]."""
    cx0, cy0, cx1, cy1 = box
    for e in range(e0, e1):
        ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
        if _seg_box_dist2(ax, ay, bx, by, cx0, cy0, cx1, cy1) <= u:
            if write:
                out[k, 0] = ax
                out[k, 1] = ay
                out[k, 2] = bx
                out[k, 3] = by
            k += 1
    return k


@njit(cache=True)
def build_lists(
    seg: FloatArray,
    zstart: IntArray,
    ent_cell: IntArray,
    ent_zone: IntArray,
    ent_flag: npt.NDArray[np.uint8],
    x0: float,
    y0: float,
    s: float,
    nx: int,
    pad: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Per entry the ray list then the distance list, packed: (start[E+1], mid[E], edges)."""
    ne = ent_cell.shape[0]
    bound = np.empty(ne, np.float64)
    start = np.zeros(ne + 1, np.int64)
    mid = np.empty(ne, np.int64)
    dummy = np.empty((0, 4), np.float64)
    for write in (False, True):
        out = np.empty((start[ne] if write else 0, 4), np.float64)
        for i in range(ne):
            z = ent_zone[i]
            iy = ent_cell[i] // nx
            ix = ent_cell[i] - iy * nx
            cx0 = x0 + ix * s - pad
            cx1 = x0 + (ix + 1) * s + pad
            cy0 = y0 + iy * s - pad
            cy1 = y0 + (iy + 1) * s + pad
            e0 = zstart[z]
            e1 = zstart[z + 1]
            if not write:
                # U: no point of the cell is farther than this from the zone's boundary
                u = np.inf
                for e in range(e0, e1):
                    ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
                    far = max(
                        _seg_dist2(cx0, cy0, ax, ay, bx, by),
                        _seg_dist2(cx1, cy0, ax, ay, bx, by),
                        _seg_dist2(cx0, cy1, ax, ay, bx, by),
                        _seg_dist2(cx1, cy1, ax, ay, bx, by),
                    )
                    u = min(u, far)
                bound[i] = u * (1.0 + 1e-9) + 1e-18
            box = (cx0, cy0, cx1, cy1)
            target = out if write else dummy
            k = _entry_lists(seg, e0, e1, ent_flag[i] == BOUNDARY, box, target, start[i], write)
            mid[i] = k
            k = _entry_dist_list(seg, e0, e1, box, bound[i], target, k, write)
            if not write:
                start[i + 1] = k
        if not write:
            continue
        return start, mid, out
    return start, mid, dummy


@njit(cache=True, inline="always")
def _cell_of(
    lv: int,
    px: float,
    py: float,
    lvl_x0: FloatArray,
    lvl_y0: FloatArray,
    lvl_inv: FloatArray,
    lvl_nx: IntArray,
    lvl_ny: IntArray,
    lvl_base: IntArray,
) -> int:
    """Global cell index of a point, or -1 (unknown level, outside the grid, NaN)."""
    if lv < 0 or lv >= lvl_nx.shape[0]:
        return -1
    nx = lvl_nx[lv]
    fx = (px - lvl_x0[lv]) * lvl_inv[lv]
    fy = (py - lvl_y0[lv]) * lvl_inv[lv]
    # written so that NaN fails every comparison
    if not (fx >= 0.0 and fy >= 0.0 and fx < nx and fy < lvl_ny[lv]):
        return -1
    return lvl_base[lv] + int(fy) * nx + int(fx)


@njit(cache=True, inline="always")
def _point_hits(
    px: float,
    py: float,
    cell: int,
    cell_start: IntArray,
    ent_zone: npt.NDArray[np.int32],
    ent_flag: npt.NDArray[np.uint8],
    ent_start: IntArray,
    ent_mid: IntArray,
    seg: FloatArray,
    out_zone: npt.NDArray[np.int32],
    out_dist: FloatArray,
    k: int,
) -> int:
    """Write the hits of one point at out[k:], return how many."""
    n = 0
    for e in range(cell_start[cell], cell_start[cell + 1]):
        inside = ent_flag[e] == FULL
        if not inside:
            on_edge = False
            for j in range(ent_start[e], ent_mid[e]):
                ay = seg[j, 1]
                by = seg[j, 3]
                if (py < ay and py < by) or (py > ay and py > by):
                    continue
                ax = seg[j, 0]
                bx = seg[j, 2]
                c = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
                if c == 0.0 and px >= min(ax, bx) and px <= max(ax, bx):
                    on_edge = True
                    break
                # crossing number, ray to +x: the edge crosses right of p iff c/(by-ay) > 0
                if ((ay > py) != (by > py)) and ((c > 0.0) == (by > ay)):
                    inside = not inside
            if on_edge:
                out_zone[k + n] = ent_zone[e]
                out_dist[k + n] = 0.0
                n += 1
                continue
            if not inside:
                continue
        d2 = np.inf
        for j in range(ent_mid[e], ent_start[e + 1]):
            d = _seg_dist2(px, py, seg[j, 0], seg[j, 1], seg[j, 2], seg[j, 3])
            if d < d2:
                d2 = d
        out_zone[k + n] = ent_zone[e]
        out_dist[k + n] = math.sqrt(d2)
        n += 1
    return n


@njit(cache=True)
def _locate(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    lvl_x0: FloatArray,
    lvl_y0: FloatArray,
    lvl_inv: FloatArray,
    lvl_nx: IntArray,
    lvl_ny: IntArray,
    lvl_base: IntArray,
    cell_start: IntArray,
    cell: IntArray,
    cap: IntArray,
) -> None:
    """Pass 1 (serial): each point's cell and its number of candidate entries."""
    for i in range(x.shape[0]):
        c = _cell_of(level[i], x[i], y[i], lvl_x0, lvl_y0, lvl_inv, lvl_nx, lvl_ny, lvl_base)
        cell[i] = c
        cap[i] = 0 if c < 0 else cell_start[c + 1] - cell_start[c]


@njit(cache=True, parallel=True)
def _locate_par(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    lvl_x0: FloatArray,
    lvl_y0: FloatArray,
    lvl_inv: FloatArray,
    lvl_nx: IntArray,
    lvl_ny: IntArray,
    lvl_base: IntArray,
    cell_start: IntArray,
    cell: IntArray,
    cap: IntArray,
) -> None:
    """Pass 1 (threads): each point's cell and its number of candidate entries."""
    for i in prange(x.shape[0]):
        c = _cell_of(level[i], x[i], y[i], lvl_x0, lvl_y0, lvl_inv, lvl_nx, lvl_ny, lvl_base)
        cell[i] = c
        cap[i] = 0 if c < 0 else cell_start[c + 1] - cell_start[c]


@njit(cache=True)
def _hits(
    x: FloatArray,
    y: FloatArray,
    cell: IntArray,
    scratch_start: IntArray,
    cell_start: IntArray,
    ent_zone: npt.NDArray[np.int32],
    ent_flag: npt.NDArray[np.uint8],
    ent_start: IntArray,
    ent_mid: IntArray,
    seg: FloatArray,
    out_zone: npt.NDArray[np.int32],
    out_dist: FloatArray,
    count: IntArray,
) -> None:
    """Pass 2 (serial): hits of every point into its scratch slot."""
    for i in range(x.shape[0]):
        c = cell[i]
        if c < 0:
            count[i] = 0
            continue
        count[i] = _point_hits(
            x[i],
            y[i],
            c,
            cell_start,
            ent_zone,
            ent_flag,
            ent_start,
            ent_mid,
            seg,
            out_zone,
            out_dist,
            scratch_start[i],
        )


@njit(cache=True, parallel=True)
def _hits_par(
    x: FloatArray,
    y: FloatArray,
    cell: IntArray,
    scratch_start: IntArray,
    cell_start: IntArray,
    ent_zone: npt.NDArray[np.int32],
    ent_flag: npt.NDArray[np.uint8],
    ent_start: IntArray,
    ent_mid: IntArray,
    seg: FloatArray,
    out_zone: npt.NDArray[np.int32],
    out_dist: FloatArray,
    count: IntArray,
) -> None:
    """Pass 2 (threads): hits of every point into its scratch slot."""
    for i in prange(x.shape[0]):
        c = cell[i]
        if c < 0:
            count[i] = 0
            continue
        count[i] = _point_hits(
            x[i],
            y[i],
            c,
            cell_start,
            ent_zone,
            ent_flag,
            ent_start,
            ent_mid,
            seg,
            out_zone,
            out_dist,
            scratch_start[i],
        )


@njit(cache=True)
def _compact(
    scratch_start: IntArray,
    count: IntArray,
    offsets: IntArray,
    sz: npt.NDArray[np.int32],
    sd: FloatArray,
    oz: npt.NDArray[np.int32],
    od: FloatArray,
) -> None:
    """Pass 3 (serial): move each point's hits from its scratch slot to the CSR arrays."""
    for i in range(count.shape[0]):
        a = scratch_start[i]
        b = offsets[i]
        for j in range(count[i]):
            oz[b + j] = sz[a + j]
            od[b + j] = sd[a + j]


@njit(cache=True, parallel=True)
def _compact_par(
    scratch_start: IntArray,
    count: IntArray,
    offsets: IntArray,
    sz: npt.NDArray[np.int32],
    sd: FloatArray,
    oz: npt.NDArray[np.int32],
    od: FloatArray,
) -> None:
    """Pass 3 (threads): move each point's hits from its scratch slot to the CSR arrays."""
    for i in prange(count.shape[0]):
        a = scratch_start[i]
        b = offsets[i]
        for j in range(count[i]):
            oz[b + j] = sz[a + j]
            od[b + j] = sd[a + j]


@dataclass(frozen=True, slots=True)
class CompiledGrid:
    """Every level's candidate grid, concatenated into flat arrays the kernels take.

    Level l: origin (x0[l], y0[l]), 1/cell size inv[l], nx[l] x ny[l] cells from global
    cell base[l] (row-major). Cell c: entries cell_start[c]:cell_start[c+1]. Entry e: zone
    number zone[e], flag[e] (FULL or BOUNDARY), ray list seg[start[e]:mid[e]], distance
    list seg[mid[e]:start[e+1]], each row an edge (ax, ay, bx, by).
    """

    x0: FloatArray
    y0: FloatArray
    inv: FloatArray
    nx: IntArray
    ny: IntArray
    base: IntArray
    cell_start: IntArray
    zone: npt.NDArray[np.int32]
    flag: npt.NDArray[np.uint8]
    start: IntArray
    mid: IntArray
    seg: FloatArray

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f).nbytes for f in self.__dataclass_fields__)


def query_grid(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    grid: CompiledGrid,
    parallel: bool,
) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
    """All hits of a batch of points on a compiled grid: (offsets, zone, distance) in CSR form.

    Three array passes, no Python per point: locate (cell, candidate count), hits into a
    scratch slot sized by the candidate count, compaction into the final CSR arrays.
    """
    g = grid
    n = x.shape[0]
    cell = np.empty(n, np.int64)
    cap = np.empty(n, np.int64)
    locate = _locate_par if parallel else _locate
    locate(level, x, y, g.x0, g.y0, g.inv, g.nx, g.ny, g.base, g.cell_start, cell, cap)
    scratch_start = np.zeros(n + 1, np.int64)
    np.cumsum(cap, out=scratch_start[1:])
    total = int(scratch_start[n])
    sz = np.empty(total, np.int32)
    sd = np.empty(total, np.float64)
    count = np.empty(n, np.int64)
    hits = _hits_par if parallel else _hits
    hits(
        x,
        y,
        cell,
        scratch_start,
        g.cell_start,
        g.zone,
        g.flag,
        g.start,
        g.mid,
        g.seg,
        sz,
        sd,
        count,
    )
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(count, out=offsets[1:])
    if offsets[n] == total:
        # every candidate was a hit: the scratch arrays already are the CSR arrays
        return offsets, sz, sd
    oz = np.empty(int(offsets[n]), np.int32)
    od = np.empty(int(offsets[n]), np.float64)
    compact = _compact_par if parallel else _compact
    compact(scratch_start, count, offsets, sz, sd, oz, od)
    return offsets, oz, od


@njit(cache=True, inline="always")
def _signed_one(px: float, py: float, seg: FloatArray, e0: int, e1: int) -> float:
    """Signed distance of one point to the zone whose edges are seg[e0:e1]."""
    inside = False
    d2 = np.inf
    for j in range(e0, e1):
        ax, ay, bx, by = seg[j, 0], seg[j, 1], seg[j, 2], seg[j, 3]
        d = _seg_dist2(px, py, ax, ay, bx, by)
        if d < d2:
            d2 = d
        if (py < ay and py < by) or (py > ay and py > by):
            continue
        c = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        if c == 0.0 and px >= min(ax, bx) and px <= max(ax, bx):
            return 0.0
        if ((ay > py) != (by > py)) and ((c > 0.0) == (by > ay)):
            inside = not inside
    d = math.sqrt(d2)
    return d if inside else -d


@njit(cache=True, parallel=True)
def signed_distance_kernel(
    zone: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    seg: FloatArray,
    zstart: IntArray,
) -> FloatArray:
    """Signed distance of point i to zone[i]: > 0 inside, < 0 outside, 0 on the boundary."""
    n = x.shape[0]
    out = np.empty(n, np.float64)
    for i in prange(n):
        z = zone[i]
        out[i] = _signed_one(x[i], y[i], seg, zstart[z], zstart[z + 1])
    return out
