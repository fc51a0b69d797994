"""Numba kernels of the zone index: candidate-grid build, batch point-in-zone, signed distance.

A zone is a set of edges (every ring of every part, holes included), rows
`(ax, ay, bx, by)`; the compiled edge table adds dx, dy and 1/length^2 (EDGE_COLS). A
level's zones are compiled to a uniform grid; every cell lists its candidate zones as
*entries* (zone number, flag, edge count, first edge row):

* BOUNDARY: an edge touches the (slightly padded) cell. Its edges are those that can
  cross a horizontal ray going right from a point of the cell (for the crossing-number
  test) together with its distance edges;
* FULL: the padded cell lies strictly inside the zone: no inside test, distance edges;
* LINEAR: FULL, and one edge is nearest to the whole cell with every point projecting
  inside it: the distance is the affine function stored in its row.

Distance edges: with ``U = min_e max_corner dist(corner, e)`` (a segment's distance is
convex, so its maximum over the cell is at a corner) no point of the cell is farther
than ``U`` from the boundary, so an edge farther than ``U`` from the whole cell can
never be nearest: the minimum over the kept edges is the exact distance.

Membership-only queries read a finer grid (`membership_tables`): each fine cell holds
the number of its word in a per-level dictionary; a fine cell no wall crosses, inside
at most three zones, has a word that carries those zones' numbers itself, so most
points need no entry or edge at all.

An entry's edges are its own list in the edge table, or (on levels with many zones,
for zones of at most SHARED_ZONE_EDGES edges, and whenever the list would be most of
the zone) the zone's whole edge set: a superset of the needed edges is always correct.

Cells are padded by a millionth of the cell size so that a point that rounding puts
into a neighbouring cell is still covered by that cell's lists.

Edge rule (closed zones): a point is on the boundary when the orientation determinant of
an edge is exactly zero and the point is inside the edge's bounding box; such a point
is inside with distance 0. Exact for axis-aligned edges and vertices (no rounding
there); for slanted edges it is the floating-point decision. See docs/zone-lookup.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.typed import Dict

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BOUNDARY = np.uint8(1)
FULL = np.uint8(2)
LINEAR = np.uint8(3)  # FULL, and the distance is one affine function over the cell


@intrinsic
def _prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """Ask the CPU to start loading row `idx` of `arr` into cache (llvm.prefetch, a hint).

    Points come in random order, so on a grid larger than the cache each point waits for
    three dependent loads (cell -> entry -> edges). Prefetching the entries and edges of
    points a few places ahead lets those misses overlap instead.
    """
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        row = context.cast(builder, args[1], signature.args[1], types.intp)
        inds = [row] + [zero] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, inds, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read access, high temporal locality, data cache
        args_ = [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3)]
        builder.call(fn, [*args_, ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


#: The intrinsic, typed loosely for mypy (its Python signature is numba's, not the call's).
prefetch: Any = _prefetch

#: How many points ahead the distance path's fill pass prefetches entries, and edges.
AHEAD_ENTRIES = 24
AHEAD_EDGES = 12


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
def _crosses(py: float, ay: float, by: float, c: float, dy: float) -> bool:
    """Whether edge (ax, ay)-(bx, by) crosses the horizontal ray going right from a point
    at height py (crossing-number rule). c = dx * (py - ay) - dy * (px - ax) is its
    orientation determinant with the point, dy = by - ay: a straddling edge (half-open
    in y, so a vertex on the ray counts once) crosses right of the point iff c/dy > 0.
    Branch-free (`&` on booleans): points in random order would mispredict a branch."""
    return ((ay > py) != (by > py)) & ((c > 0.0) == (dy > 0.0))


@njit(cache=True, inline="always")
def _in_edge_box(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    """Whether a point lies in an edge's bounding box: with a zero orientation
    determinant, whether it lies on the edge (the closed-zone rule's boundary)."""
    return (min(ax, bx) <= px) & (px <= max(ax, bx)) & (min(ay, by) <= py) & (py <= max(ay, by))


@njit(cache=True, inline="always")
def _ray_edge(ax: float, ay: float, bx: float, by: float, x0: float, y0: float, y1: float) -> bool:
    """Whether an edge can cross a horizontal ray going right from some point of a box
    [x0, ..] x [y0, y1] (or touch the box): the edges a ray-complete list must keep."""
    return (max(ay, by) >= y0) & (min(ay, by) <= y1) & (max(ax, bx) >= x0)


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


#: On levels with many zones, a zone with at most this many edges is tested whole (its
#: cells store no edge list of their own): 4x less memory, so the grid stays in cache.
SHARED_ZONE_EDGES = 8

#: Columns of an edge row: ax, ay, bx, by, dx, dy, 1/length^2, padding (one cache line).
EDGE_COLS = 8

#: Bits of a cell's packed word that hold its entry count (the rest: its first entry).
COUNT_BITS = 24


@njit(cache=True)
def _entry_edges(
    seg: FloatArray,
    e0: int,
    e1: int,
    boundary: bool,
    box: tuple[float, float, float, float],
    u: float,
    out: FloatArray,
    k: int,
    write: bool,
) -> int:
    """Append (or only count) the edges one entry needs at out[k:].

    A boundary entry keeps its ray edges (those that can cross a rightward ray from a
    point of the cell) together with its distance edges: one list serves both tests.
    """
    cx0, cy0, cx1, cy1 = box
    for e in range(e0, e1):
        ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
        keep = _seg_box_dist2(ax, ay, bx, by, cx0, cy0, cx1, cy1) <= u
        if boundary and not keep:
            keep = _ray_edge(ax, ay, bx, by, cx0, cy0, cy1)
        if keep:
            if write:
                out[k, 0] = ax
                out[k, 1] = ay
                out[k, 2] = bx
                out[k, 3] = by
            k += 1
    return k


@njit(cache=True)
def build_entries(
    seg: FloatArray,
    zstart: IntArray,
    ent_cell: IntArray,
    ent_slot: IntArray,
    ent_number: IntArray,
    ent_flag: npt.NDArray[np.uint8],
    x0: float,
    y0: float,
    s: float,
    nx: int,
    pad: float,
    shared_edges: int,
) -> tuple[npt.NDArray[np.int32], FloatArray]:
    """Entry records (zone number, flag, edge count, first edge row) and the edge table.

    The edge table starts with every zone's whole edge set (`seg`); an entry of a zone
    of at most `shared_edges` edges, or whose list is most of its zone, points into it.
    Other entries get their own list appended: the edges that can cross a rightward ray
    from the cell (boundary entries) and those that can be nearest to a point of it.
    """
    ne = ent_cell.shape[0]
    ent = np.empty((ne, 4), np.int32)
    bound = np.empty(ne, np.float64)
    own = np.zeros(ne, np.int64)
    extra = np.zeros(ne + 1, np.int64)
    out = np.empty((0, EDGE_COLS), np.float64)
    for write in (False, True):
        if write:
            for i in range(ne):
                extra[i + 1] = extra[i] + own[i]
            out = np.zeros((seg.shape[0] + extra[ne], EDGE_COLS), np.float64)
            out[: seg.shape[0], :4] = seg
        for i in range(ne):
            z = ent_slot[i]
            e0 = zstart[z]
            e1 = zstart[z + 1]
            ent[i, 0] = ent_number[i]
            ent[i, 1] = ent_flag[i]
            if e1 - e0 <= shared_edges:
                ent[i, 2] = e1 - e0
                ent[i, 3] = e0
                continue
            iy = ent_cell[i] // nx
            ix = ent_cell[i] - iy * nx
            box = (
                x0 + ix * s - pad,
                y0 + iy * s - pad,
                x0 + (ix + 1) * s + pad,
                y0 + (iy + 1) * s + pad,
            )
            if not write:
                # U: no point of the cell is farther than this from the zone's boundary
                # (distance to a segment is convex, so its max over the cell is at a corner)
                u = np.inf
                for e in range(e0, e1):
                    ax, ay, bx, by = seg[e, 0], seg[e, 1], seg[e, 2], seg[e, 3]
                    far = max(
                        _seg_dist2(box[0], box[1], ax, ay, bx, by),
                        _seg_dist2(box[2], box[1], ax, ay, bx, by),
                        _seg_dist2(box[0], box[3], ax, ay, bx, by),
                        _seg_dist2(box[2], box[3], ax, ay, bx, by),
                    )
                    u = min(u, far)
                bound[i] = u * (1.0 + 1e-9) + 1e-18
                m = _entry_edges(seg, e0, e1, ent_flag[i] == BOUNDARY, box, bound[i], out, 0, False)
                # a list of most of the zone saves nothing: test the whole zone
                own[i] = m if 2 * m <= e1 - e0 else 0
                continue
            if own[i] == 0:
                ent[i, 2] = e1 - e0
                ent[i, 3] = e0
            else:
                k0 = seg.shape[0] + extra[i]
                _entry_edges(seg, e0, e1, ent_flag[i] == BOUNDARY, box, bound[i], out, k0, True)
                ent[i, 2] = own[i]
                ent[i, 3] = k0
    _edge_constants(out)
    _linear_entries(ent, out, seg.shape[0], ent_cell, x0, y0, s, nx, pad)
    return ent, _share_lists(ent, out, seg.shape[0])


@njit(cache=True)
def _share_lists(ent: npt.NDArray[np.int32], edges: FloatArray, private_from: int) -> FloatArray:
    """The edge table with identical per-entry lists stored once (ent[:, 3] rewritten).

    Neighbouring cells mostly keep the same few edges (the walls of the room they are
    in): on Northfield 77,000 list rows hold 1,200 distinct ones. Lists are compared as
    their rows' bits (`_stored`), so every entry reads exactly the numbers it would
    have read from its own copy.
    """
    seen = Dict.empty(key_type=types.int64, value_type=types.int64)
    bits = edges.view(np.int64).ravel()
    table = bits[: private_from * EDGE_COLS].copy()
    n = table.shape[0]
    for i in range(ent.shape[0]):
        f = int(ent[i, 3])
        c = int(ent[i, 2])
        if f < private_from or c == 0:
            continue
        run = bits[f * EDGE_COLS : (f + c) * EDGE_COLS]
        start, table, n = _stored(run, c * EDGE_COLS, table, n, seen)
        ent[i, 3] = start // EDGE_COLS
    return table[:n].copy().view(np.float64).reshape(n // EDGE_COLS, EDGE_COLS)


@njit(cache=True)
def _linear_entries(
    ent: npt.NDArray[np.int32],
    out: FloatArray,
    private_from: int,
    ent_cell: IntArray,
    x0: float,
    y0: float,
    s: float,
    nx: int,
    pad: float,
) -> None:
    """Turn FULL entries whose distance is one line's into LINEAR ones (in place).

    When a single edge can be nearest to every point of a cell and every point of the
    cell projects inside that edge (t in (0, 1) at the four corners; t is affine), the
    distance is the distance to the edge's line: an affine function a*x + b*y + c with
    the sign chosen so it is positive in the cell. Its row then holds (a, b, c).
    """
    for i in range(ent.shape[0]):
        if ent[i, 1] != FULL or ent[i, 2] != 1 or ent[i, 3] < private_from:
            continue
        j = ent[i, 3]
        ax, ay, dx, dy, inv = out[j, 0], out[j, 1], out[j, 4], out[j, 5], out[j, 6]
        iy = ent_cell[i] // nx
        ix = ent_cell[i] - iy * nx
        ok = True
        for cx in (x0 + ix * s - pad, x0 + (ix + 1) * s + pad):
            for cy in (y0 + iy * s - pad, y0 + (iy + 1) * s + pad):
                t = ((cx - ax) * dx + (cy - ay) * dy) * inv
                ok &= (t > 1e-9) & (t < 1.0 - 1e-9)
        if not ok:
            continue
        length = math.sqrt(dx * dx + dy * dy)
        mx = x0 + (ix + 0.5) * s
        my = y0 + (iy + 0.5) * s
        sign = 1.0 if dx * (my - ay) - dy * (mx - ax) > 0.0 else -1.0
        out[j, 0] = -sign * dy / length
        out[j, 1] = sign * dx / length
        out[j, 2] = sign * (dy * ax - dx * ay) / length
        out[j, 3] = 0.0
        ent[i, 1] = LINEAR


@njit(cache=True)
def _edge_constants(out: FloatArray) -> None:
    """Fill the derived columns of edge rows: dx, dy, 1/length^2."""
    for j in range(out.shape[0]):
        dx = out[j, 2] - out[j, 0]
        dy = out[j, 3] - out[j, 1]
        out[j, 4] = dx
        out[j, 5] = dy
        out[j, 6] = 1.0 / (dx * dx + dy * dy)


@njit(cache=True, inline="always")
def _point_hits(
    px: float,
    py: float,
    first: int,
    entries: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    out_zone: npt.NDArray[np.int32],
    out_dist: FloatArray,
    k: int,
) -> int:
    """Write the hits of one point (its cell's entries are ent[first:first+entries]) at out[k:].

    Nearly branch-free per edge (bitwise `&`, `|`, `^` on booleans, clamps instead of
    ifs): with points in random order, mispredicted branches would cost more than the
    arithmetic. Every candidate is written; only hits advance the count.
    """
    n = 0
    for e in range(first, first + entries):
        r0 = ent[e, 3]
        r1 = r0 + ent[e, 2]
        flag = ent[e, 1]
        if flag == LINEAR:
            out_zone[k + n] = ent[e, 0]
            out_dist[k + n] = edges[r0, 0] * px + edges[r0, 1] * py + edges[r0, 2]
            n += 1
            continue
        d2 = np.inf
        if flag == FULL:
            # strictly inside: only the distance (its edges need not be ray-complete)
            for j in range(r0, r1):
                wx = px - edges[j, 0]
                wy = py - edges[j, 1]
                dx = edges[j, 4]
                dy = edges[j, 5]
                t = min(max((wx * dx + wy * dy) * edges[j, 6], 0.0), 1.0)
                ex = wx - t * dx
                ey = wy - t * dy
                d2 = min(d2, ex * ex + ey * ey)
            out_zone[k + n] = ent[e, 0]
            out_dist[k + n] = math.sqrt(d2)
            n += 1
            continue
        parity = False
        on_edge = False
        for j in range(r0, r1):
            ay = edges[j, 1]
            by = edges[j, 3]
            wx = px - edges[j, 0]
            wy = py - ay
            dx = edges[j, 4]
            dy = edges[j, 5]
            # orientation determinant: 0 on the edge's line (exact for axis-aligned edges)
            c = dx * wy - dy * wx
            parity ^= _crosses(py, ay, by, c, dy)
            if c == 0.0:
                # rare, so a well-predicted branch: is p on the segment, not just its line?
                on_edge |= _in_edge_box(px, py, edges[j, 0], ay, edges[j, 2], by)
            t = min(max((wx * dx + wy * dy) * edges[j, 6], 0.0), 1.0)
            ex = wx - t * dx
            ey = wy - t * dy
            d2 = min(d2, ex * ex + ey * ey)
        out_zone[k + n] = ent[e, 0]
        out_dist[k + n] = 0.0 if on_edge else math.sqrt(d2)
        n += parity | on_edge
    return n


@njit(cache=True, inline="always")
def _grid_index(
    lv: int,
    px: float,
    py: float,
    x0: FloatArray,
    y0: FloatArray,
    inv: FloatArray,
    nxa: IntArray,
    nya: IntArray,
) -> tuple[bool, int, int, int]:
    """(on the grid, level, ix, iy): a point's cell on a grid of nxa x nya cells of 1/inv.

    Branch-free: indexes are clamped into range (NaN clamps to 0) and the flag is false
    for points off the grid, on an unknown level, or with NaN.
    """
    nl = nxa.shape[0]
    ok = (lv >= 0) & (lv < nl)
    lc = min(max(lv, 0), nl - 1)
    fx = (px - x0[lc]) * inv[lc]
    fy = (py - y0[lc]) * inv[lc]
    mx = nxa[lc] - 1.0
    my = nya[lc] - 1.0
    ok &= (fx >= 0.0) & (fy >= 0.0) & (fx < mx + 1.0) & (fy < my + 1.0)
    # clamp with comparisons that NaN fails, so NaN lands on 0
    cx = fx if fx > 0.0 else 0.0
    cy = fy if fy > 0.0 else 0.0
    return ok, lc, int(cx if cx < mx else mx), int(cy if cy < my else my)


@njit(cache=True, inline="always")
def _cell_word(
    lv: int,
    px: float,
    py: float,
    x0: FloatArray,
    y0: FloatArray,
    inv: FloatArray,
    nxa: IntArray,
    nya: IntArray,
    base: IntArray,
    cells: IntArray,
) -> int:
    """The packed word (first entry, entry count) of a point's cell; 0 when it has none."""
    ok, lc, ix, iy = _grid_index(lv, px, py, x0, y0, inv, nxa, nya)
    w = cells[base[lc] + iy * nxa[lc] + ix]
    return w if ok else 0


@njit(cache=True, inline="always")
def _cells_chunk(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    start: int,
    end: int,
    word: IntArray,
) -> int:
    """Cell words of points start..end into word[]; their candidate count.

    `g` = (x0, y0, inv, nx, ny, base, cells).
    """
    x0, y0, inv, nxa, nya, base, cells = g
    mask = (1 << COUNT_BITS) - 1
    total = 0
    for i in range(start, end):
        w = _cell_word(level[i], x[i], y[i], x0, y0, inv, nxa, nya, base, cells)
        word[i] = w
        total += w & mask
    return total


@njit(cache=True, inline="always")
def _hits_chunk(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    start: int,
    end: int,
    k: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    od: FloatArray,
    offsets: IntArray,
) -> int:
    """Write the hits (zone, distance) of points start..end from oz[k]; the new k.

    The entries and edges of the points a few places ahead are prefetched.
    """
    mask = (1 << COUNT_BITS) - 1
    for i in range(start, end):
        if i + AHEAD_ENTRIES < end:
            prefetch(ent, word[i + AHEAD_ENTRIES] >> COUNT_BITS)
        if i + AHEAD_EDGES < end:
            w = word[i + AHEAD_EDGES]
            for e in range(w >> COUNT_BITS, (w >> COUNT_BITS) + (w & mask)):
                prefetch(edges, ent[e, 3])
        offsets[i] = k
        w = word[i]
        m = w & mask
        if m != 0:
            k += _point_hits(x[i], y[i], w >> COUNT_BITS, m, ent, edges, oz, od, k)
    return k


@njit(cache=True)
def _cells(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    bounds: IntArray,
    word: IntArray,
    room: IntArray,
) -> None:
    """Pass 1 (this thread): every point's cell word; room[c + 1] = candidates in chunk c."""
    for c in range(bounds.shape[0] - 1):
        room[c + 1] = _cells_chunk(level, x, y, g, bounds[c], bounds[c + 1], word)


@njit(cache=True)
def _fill(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    bounds: IntArray,
    room: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    od: FloatArray,
    offsets: IntArray,
    used: IntArray,
) -> None:
    """Pass 2 (this thread): chunk c writes its hits from oz[room[c]]; used[c] = how many."""
    for c in range(bounds.shape[0] - 1):
        k = _hits_chunk(x, y, word, bounds[c], bounds[c + 1], room[c], ent, edges, oz, od, offsets)
        used[c] = k - room[c]


# The parallel passes repeat the serial ones with prange on purpose: one Python body
# compiled twice (njit and njit(parallel=True)) shares one numba cache entry, so a run
# can load the serial machine code for the parallel dispatcher (checked with numba 0.68).
# Their bodies are one call to the chunk function both share.
@njit(cache=True, parallel=True)
def _par_cells(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray, IntArray, IntArray],
    bounds: IntArray,
    word: IntArray,
    room: IntArray,
) -> None:
    """Pass 1 (a chunk per thread): every point's cell word; room[c + 1] = chunk c's candidates."""
    for c in prange(bounds.shape[0] - 1):
        room[c + 1] = _cells_chunk(level, x, y, g, bounds[c], bounds[c + 1], word)


@njit(cache=True, parallel=True)
def _par_fill(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    bounds: IntArray,
    room: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    od: FloatArray,
    offsets: IntArray,
    used: IntArray,
) -> None:
    """Pass 2 (a chunk per thread): chunk c writes its hits from oz[room[c]]; used[c] = count."""
    for c in prange(bounds.shape[0] - 1):
        k = _hits_chunk(x, y, word, bounds[c], bounds[c + 1], room[c], ent, edges, oz, od, offsets)
        used[c] = k - room[c]


@dataclass(frozen=True, slots=True)
class CompiledGrid:
    """Every level's candidate grid, concatenated into flat arrays the kernels take.

    Level l: origin (x0[l], y0[l]), 1/cell size inv[l], nx[l] x ny[l] cells from global
    cell base[l] (row-major). Cell c: `cells[c]` packs its first entry (high bits) and
    entry count (low COUNT_BITS bits). Entry e: `ent[e]` = (zone number, flag FULL, LINEAR or
    BOUNDARY, edge count, first edge row); edges are rows (ax, ay, bx, by) of `edges`.
    The membership path's grid is finer: level l's cells split into fnx[l] x fny[l]
    fine cells (1/finv[l] metres, a power-of-two fraction of the cell) numbered from
    fbase[l]; `fine` holds each fine cell's number in `words`, the dictionary of
    membership words (`fine_tables`), whose entries are the rows of `ment`. `medges`: the edge
    table's (ax, ay, bx, by) columns alone, all the crossing test reads: half the bytes
    per edge, 5-15% faster on the 20,000-zone campus whose edges come from memory.
    """

    x0: FloatArray
    y0: FloatArray
    inv: FloatArray
    nx: IntArray
    ny: IntArray
    base: IntArray
    cells: IntArray
    ent: npt.NDArray[np.int32]
    edges: FloatArray
    medges: FloatArray
    finv: FloatArray
    fnx: IntArray
    fny: IntArray
    fbase: IntArray
    fine: npt.NDArray[np.uint32] | npt.NDArray[np.uint16]
    wbase: IntArray
    words: IntArray
    ment: npt.NDArray[np.int32]

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f).nbytes for f in self.__dataclass_fields__)


