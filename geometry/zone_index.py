"""The zone index: which zones contain each point of a batch, and how far each boundary is.

One `rtree` index per level holds the zone bounds and changes at runtime (`add`,
`update`, `remove`). A query compiles every changed level, lazily, to flat arrays (see
`geometry.pip_kernel`): a uniform candidate grid whose cells list the zones that can
contain a point of the cell, cells strictly inside a zone marked *full* (no edge test),
and per cell and zone the few edges that can matter for the crossing-number test and
for the distance to the boundary. The numba kernel then answers a batch with no Python
per point, on one thread or on all of them (`numba.set_num_threads`).

Rules, also in docs/zone-lookup.md:

* A zone is a closed set: a point exactly on an edge or a vertex is inside it, with
  distance 0. This is shapely's `intersects_xy`. Someone standing in a doorway on the
  shared wall of two rooms is in both, which the engine's hysteresis then resolves,
  rather than in neither. The decision is exact for vertices and axis-aligned edges;
  on slanted edges it is the floating-point orientation test.
* Distance: the Euclidean distance from the point to the nearest edge of any ring
  (holes and every part of a MultiPolygon included) of that zone, exact up to rounding.
* Points on a level code outside `0..len(level_ids)-1` (the engine uses -1 for "no
  level") or with a NaN coordinate have no hits; they are not an error.
* Zones are numbered densely from 0; a number is stable while its zone exists, and
  the number of a removed zone is reused by the next `add` (lowest free first).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import shapely
from rtree import index as rtree_index
from shapely.geometry import MultiPolygon, Polygon

from geometry import pip_kernel
from geometry.errors import InputError
from geometry.model import Floorplan, Zone

#: Batches at least this large run on all numba threads by default.
PARALLEL_THRESHOLD = 20_000

#: Levels with more zones than this test small zones whole instead of per-cell edge lists.
SHARED_EDGES_ABOVE = 2_000

#: Auto cell size: this fraction of the median short side of the zones' bounds (a third
#: on levels with more than SHARED_EDGES_ABOVE zones, to keep their grid smaller). Fine
#: cells leave fewer points in cells a wall crosses (the only ones needing an edge test):
#: on Northfield a ninth (1.06 m cells) answers 70% of points from the cell word alone
#: and runs 1.5x the old third (measured in benchmarks/RESULTS.md).
CELL_FRACTION = 1.0 / 9.0
CELL_FRACTION_LARGE = 1.0 / 3.0

#: Fine cells per cell side of the membership grid (`pip_kernel.membership_tables`):
#: a quarter of a cell, an eighth on levels whose cells are CELL_FRACTION_LARGE, so
#: fine cells are about the same fraction of a room everywhere (on the 20,000-zone
#: campus an eighth answered 91% of points from their word, a quarter 82%).
FINE_SCALE = 4
FINE_SCALE_LARGE = 8

#: Most grid cells one level may have (an explicit cell_size can ask for more).
MAX_CELLS = 50_000_000


class UnknownIdError(InputError, KeyError):
    """A level id, zone id or zone number the index does not know (also a KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class ZoneHits:
    """Zones containing each point, in CSR form.

    The hits of point i are `zone[offsets[i]:offsets[i+1]]` (zone numbers, ascending)
    with `distance[...]` the distance (>= 0, metres) from the point to that zone's
    boundary; `distance` is empty when the query asked for membership only.
    """

    offsets: npt.NDArray[np.int64]
    zone: npt.NDArray[np.int32]
    distance: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> npt.NDArray[np.int64]:
        """Number of zones containing each point."""
        return np.diff(self.offsets)

    def point(self) -> npt.NDArray[np.int64]:
        """For every hit, the index of its point (the CSR row), aligned with `zone`."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.counts())

    def ids_of(self, i: int, index: ZoneIndex) -> list[str]:
        """Ids of the zones containing point i, sorted by zone id (stable across rebuilds)."""
        numbers = self.zone[self.offsets[i] : self.offsets[i + 1]]
        return sorted(index.zone_id(int(z)) for z in numbers)


@dataclass(frozen=True, slots=True)
class _LevelGrid:
    """One level compiled: grid geometry, per cell (first entry, count), entries, edges,
    and the fine cells per cell side its membership grid asks for."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    first: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    ent: npt.NDArray[np.int32]
    edges: npt.NDArray[np.float64]
    fine_scale: int


def zone_edges(zone: Zone) -> npt.NDArray[np.float64]:
    """Every edge of every ring of a zone as rows (ax, ay, bx, by); checks the geometry."""
    geom = zone.polygon
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise InputError(
            f"zone {zone.id!r}: the geometry must be a non-empty Polygon or MultiPolygon, "
            f"got {geom.geom_type}; fix the zone's geometry"
        )
    rings = shapely.get_rings(shapely.get_parts(geom))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    if not np.isfinite(coords).all():
        raise InputError(f"zone {zone.id!r}: a coordinate is NaN or infinite; fix the ring")
    same = ring[:-1] == ring[1:]
    edges = np.concatenate([coords[:-1][same], coords[1:][same]], axis=1)
    # zero-length edges (repeated vertices) change nothing: drop them
    edges = edges[(edges[:, 0] != edges[:, 2]) | (edges[:, 1] != edges[:, 3])]
    if len(edges) < 3:
        raise InputError(
            f"zone {zone.id!r}: the polygon is degenerate (fewer than 3 distinct edges); "
            "fix the ring"
        )
    return np.ascontiguousarray(edges, dtype=np.float64)


def _edge_bounds(edges: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Bounds (xmin, ymin, xmax, ymax) of a set of edges."""
    xs = edges[:, 0::2]
    ys = edges[:, 1::2]
    return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))


def _grid_cell_size(
    bounds: npt.NDArray[np.float64], extent: tuple[float, float, float, float], large: bool
) -> float:
    """Cell size: a fraction of the median short side of the zones (CELL_FRACTION, or
    CELL_FRACTION_LARGE on a `large` level), coarsened to bound the count."""
    w = bounds[:, 2] - bounds[:, 0]
    h = bounds[:, 3] - bounds[:, 1]
    width = extent[2] - extent[0]
    height = extent[3] - extent[1]
    span = max(width, height, 1e-9)
    fraction = CELL_FRACTION_LARGE if large else CELL_FRACTION
    s = max(fraction * float(np.median(np.minimum(w, h))), span / 4096.0, 1e-6)
    # memory and build time stay proportional to the zone count (past a floor that small
    # plans with large grounds, like Northfield's fields, need for their fine cells)
    max_cells = min(max(65_536, 128 * len(bounds)), 8_000_000)
    while (width / s + 1.0) * (height / s + 1.0) > max_cells:
        s *= 1.25
    return s


class ZoneIndex:
    """Dynamic per-level zone index answering batch point-in-zone queries (see module doc)."""

    def __init__(
        self,
        level_ids: Sequence[str],
        zones: Iterable[Zone] = (),
        *,
        cell_size: float | None = None,
    ) -> None:
        self._level_ids = tuple(level_ids)
        self._level_code: dict[str, int] = {}
        for code, lid in enumerate(self._level_ids):
            if lid in self._level_code:
                raise InputError(f"level id {lid!r} is given twice; level ids must be unique")
            self._level_code[lid] = code
        if cell_size is not None and not (cell_size > 0 and math.isfinite(cell_size)):
            raise InputError(f"cell_size must be a positive number of metres, got {cell_size}")
        self._cell_size = cell_size
        self._zones: list[Zone | None] = []
        self._edges: list[npt.NDArray[np.float64] | None] = []
        self._bounds: list[tuple[float, float, float, float] | None] = []
        self._zone_level: list[int] = []
        self._number: dict[str, int] = {}
        self._free: list[int] = []
        self._trees = [rtree_index.Index(interleaved=True) for _ in self._level_ids]
        self._members: list[set[int]] = [set() for _ in self._level_ids]
        self._levels: list[_LevelGrid | None] = [None for _ in self._level_ids]
        self._grid: pip_kernel.CompiledGrid | None = None
        self._all_edges: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None
        for zone in zones:
            self.add(zone)

    @classmethod
    def from_floorplan(cls, floorplan: Floorplan) -> ZoneIndex:
        """An index of every zone of a floorplan; levels coded in file order, zones numbered so."""
        return cls([lv.id for lv in floorplan.levels], floorplan.zones)

    # ---- ids and numbers -------------------------------------------------------------

    @property
    def level_ids(self) -> tuple[str, ...]:
        """The level ids; a level's code is its position here."""
        return self._level_ids

    def level_code(self, level_id: str) -> int:
        """The code of a level id (UnknownIdError when there is none)."""
        try:
            return self._level_code[level_id]
        except KeyError:
            raise UnknownIdError(
                f"unknown level {level_id!r}; known levels: {', '.join(self._level_ids)}"
            ) from None

    def level_codes(self, level_ids: Iterable[str]) -> npt.NDArray[np.int32]:
        """Codes of many level ids, -1 for unknown ones (e.g. for a CSV column)."""
        return np.array([self._level_code.get(lid, -1) for lid in level_ids], dtype=np.int32)

    def zone_number(self, zone_id: str) -> int:
        """The number of a zone id (UnknownIdError when there is none)."""
        try:
            return self._number[zone_id]
        except KeyError:
            raise UnknownIdError(f"unknown zone {zone_id!r}") from None

    def zone_id(self, number: int) -> str:
        """The id of a zone number (UnknownIdError when no zone has it)."""
        return self.zone(number).id

    def zone(self, number_or_id: int | str) -> Zone:
        """The zone with this number or id (UnknownIdError when there is none)."""
        number = (
            self.zone_number(number_or_id) if isinstance(number_or_id, str) else int(number_or_id)
        )
        zone = self._zones[number] if 0 <= number < len(self._zones) else None
        if zone is None:
            raise UnknownIdError(f"no zone has number {number}")
        return zone

    def __len__(self) -> int:
        return len(self._number)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._number

    @property
    def capacity(self) -> int:
        """One more than the highest zone number in use (size for per-zone arrays)."""
        return len(self._zones)

    @property
    def zones(self) -> tuple[Zone, ...]:
        """The zones, in zone-number order."""
        return tuple(z for z in self._zones if z is not None)

    # ---- changes -----------------------------------------------------------------------

    def add(self, zone: Zone) -> int:
        """Add a zone; returns its number (the lowest free one)."""
        if zone.id in self._number:
            raise InputError(f"zone {zone.id!r} is already in the index; use update() to change it")
        code = self._code_of_zone(zone)
        edges = zone_edges(zone)
        number = heapq.heappop(self._free) if self._free else len(self._zones)
        if number == len(self._zones):
            self._zones.append(None)
            self._edges.append(None)
            self._bounds.append(None)
            self._zone_level.append(-1)
        self._place(number, zone, code, edges)
        return number

    def update(self, zone: Zone) -> None:
        """Replace the zone with the same id (geometry, level or attributes); keeps its number."""
        number = self.zone_number(zone.id)
        code = self._code_of_zone(zone)
        edges = zone_edges(zone)
        self._unplace(number)
        self._place(number, zone, code, edges)

    def remove(self, zone_id: str) -> None:
        """Remove a zone; its number becomes free for a later add."""
        number = self.zone_number(zone_id)
        self._unplace(number)
        del self._number[zone_id]
        self._zones[number] = None
        self._edges[number] = None
        self._bounds[number] = None
        self._zone_level[number] = -1
        heapq.heappush(self._free, number)

    def _code_of_zone(self, zone: Zone) -> int:
        """The level code of a zone, with an error naming the zone when it is unknown."""
        code = self._level_code.get(zone.level)
        if code is None:
            raise UnknownIdError(
                f"zone {zone.id!r} is on unknown level {zone.level!r}; "
                f"known levels: {', '.join(self._level_ids)}"
            )
        return code

    def _place(self, number: int, zone: Zone, code: int, edges: npt.NDArray[np.float64]) -> None:
        """Store a zone under a number and put its bounds in its level's R-tree."""
        bounds = _edge_bounds(edges)
        self._zones[number] = zone
        self._edges[number] = edges
        self._bounds[number] = bounds
        self._zone_level[number] = code
        self._number[zone.id] = number
        self._trees[code].insert(number, bounds)
        self._members[code].add(number)
        self._levels[code] = None
        self._grid = None
        self._all_edges = None

    def _unplace(self, number: int) -> None:
        """Take a zone out of its level's R-tree (its slot stays)."""
        code = self._zone_level[number]
        bounds = self._bounds[number]
        assert bounds is not None
        self._trees[code].delete(number, bounds)
        self._members[code].discard(number)
        self._levels[code] = None
        self._grid = None
        self._all_edges = None

    # ---- queries -----------------------------------------------------------------------

    def candidates(self, level_id: str, bounds: tuple[float, float, float, float]) -> list[str]:
        """Ids of the zones of a level whose bounds meet (xmin, ymin, xmax, ymax), sorted."""
        tree = self._trees[self.level_code(level_id)]
        return sorted(self.zone_id(n) for n in tree.intersection(bounds))

    def query(
        self,
        level: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        parallel: bool | None = None,
        distances: bool = True,
    ) -> ZoneHits:
        """Every zone containing each point (level codes, local metres), with boundary distances.

        `parallel`: run on all numba threads; by default when the batch has at least
        PARALLEL_THRESHOLD points. `distances=False`: membership only (same zones, a
        faster kernel that never measures a distance); `distance` is then an empty array.
        """
        lv = np.ascontiguousarray(level, dtype=np.int32)
        xs = np.ascontiguousarray(x, dtype=np.float64)
        ys = np.ascontiguousarray(y, dtype=np.float64)
        if not (lv.ndim == xs.ndim == ys.ndim == 1 and len(lv) == len(xs) == len(ys)):
            raise InputError(
                f"level, x and y must be 1-d arrays of one length, got shapes "
                f"{lv.shape}, {xs.shape}, {ys.shape}"
            )
        if parallel is None:
            parallel = len(xs) >= PARALLEL_THRESHOLD
        threads = numba.get_num_threads() if parallel else 1
        if not distances:
            offsets, zone = pip_kernel.query_members(lv, xs, ys, self._compiled(), threads)
            return ZoneHits(offsets=offsets, zone=zone, distance=np.empty(0, np.float64))
        offsets, zone, dist = pip_kernel.query_grid(lv, xs, ys, self._compiled(), threads)
        return ZoneHits(offsets=offsets, zone=zone, distance=dist)

    def query_level(
        self,
        level_id: str,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        parallel: bool | None = None,
        distances: bool = True,
    ) -> ZoneHits:
        """`query` with every point on one level (UnknownIdError for an unknown level)."""
        xs = np.ascontiguousarray(x, dtype=np.float64)
        level = np.full(xs.shape, self.level_code(level_id), dtype=np.int32)
        return self.query(level, xs, y, parallel=parallel, distances=distances)

    def signed_distance(
        self, zone: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Distance from point i to the boundary of zone[i]: > 0 inside, < 0 outside, 0 on it."""
        zs = np.ascontiguousarray(zone, dtype=np.int32)
        xs = np.ascontiguousarray(x, dtype=np.float64)
        ys = np.ascontiguousarray(y, dtype=np.float64)
        if not (zs.ndim == xs.ndim == ys.ndim == 1 and len(zs) == len(xs) == len(ys)):
            raise InputError(
                f"zone, x and y must be 1-d arrays of one length, got shapes "
                f"{zs.shape}, {xs.shape}, {ys.shape}"
            )
        seg, zstart = self._edge_table()
        if len(zs):
            alive = zstart[1:] > zstart[:-1]
            bad = (zs < 0) | (zs >= len(alive))
            bad[~bad] = ~alive[zs[~bad]]
            if bad.any():
                raise UnknownIdError(f"no zone has number {int(zs[np.argmax(bad)])}")
        return pip_kernel.signed_distance_kernel(zs, xs, ys, seg, zstart)

    # ---- compilation -------------------------------------------------------------------

    def _edge_table(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """All zones' edges by zone number: (edges, start[capacity + 1]); empty when removed."""
        if self._all_edges is None:
            sizes = [0 if e is None else len(e) for e in self._edges]
            zstart = np.zeros(len(sizes) + 1, np.int64)
            np.cumsum(sizes, out=zstart[1:])
            parts = [e for e in self._edges if e is not None]
            seg = np.concatenate(parts) if parts else np.empty((0, 4), np.float64)
            self._all_edges = (np.ascontiguousarray(seg), zstart)
        return self._all_edges

    def _compile_level(self, code: int) -> _LevelGrid:
        """Build the candidate grid of one level from its R-tree."""
        tree = self._trees[code]
        numbers = np.array(sorted(self._members[code]), dtype=np.int64)
        if len(numbers) == 0:
            # one empty cell: the kernel's clamped lookup always has a cell to read
            zero = np.zeros(1, np.int64)
            return _LevelGrid(
                0.0,
                0.0,
                1.0,
                1,
                1,
                zero,
                zero,
                np.empty((0, 4), np.int32),
                np.empty((0, pip_kernel.EDGE_COLS)),
                1,
            )
        xmin, ymin, xmax, ymax = (float(v) for v in tree.bounds)
        bounds = np.array([self._bounds[n] for n in numbers], dtype=np.float64)
        # a level of many zones: coarser automatic cells, small zones' edge sets shared,
        # more fine cells per cell for the membership grid
        large = len(numbers) > SHARED_EDGES_ABOVE
        s = self._cell_size or _grid_cell_size(bounds, (xmin, ymin, xmax, ymax), large)
        # one cell of margin so points on the max edge of the extent still fall in the grid
        x0 = xmin - s
        y0 = ymin - s
        nx = math.floor((xmax - x0) / s) + 2
        ny = math.floor((ymax - y0) / s) + 2
        if nx * ny > MAX_CELLS:
            raise InputError(
                f"level {self._level_ids[code]!r}: a cell size of {s} m makes {nx * ny} grid "
                f"cells (at most {MAX_CELLS}); give a larger cell_size or leave it automatic"
            )
        pad = s * 1e-6
        parts = [self._edges[n] for n in numbers]
        seg = np.ascontiguousarray(np.concatenate(parts))
        zstart = np.zeros(len(numbers) + 1, np.int64)
        np.cumsum([len(p) for p in parts], out=zstart[1:])
        cells, slots, flags = pip_kernel.classify_cells(seg, zstart, bounds, x0, y0, s, nx, ny, pad)
        # cell-major, then zone number: hits come out in ascending zone number
        order = np.lexsort((slots, cells))
        cells, slots, flags = cells[order], slots[order], flags[order]
        # small levels: every cell its own short edge lists (fastest); large levels share
        # small zones' edge sets so the grid stays in cache
        shared = pip_kernel.SHARED_ZONE_EDGES if large else 0
        ent, edges = pip_kernel.build_entries(
            seg, zstart, cells, slots, numbers[slots], flags, x0, y0, s, nx, pad, shared
        )
        count = np.bincount(cells, minlength=nx * ny).astype(np.int64)
        first = np.zeros(nx * ny, np.int64)
        np.cumsum(count[:-1], out=first[1:])
        # (an explicit cell size is not coarsened, so its fine cells are not either)
        scale = FINE_SCALE_LARGE if large and self._cell_size is None else FINE_SCALE
        return _LevelGrid(x0, y0, s, nx, ny, first, count, ent, edges, scale)

    def _compiled(self) -> pip_kernel.CompiledGrid:
        """The flat arrays of every level, concatenated, rebuilding changed levels first."""
        if self._grid is not None:
            return self._grid
        for code, grid in enumerate(self._levels):
            if grid is None:
                self._levels[code] = self._compile_level(code)
        grids = [g for g in self._levels if g is not None]
        n_cells = np.array([g.nx * g.ny for g in grids], dtype=np.int64)
        n_ent = np.array([len(g.ent) for g in grids], dtype=np.int64)
        n_edges = np.array([len(g.edges) for g in grids], dtype=np.int64)
        biggest_cell = max(int(g.count.max(initial=0)) for g in grids)
        if n_edges.sum() >= 2**31 or n_ent.sum() >= 2**38 or biggest_cell >= 2**24:
            raise InputError("the zone index is too large: use fewer or simpler zones")
        cell_base = np.concatenate([[0], np.cumsum(n_cells)[:-1]]).astype(np.int64)
        ent_base = np.concatenate([[0], np.cumsum(n_ent)[:-1]]).astype(np.int64)
        edge_base = np.concatenate([[0], np.cumsum(n_edges)[:-1]]).astype(np.int64)
        packed = []
        ents = []
        for g, eb, rb in zip(grids, ent_base, edge_base, strict=True):
            packed.append(((g.first + eb) << pip_kernel.COUNT_BITS) | g.count)
            ent = g.ent.copy()
            ent[:, 3] += np.int32(rb)
            ents.append(ent)
        cells = np.concatenate(packed).astype(np.int64)
        ent = np.ascontiguousarray(np.concatenate(ents), dtype=np.int32)
        edges = np.ascontiguousarray(np.concatenate([g.edges for g in grids]), np.float64)
        x0 = np.array([g.x0 for g in grids], np.float64)
        y0 = np.array([g.y0 for g in grids], np.float64)
        inv = np.array([1.0 / g.cell for g in grids], np.float64)
        nx = np.array([g.nx for g in grids], np.int64)
        ny = np.array([g.ny for g in grids], np.int64)
        scale, fbase, fine, wbase, words, ment = pip_kernel.membership_tables(
            cells,
            ent,
            edges,
            (x0, y0, inv, nx, ny, cell_base),
            np.array([g.fine_scale for g in grids], np.int64),
        )
        self._grid = pip_kernel.CompiledGrid(
            x0=x0,
            y0=y0,
            inv=inv,
            nx=nx,
            ny=ny,
            base=cell_base,
            cells=cells,
            ent=ent,
            edges=edges,
            medges=np.ascontiguousarray(edges[:, :4]),
            finv=inv * scale,
            fnx=nx * scale,
            fny=ny * scale,
            fbase=fbase,
            fine=fine,
            wbase=wbase,
            words=words,
            ment=ment,
        )
        return self._grid

    def stats(self) -> dict[str, float]:
        """Size of the compiled grid (cells, entries, edge rows, the membership grid, bytes)."""
        grid = self._compiled()
        return {
            "cells": float(len(grid.cells)),
            "entries": float(len(grid.ent)),
            "full_entries": float((grid.ent[:, 1] == pip_kernel.FULL).sum()),
            "linear_entries": float((grid.ent[:, 1] == pip_kernel.LINEAR).sum()),
            "edge_rows": float(len(grid.edges)),
            "fine_cells": float(len(grid.fine)),
            "fine_scale": float((grid.finv / grid.inv).max()),
            "inline_fine_cells": float(self._inline_fine_cells(grid)),
            "member_words": float(len(grid.words)),
            "member_rows": float(len(grid.ment)),
            "bytes": float(grid.nbytes),
        }

    @staticmethod
    def _inline_fine_cells(grid: pip_kernel.CompiledGrid) -> int:
        """Fine cells whose word is inline: per level, how often each word number occurs
        (a count per word, not a word per fine cell) times whether that word is inline."""
        inline = (grid.words & pip_kernel.INLINE_BIT) != 0
        ends = np.append(grid.wbase, len(grid.words))
        total = 0
        for lv, (f, n) in enumerate(zip(grid.fbase, grid.fnx * grid.fny, strict=True)):
            uses = np.bincount(grid.fine[f : f + n], minlength=ends[lv + 1] - ends[lv])
            total += int(uses @ inline[ends[lv] : ends[lv + 1]])
        return total