def query_grid(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    grid: CompiledGrid,
    threads: int,
) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
    """All hits of a batch of points on a compiled grid: (offsets, zone, distance) in CSR form.

    Pass 1 finds every point's cell (looking all cells up first lets the CPU overlap
    those cache misses) and counts candidates per chunk of points; pass 2 writes each
    chunk's hits into its own part of a buffer sized by those counts; the chunks are
    then joined. One chunk on one thread, else 4 chunks per thread. Arrays are
    allocated here by numpy, not in the kernels: numpy asks the kernel for huge pages,
    which saves most page faults on large batches.
    """
    g = grid
    n = x.shape[0]
    bounds = chunk_bounds(n, threads)
    chunks = len(bounds) - 1
    word = np.empty(n, np.int64)
    room = np.zeros(chunks + 1, np.int64)
    cells_pass = _par_cells if chunks > 1 else _cells
    geo = (g.x0, g.y0, g.inv, g.nx, g.ny, g.base, g.cells)
    cells_pass(level, x, y, geo, bounds, word, room)
    np.cumsum(room, out=room)
    oz = np.empty(int(room[chunks]), np.int32)
    od = np.empty(int(room[chunks]), np.float64)
    offsets = np.empty(n + 1, np.int64)
    used = np.zeros(chunks, np.int64)
    fill_pass = _par_fill if chunks > 1 else _fill
    fill_pass(x, y, word, bounds, room, g.ent, g.edges, oz, od, offsets, used)
    zone, dist = _join_chunks(offsets, bounds, room, used, oz, od)
    return offsets, zone, dist


def chunk_bounds(n: int, threads: int) -> IntArray:
    """Where the chunks of a batch of n points start, and n: one chunk on one thread,
    else 4 per thread (at least 4,096 points each), so a slow chunk delays little."""
    chunks = 1 if threads <= 1 else max(1, min(4 * threads, n // 4096))
    return np.linspace(0, n, chunks + 1).astype(np.int64)


def _join_chunks(
    offsets: IntArray, bounds: IntArray, room: IntArray, used: IntArray, *parts: npt.NDArray[Any]
) -> list[npt.NDArray[Any]]:
    """Close the CSR form of pass 2's output: each of `parts` without the gaps, in place
    of offsets' last entry and shifts.

    Chunk c wrote used[c] hits from room[c] of every part (and their offsets); one chunk
    needs only trimming, more are moved down over the gaps between them, a chunk per
    thread (on one thread this copy was a fifth of a two-core query).
    """
    n = len(offsets) - 1
    chunks = len(used)
    if chunks == 1:
        offsets[n] = used[0]
        return [p[: used[0]] for p in parts]
    done = np.concatenate([[0], np.cumsum(used)]).astype(np.int64)
    out = [np.empty(int(done[chunks]), p.dtype) for p in parts]
    for k, (joined, p) in enumerate(zip(out, parts, strict=True)):
        _par_move(offsets, bounds, room, used, done, p, joined, k == 0)
    offsets[n] = done[chunks]
    return out


@njit(cache=True, parallel=True)
def _par_move(
    offsets: IntArray,
    bounds: IntArray,
    room: IntArray,
    used: IntArray,
    done: IntArray,
    part: npt.NDArray[Any],
    joined: npt.NDArray[Any],
    shift: bool,
) -> None:
    """Chunk c's used[c] values from part[room[c]:] to joined[done[c]:]; with `shift`, its
    points' offsets too."""
    for c in prange(used.shape[0]):
        a = room[c]
        b = done[c]
        joined[b : b + used[c]] = part[a : a + used[c]]
        if shift:
            for i in range(bounds[c], bounds[c + 1]):
                offsets[i] -= a - b


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
        if c == 0.0 and _in_edge_box(px, py, ax, ay, bx, by):
            return 0.0
        inside ^= _crosses(py, ay, by, c, by - ay)
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


@njit(cache=True, inline="always")
def _point_members(
    px: float,
    py: float,
    first: int,
    entries: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    out_zone: npt.NDArray[np.int32],
    k: int,
) -> int:
    """Membership only: write the zones containing one point at out_zone[k:]; their count.

    FULL and LINEAR entries are hits with no edge test; a BOUNDARY entry runs only the
    crossing-number and on-edge tests over its edges (its list is ray-complete).
    """
    n = 0
    for e in range(first, first + entries):
        out_zone[k + n] = ent[e, 0]
        if ent[e, 1] != BOUNDARY:
            n += 1
            continue
        r0 = ent[e, 3]
        hit = False
        for j in range(r0, r0 + ent[e, 2]):
            ax = edges[j, 0]
            ay = edges[j, 1]
            bx = edges[j, 2]
            by = edges[j, 3]
            wx = px - ax
            wy = py - ay
            # the same subtraction the edge table's dx, dy columns hold: the same bits
            dx = bx - ax
            dy = by - ay
            c = dx * wy - dy * wx
            hit ^= _crosses(py, ay, by, c, dy)
            if c == 0.0 and _in_edge_box(px, py, ax, ay, bx, by):
                # on the boundary: inside (closed zones), no need to count further
                hit = True
                break
        n += hit
    return n


#: Membership words: a cell whose zones all contain it whole (no BOUNDARY entry) and
#: number at most INLINE_ZONES carries those zone numbers in its word (INLINE_BIT set,
#: count in bits 60-61, zone q in bits [ZONE_BITS*q, ZONE_BITS*(q+1))): its points are
#: answered from the word alone, with no entry or edge to fetch.
INLINE_BIT = np.int64(1 << 62)
INLINE_ZONES = 3
ZONE_BITS = 20
ZONE_MASK = (1 << ZONE_BITS) - 1

#: Point lookups prefetch the cell of the point this many places ahead when the cell
#: array is too large for the cache (on small grids the prefetch only costs time).
AHEAD_CELLS = 32

#: Membership pass 2 prefetches the entries of the mixed point (one whose word is not
#: inline) this many mixed points ahead. Prefetching their edges too measured slower at
#: every campus size: their address waits for the entry (benchmarks/RESULTS.md).
AHEAD_MIXED = 2

#: Pass 1 prefetches the fine cells of points ahead when the fine grid has more bytes
#: than this (one core's L2 cache here): its lookups are independent, so the prefetch
#: costs little, and already a 2 MB grid was 5-15% faster with it (measured both ways).
FAR_CELL_BYTES = 1 << 20


@njit(cache=True)
def inline_words(cells: IntArray, ent: npt.NDArray[np.int32]) -> IntArray:
    """Membership cell words: `cells`, with every pure cell's zones packed into its word
    (`_inline_word`); other cells keep their (first entry, count) word."""
    mask = (1 << COUNT_BITS) - 1
    out = cells.copy()
    rows = np.empty(INLINE_ZONES, np.int64)
    flag = np.empty(INLINE_ZONES, np.uint8)
    for c in range(cells.shape[0]):
        first = cells[c] >> COUNT_BITS
        m = cells[c] & mask
        if m > INLINE_ZONES:
            continue
        for q in range(m):
            rows[q] = first + q
            flag[q] = BOUNDARY if ent[first + q, 1] == BOUNDARY else FULL
        w = _inline_word(ent, rows, flag, m)
        if w >= 0:
            out[c] = w
    return out


@njit(cache=True, inline="always")
def _inline_word(
    ent: npt.NDArray[np.int32], rows: IntArray, flag: npt.NDArray[np.uint8], m: int
) -> int:
    """The inline word of entries rows[:m] (INLINE_BIT, count m, their zones), or -1 when
    they are not pure: a BOUNDARY flag among flag[:m], more than INLINE_ZONES of them, or
    a zone number of 2**ZONE_BITS or more."""
    pure = m <= INLINE_ZONES
    for q in range(m):
        pure &= (flag[q] == FULL) & (ent[rows[q], 0] <= ZONE_MASK)
    if not pure:
        return -1
    w = INLINE_BIT | (np.int64(m) << 60)
    for q in range(m):
        w |= np.int64(ent[rows[q], 0]) << (ZONE_BITS * q)
    return int(w)


#: Most fine cells one level's membership grid may have (2 or 4 bytes each): a level
#: whose asked-for fine grid is larger gets half as many fine cells per side, and so on.
FINE_BUDGET = 1 << 26

#: The membership grid holds 16-bit word numbers when no level has more distinct words
#: than this (a level's dictionary: 240 to 52,000 words on the benchmark campuses).
FINE16_WORDS = 1 << 16


def fine_scale(n_cells: int, want: int) -> int:
    """Fine cells per cell side for a level of n_cells cells: want (a power of two),
    halved while the fine grid would pass FINE_BUDGET cells; at least 1."""
    k = want
    while k > 1 and n_cells * k * k > FINE_BUDGET:
        k //= 2
    return k


@njit(cache=True)
def _cell_edges(
    first: int,
    count: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    box: tuple[float, float, float, float],
    loc: IntArray,
    lstart: IntArray,
) -> IntArray:
    """The edges of each boundary entry that can matter anywhere in a (padded) cell.

    Entry first + q's are loc[lstart[q]:lstart[q + 1]] (loc is returned, grown when
    needed): those that can touch the cell or cross a horizontal ray going right from a
    point of it. Its other edges change no test inside the cell, and on levels that
    keep whole edge sets they are most of the list.
    """
    x0, y0, _, y1 = box
    n = 0
    for q in range(count):
        lstart[q] = n
        e = first + q
        if ent[e, 1] != BOUNDARY:
            continue
        loc = _room(loc, n + ent[e, 2])
        for j in range(ent[e, 3], ent[e, 3] + ent[e, 2]):
            if _ray_edge(edges[j, 0], edges[j, 1], edges[j, 2], edges[j, 3], x0, y0, y1):
                loc[n] = j
                n += 1
    lstart[count] = n
    return loc


@njit(cache=True)
def _classify_fine_cell(
    first: int,
    count: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    box: tuple[float, float, float, float],
    loc: IntArray,
    lstart: IntArray,
    keep: npt.NDArray[np.int64],
    flag: npt.NDArray[np.uint8],
) -> int:
    """The entries of a cell that matter in one (padded) fine cell of it; how many.

    keep[q] = entry index, flag[q] = FULL (contains the whole fine cell) or BOUNDARY
    (an edge of its list touches it). A boundary entry no edge touches is decided by
    the fine cell's centre (its list is ray-complete for every point of the cell, so
    the crossing number there is exact): FULL, or dropped. Only the cell's edges of
    each entry (`_cell_edges`: loc, lstart) are tested.
    """
    x0, y0, x1, y1 = box
    px = 0.5 * (x0 + x1)
    py = 0.5 * (y0 + y1)
    m = 0
    for q in range(count):
        e = first + q
        if ent[e, 1] != BOUNDARY:
            keep[m] = e
            flag[m] = FULL
            m += 1
            continue
        touched = False
        inside = False
        for t in range(lstart[q], lstart[q + 1]):
            j = loc[t]
            ax, ay, bx, by = edges[j, 0], edges[j, 1], edges[j, 2], edges[j, 3]
            touched |= _seg_box_intersects(ax, ay, bx, by, x0, y0, x1, y1)
            c = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
            inside ^= _crosses(py, ay, by, c, by - ay)
        if touched or inside:
            keep[m] = e
            flag[m] = BOUNDARY if touched else FULL
            m += 1
    return m


@njit(cache=True, inline="always")
def _room(a: npt.NDArray[Any], need: int) -> npt.NDArray[Any]:
    """`a`, or a copy at least twice as long when it is shorter than `need`."""
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def fine_tables(
    cwords: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    x0: FloatArray,
    y0: FloatArray,
    inv: FloatArray,
    nxa: IntArray,
    nya: IntArray,
    base: IntArray,
    scale: IntArray,
    fbase: IntArray,
    fine: npt.NDArray[np.uint32],
) -> tuple[IntArray, IntArray, npt.NDArray[np.int32]]:
    """Fill the membership grid `fine`; return (wbase, words, rows): the dictionaries of
    membership words (level l's from wbase[l]) and their entry rows.

    Level l's cells are split into scale[l] x scale[l] fine cells, row-major from
    fbase[l]. `cwords` are the cells' `inline_words`: an inline cell gives all its fine
    cells its word; the others are classified fine cell by fine cell
    (`_classify_fine_cell`), each inline when no wall crosses it and at most
    INLINE_ZONES zones hold it, else a (first row, count) word over entry rows that
    keep the cell's order (zones still come out ascending) and its edge lists. Every
    distinct word is stored once in its level's dictionary, which starts with the
    empty word, and `fine` holds its number there; identical row lists are stored once
    too. Both keep the membership grid of a large campus small: neighbouring fine cells
    mostly see the same walls, and a level's few distinct words fit 16-bit numbers.
    """
    mask = (1 << COUNT_BITS) - 1
    row_lists = Dict.empty(key_type=types.int64, value_type=types.int64)
    words = np.empty(1024, np.int64)
    n_words = 0
    wbase = np.empty(nxa.shape[0], np.int64)
    rows = np.empty(4096, np.int32)  # flat: 4 values per row
    n_rows = 0
    keep = np.empty(64, np.int64)
    flag = np.empty(64, np.uint8)
    one = np.empty(4 * 64, np.int32)
    lstart = np.empty(65, np.int64)
    loc = np.empty(1024, np.int64)
    seen_kept = np.empty(16, np.int64)
    seen_crossed = np.empty(16, np.int64)
    seen_u = np.empty(16, np.int64)
    for lv in range(nxa.shape[0]):
        number = Dict.empty(key_type=types.int64, value_type=types.int64)
        wbase[lv] = n_words
        words = _room(words, n_words + 1)
        words[n_words] = INLINE_BIT
        number[INLINE_BIT] = 0
        n_words += 1
        nx = nxa[lv]
        k = scale[lv]
        s = 1.0 / inv[lv]
        h = s / k
        pad = s * 1e-6
        fnx = nx * k
        for c in range(nx * nya[lv]):
            iy = c // nx
            ix = c - iy * nx
            f0 = fbase[lv] + iy * k * fnx + ix * k
            w = cwords[base[lv] + c]
            first = w >> COUNT_BITS
            count = w & mask
            if count > keep.shape[0]:
                keep = np.empty(count, np.int64)
                flag = np.empty(count, np.uint8)
                one = np.empty(4 * count, np.int32)
                lstart = np.empty(count + 1, np.int64)
            if w & INLINE_BIT:
                # no wall crosses the cell: its word for all its fine cells
                u, words, n_words = _word_number(w, number, words, n_words, wbase[lv])
                for sy in range(k):
                    fine[f0 + sy * fnx : f0 + sy * fnx + k] = u
                continue
            cx0 = x0[lv] + ix * s
            cy0 = y0[lv] + iy * s
            cell = (cx0 - pad, cy0 - pad, cx0 + s + pad, cy0 + s + pad)
            loc = _cell_edges(first, count, ent, edges, cell, loc, lstart)
            # fine cells of one cell mostly repeat a few classifications (kept entries,
            # which of them boundary, as bit masks, so for cells of at most 63 entries):
            # those are looked up here first
            masks = count <= 63
            seen = 0
            for sy in range(k):
                for sx in range(k):
                    box = (
                        cx0 + sx * h - pad,
                        cy0 + sy * h - pad,
                        cx0 + (sx + 1) * h + pad,
                        cy0 + (sy + 1) * h + pad,
                    )
                    m = _classify_fine_cell(first, count, ent, edges, box, loc, lstart, keep, flag)
                    kept = 0
                    crossed = 0
                    u = -1
                    if masks:
                        for q in range(m):
                            kept |= 1 << (keep[q] - first)
                            crossed |= (flag[q] == BOUNDARY) << (keep[q] - first)
                        for t in range(seen):
                            if (seen_kept[t] == kept) & (seen_crossed[t] == crossed):
                                u = seen_u[t]
                                break
                    if u < 0:
                        fw = _inline_word(ent, keep, flag, m)
                        if fw < 0:
                            for q in range(m):
                                one[4 * q : 4 * q + 4] = ent[keep[q]]
                                one[4 * q + 1] = flag[q]
                            f, rows, n_rows = _stored(one, 4 * m, rows, n_rows, row_lists)
                            fw = ((f // 4) << COUNT_BITS) | m
                        u, words, n_words = _word_number(fw, number, words, n_words, wbase[lv])
                        if masks and seen < seen_u.shape[0]:
                            seen_kept[seen] = kept
                            seen_crossed[seen] = crossed
                            seen_u[seen] = u
                            seen += 1
                    fine[f0 + sy * fnx + sx] = u
    return wbase, words[:n_words].copy(), rows[:n_rows].copy().reshape(n_rows // 4, 4)


@njit(cache=True, inline="always")
def _word_number(
    w: int, number: Dict[int, int], words: IntArray, n_words: int, base: int
) -> tuple[int, IntArray, int]:
    """The number of word w in the dictionary words[base:n_words] (`number` maps words
    to numbers), appended when new: (its number, words, n_words)."""
    u = number.get(w, -1)
    if u < 0:
        u = n_words - base
        number[w] = u
        words = _room(words, n_words + 1)
        words[n_words] = w
        n_words += 1
    return u, words, n_words


@njit(cache=True)
def _stored(
    vals: npt.NDArray[Any], m: int, table: npt.NDArray[Any], n: int, seen: Dict[int, int]
) -> tuple[int, npt.NDArray[Any], int]:
    """Store vals[:m] once in table[:n]: (where it starts, the table, its new length).

    A run stored before with the same values (found by a hash of them) is reused; a
    hash collision costs a copy, never a wrong answer.
    """
    h = m
    for q in range(m):
        # wraps around in 64 bits (numba integers): a hash, not a number
        h = h * 1000003 ^ vals[q]
    if h in seen:
        f = seen[h]
        same = f + m <= n
        if same:
            for q in range(m):
                same &= table[f + q] == vals[q]
        if same:
            return f, table, n
    else:
        seen[h] = n
    table = _room(table, n + m)
    table[n : n + m] = vals[:m]
    return n, table, n + m


def membership_tables(
    cells: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    levels: tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray, IntArray],
    want: IntArray,
) -> tuple[
    IntArray,
    IntArray,
    npt.NDArray[np.uint32] | npt.NDArray[np.uint16],
    IntArray,
    IntArray,
    npt.NDArray[np.int32],
]:
    """The membership path's tables: (scale, fbase, fine, wbase, words, ment).

    scale[l]: fine cells per cell side on level l (`fine_scale` of want[l], a power of
    two); fbase[l]: its first fine cell in `fine`, which holds each fine cell's number
    in its level's dictionary of membership words, words[wbase[l]:]; ment: their entry
    rows (`fine_tables`). `fine` is 16-bit when no level has more than FINE16_WORDS
    distinct words, else 32-bit.
    """
    x0, y0, inv, nxa, nya, base = levels
    scale = np.array(
        [fine_scale(int(a * b), int(k)) for a, b, k in zip(nxa, nya, want, strict=True)], np.int64
    )
    n_fine = nxa * nya * scale * scale
    fbase = np.concatenate([[0], np.cumsum(n_fine)[:-1]]).astype(np.int64)
    # allocated by numpy, like the query buffers: numpy asks for huge pages for large ones
    fine = np.empty(int(n_fine.sum()), np.uint32)
    wbase, words, ment = fine_tables(
        inline_words(cells, ent), ent, edges, x0, y0, inv, nxa, nya, base, scale, fbase, fine
    )
    # a level has no more distinct words than fine cells, far fewer than 2**32
    most = int(np.diff(np.append(wbase, len(words))).max())
    if most <= FINE16_WORDS:
        # half the bytes per lookup, so twice the campus before the grid leaves the cache
        fine = fine.astype(np.uint16)
    return scale, fbase, fine, wbase, words, ment


@njit(cache=True, inline="always")
def _word_count(w: int) -> int:
    """Candidates of a membership word (exact for inline words, an upper bound otherwise)."""
    inline = (w >> 62) & 1
    # branch-free: pure and mixed cells alternate at random
    return inline * ((w >> 60) & 3) + (1 - inline) * (w & ((1 << COUNT_BITS) - 1))


@njit(cache=True, inline="always")
def _prefetch_cell(
    lv: int,
    px: float,
    py: float,
    x0: FloatArray,
    y0: FloatArray,
    inv: FloatArray,
    nxa: IntArray,
    nya: IntArray,
    base: IntArray,
    cells: npt.NDArray[Any],
) -> None:
    """Start loading the cell word of a point (off the grid: its clamped cell, harmless)."""
    _, lc, ix, iy = _grid_index(lv, px, py, x0, y0, inv, nxa, nya)
    prefetch(cells, base[lc] + iy * nxa[lc] + ix)


#: The grid arrays pass 1 of the membership path reads: (x0, y0, finv, fnx, fny, fbase,
#: fine, wbase, words): the fine grid's geometry per level, the fine cells, the
#: dictionaries.
MemberGeometry = tuple[
    FloatArray,
    FloatArray,
    FloatArray,
    IntArray,
    IntArray,
    IntArray,
    npt.NDArray[np.uint32] | npt.NDArray[np.uint16],
    IntArray,
    IntArray,
]


@njit(cache=True, inline="always")
def _words_chunk(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: MemberGeometry,
    far: bool,
    start: int,
    end: int,
    word: IntArray,
) -> int:
    """Membership words of points start..end into word[]; their candidate count.

    Two loops: each point's fine cell (on a `far` fine grid the cell of the point
    AHEAD_CELLS places on is prefetched, so the cache misses overlap; off the grid:
    word 0, no zone), then its word from the dictionary. Kept apart, each loop's loads
    are independent of each other.
    """
    x0, y0, finv, fnx, fny, fbase, fine, wbase, words = g
    n = x.shape[0]
    for i in range(start, end):
        j = i + AHEAD_CELLS
        if far and j < n:
            _prefetch_cell(level[j], x[j], y[j], x0, y0, finv, fnx, fny, fbase, fine)
        # finv = inv * scale, a power of two: exactly scale times the cell coordinate,
        # so a fine cell always lies in the cell its lists came from
        ok, lc, jx, jy = _grid_index(level[i], x[i], y[i], x0, y0, finv, fnx, fny)
        u = wbase[lc] + fine[fbase[lc] + jy * fnx[lc] + jx]
        # word 0 is level 0's empty word
        word[i] = u if ok else 0
    total = 0
    for i in range(start, end):
        w = words[word[i]]
        word[i] = w
        total += _word_count(w)
    return total


@njit(cache=True)
def _member_words(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: MemberGeometry,
    far: bool,
    bounds: IntArray,
    word: IntArray,
    room: IntArray,
) -> None:
    """Membership pass 1 (this thread): every point's word; room[c + 1] = chunk c's candidates."""
    for c in range(bounds.shape[0] - 1):
        room[c + 1] = _words_chunk(level, x, y, g, far, bounds[c], bounds[c + 1], word)


@njit(cache=True, parallel=True)
def _par_member_words(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    g: MemberGeometry,
    far: bool,
    bounds: IntArray,
    word: IntArray,
    room: IntArray,
) -> None:
    """Membership pass 1 (a chunk per thread): words; room[c + 1] = chunk c's candidates."""
    for c in prange(bounds.shape[0] - 1):
        room[c + 1] = _words_chunk(level, x, y, g, far, bounds[c], bounds[c + 1], word)


@njit(cache=True, inline="always")
def _members_chunk(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    start: int,
    end: int,
    k: int,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    offsets: IntArray,
) -> int:
    """Write the zones of points start..end from oz[k]; the new k.

    Inline words are decoded (all three slots written, only `count` kept); other words
    run their entries. Those are 6-10% of points, so their entries are prefetched
    AHEAD_MIXED mixed points ahead (listed first), not a fixed number of points ahead:
    a fixed distance is sometimes no mixed point at all and sometimes many.
    """
    mask = (1 << COUNT_BITS) - 1
    mixed = np.empty(end - start, np.int32)
    m = 0
    for i in range(start, end):
        # branch-free: every point writes, only mixed ones advance
        mixed[m] = i - start
        m += (word[i] & INLINE_BIT) == 0
    t = 0
    for i in range(start, end):
        offsets[i] = k
        w = word[i]
        if w & INLINE_BIT:
            # room holds the three slots: a chunk's buffer ends with INLINE_ZONES spare
            oz[k] = w & ZONE_MASK
            oz[k + 1] = (w >> ZONE_BITS) & ZONE_MASK
            oz[k + 2] = (w >> (2 * ZONE_BITS)) & ZONE_MASK
            k += (w >> 60) & 3
            continue
        if t + AHEAD_MIXED < m:
            prefetch(ent, word[start + mixed[t + AHEAD_MIXED]] >> COUNT_BITS)
        t += 1
        if w & mask:
            k += _point_members(x[i], y[i], w >> COUNT_BITS, w & mask, ent, edges, oz, k)
    return k


@njit(cache=True)
def _fill_members(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    bounds: IntArray,
    room: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    offsets: IntArray,
    used: IntArray,
) -> None:
    """Membership pass 2 (this thread): chunk c writes its zones from oz[room[c]]."""
    for c in range(bounds.shape[0] - 1):
        k = _members_chunk(x, y, word, bounds[c], bounds[c + 1], room[c], ent, edges, oz, offsets)
        used[c] = k - room[c]


@njit(cache=True, parallel=True)
def _par_fill_members(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    bounds: IntArray,
    room: IntArray,
    ent: npt.NDArray[np.int32],
    edges: FloatArray,
    oz: npt.NDArray[np.int32],
    offsets: IntArray,
    used: IntArray,
) -> None:
    """Membership pass 2 (a chunk per thread): chunk c writes its zones from oz[room[c]]."""
    for c in prange(bounds.shape[0] - 1):
        k = _members_chunk(x, y, word, bounds[c], bounds[c + 1], room[c], ent, edges, oz, offsets)
        used[c] = k - room[c]


def query_members(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    grid: CompiledGrid,
    threads: int,
) -> tuple[IntArray, npt.NDArray[np.int32]]:
    """Membership-only `query_grid`: (offsets, zone) in CSR form, no distances computed.

    Same two passes on the membership grid (`grid.fine`, `grid.words`): points whose
    fine cell's word is inline are answered from it; the others run the crossing-number
    test of their fine cell's rows.
    """
    bounds = chunk_bounds(x.shape[0], threads)
    word, room = member_words(level, x, y, grid, bounds)
    offsets, oz, start, used = member_zones(x, y, word, bounds, room, grid)
    (zone,) = _join_chunks(offsets, bounds, start, used, oz)
    return offsets, zone


def member_words(
    level: npt.NDArray[np.int32],
    x: FloatArray,
    y: FloatArray,
    grid: CompiledGrid,
    bounds: IntArray,
) -> tuple[IntArray, IntArray]:
    """Membership pass 1 over the chunks `bounds` (a chunk per thread when there are
    several): (word, room), every point's membership word and room[c + 1] the most
    zones chunk c can have."""
    g = grid
    chunks = len(bounds) - 1
    word = np.empty(x.shape[0], np.int64)
    room = np.zeros(chunks + 1, np.int64)
    far_cells = g.fine.nbytes > FAR_CELL_BYTES
    words_pass = _par_member_words if chunks > 1 else _member_words
    geo = (g.x0, g.y0, g.finv, g.fnx, g.fny, g.fbase, g.fine, g.wbase, g.words)
    words_pass(level, x, y, geo, far_cells, bounds, word, room)
    return word, room


def member_zones(
    x: FloatArray,
    y: FloatArray,
    word: IntArray,
    bounds: IntArray,
    room: IntArray,
    grid: CompiledGrid,
) -> tuple[IntArray, npt.NDArray[np.int32], IntArray, IntArray]:
    """Membership pass 2 over `member_words`' output: (offsets, oz, start, used), chunk
    c's zones being oz[start[c]:start[c] + used[c]] (`_join_chunks` closes the gaps)."""
    chunks = len(bounds) - 1
    # each chunk's part gets INLINE_ZONES spare slots: inline words write all of theirs
    start = room.copy()
    start[1:] += INLINE_ZONES
    np.cumsum(start, out=start)
    oz = np.empty(int(start[chunks]), np.int32)
    offsets = np.empty(x.shape[0] + 1, np.int64)
    used = np.zeros(chunks, np.int64)
    fill_pass = _par_fill_members if chunks > 1 else _fill_members
    fill_pass(x, y, word, bounds, start, grid.ment, grid.medges, oz, offsets, used)
    return offsets, oz, start, used
