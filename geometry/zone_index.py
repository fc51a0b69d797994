"""The zone index: which zones contain each point of a batch, and how far each boundary is.

One `rtree` index per level holds the zones' bounds and changes at runtime (`add`,
`update`, `remove`); it answers the segment questions of cross events
(`segment_candidates`). The first query after a change compiles every level to a
uniform grid of flat arrays (`geometry.zone_grid`) that a numba kernel
(`geometry.pip_kernel`) answers with no Python per point: on the calling thread below
`ZoneIndexSettings.parallel_from_points` points, else on every numba thread.

Rules (docs/zone-lookup.md): a zone is a closed set (a point on an edge or vertex is
inside, distance 0: shapely's `intersects_xy`); the distance is to the nearest edge of
any ring of the zone; a level code outside `0..len(level_ids)-1` (the engine's -1) or
a NaN coordinate has no hits, not an error; zones are numbered densely from 0, a
number is stable while its zone exists and the lowest free one is reused by `add`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import shapely
from rtree import index as rtree_index
from shapely.geometry import MultiPolygon, Polygon

from geometry import pip_kernel, zone_grid
from geometry.errors import ConfigError, InputError
from geometry.model import Floorplan, Zone


class UnknownIdError(InputError, KeyError):
    """A level id, zone id or zone number the index does not know (also a KeyError)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class ZoneIndexSettings:
    """How the index builds its grid and when a query uses every thread."""

    #: Grid cell side in metres; None: automatic (`zone_grid.auto_cell_size`).
    cell_size_m: float | None = None
    #: Batches of at least this many points run on every numba thread; smaller ones on
    #: the calling thread, since waking the other threads costs more than they save
    #: there (measured in benchmarks/RESULTS.md, "Zone lookup").
    parallel_from_points: int = 20_000

    def __post_init__(self) -> None:
        size, least = self.cell_size_m, self.parallel_from_points
        if (size is not None and not (size > 0 and math.isfinite(size))) or least < 1:
            raise ConfigError(
                f"zone index: cell_size_m = {size}, parallel_from_points = {least}; use a "
                "positive number of metres (or None: automatic) and a count of at least 1"
            )


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


def _columns(
    names: str, code: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(codes, x, y) as contiguous int32, float64, float64 columns of one length."""
    arrays = (
        np.ascontiguousarray(code, np.int32),
        np.ascontiguousarray(x, np.float64),
        np.ascontiguousarray(y, np.float64),
    )
    if not (all(a.ndim == 1 for a in arrays) and len({len(a) for a in arrays}) == 1):
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise InputError(f"{names} must be 1-d arrays of one length, got shapes {shapes}")
    return arrays


class ZoneIndex:
    """Dynamic per-level zone index answering batch point-in-zone queries (see module doc).

    >>> from shapely.geometry import box
    >>> from geometry.model import Zone, ZoneKind
    >>> index = ZoneIndex(["gf"], [Zone("hall", "Hall", "gf", ZoneKind.ROOM, box(0, 0, 10, 8))])
    >>> hits = index.query([0, 0], [2.0, 12.0], [3.0, 3.0])
    >>> hits.counts().tolist(), hits.distance.tolist()
    ([1, 0], [2.0])
    """

    def __init__(
        self,
        level_ids: Sequence[str],
        zones: Iterable[Zone] = (),
        *,
        settings: ZoneIndexSettings | None = None,
    ) -> None:
        self._level_ids = tuple(level_ids)
        self._level_code: dict[str, int] = {}
        for code, lid in enumerate(self._level_ids):
            if lid in self._level_code:
                raise InputError(f"level id {lid!r} is given twice; level ids must be unique")
            self._level_code[lid] = code
        self.settings = settings or ZoneIndexSettings()
        self._zones: list[Zone | None] = []
        self._edges: list[npt.NDArray[np.float64] | None] = []
        self._bounds: list[tuple[float, float, float, float] | None] = []
        self._zone_level: list[int] = []
        self._number: dict[str, int] = {}
        self._free: list[int] = []
        self._trees = [rtree_index.Index(interleaved=True) for _ in self._level_ids]
        self._grid: pip_kernel.Grid | None = None
        for zone in zones:
            self.add(zone)

    @classmethod
    def from_floorplan(
        cls, floorplan: Floorplan, settings: ZoneIndexSettings | None = None
    ) -> ZoneIndex:
        """An index of every zone of a floorplan; levels coded in file order, zones numbered so."""
        return cls([lv.id for lv in floorplan.levels], floorplan.zones, settings=settings)

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
        xs, ys = edges[:, 0::2], edges[:, 1::2]
        bounds = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        self._zones[number] = zone
        self._edges[number] = edges
        self._bounds[number] = bounds
        self._zone_level[number] = code
        self._number[zone.id] = number
        self._trees[code].insert(number, bounds)
        self._changed()

    def _unplace(self, number: int) -> None:
        """Take a zone out of its level's R-tree (its slot stays)."""
        code = self._zone_level[number]
        self._trees[code].delete(number, self._bounds[number])
        self._changed()

    def _changed(self) -> None:
        """Forget what was compiled: the next query rebuilds it."""
        self._grid = None

    # ---- queries -----------------------------------------------------------------------

    def smallest(
        self,
        level: npt.ArrayLike,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        eligible: Callable[[Zone], bool],
    ) -> npt.NDArray[np.int64]:
        """The number of the smallest zone (by area, then id) among those `eligible` that
        contain each point, by `query`'s rule (edges inside); -1 where none does."""
        hits = self.query(level, x, y, distances=False)
        ranked = sorted(
            (zone.polygon.area, zone.id, number)
            for number, zone in enumerate(self._zones)
            if zone is not None and eligible(zone)
        )
        never = len(ranked)  # the rank of a zone that is not eligible
        rank = np.full(len(self._zones), never, np.int64)
        rank[[number for _, _, number in ranked]] = np.arange(never)
        number_of_rank = np.array([number for _, _, number in ranked] + [-1], np.int64)
        best = np.full(len(hits.offsets) - 1, never, np.int64)
        held = np.flatnonzero(np.diff(hits.offsets) > 0)
        if len(held):
            # Empty runs hold nothing between two starts: each reduces over its own hits.
            best[held] = np.minimum.reduceat(rank[hits.zone], hits.offsets[held])
        return np.asarray(number_of_rank[best])

    def segment_candidates(
        self, level: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(segment, zone number) pairs whose bounds meet: segment i goes from start[i] to
        end[i] (rows x, y) on level code level[i]; from the levels' R-trees."""
        codes = np.asarray(level, np.int64)
        a = np.asarray(start, np.float64).reshape(-1, 2)
        b = np.asarray(end, np.float64).reshape(-1, 2)
        rows, zones = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for code, tree in enumerate(self._trees):
            on = np.flatnonzero(codes == code)
            found, counts = tree.intersection_v(np.minimum(a[on], b[on]), np.maximum(a[on], b[on]))
            rows.append(np.repeat(on, counts.astype(np.int64)))
            zones.append(found.astype(np.int64))
        return np.concatenate(rows), np.concatenate(zones)

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
        `settings.parallel_from_points` points. `distances=False`: the same zones, no
        distance measured; `distance` is then an empty array.
        """
        lv, xs, ys = _columns("level, x and y", level, x, y)
        if parallel is None:
            parallel = len(xs) >= self.settings.parallel_from_points
        threads = numba.get_num_threads() if parallel else 1
        offsets, zone, dist = pip_kernel.query_grid(
            lv, xs, ys, self._compiled(), threads, distances
        )
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
        zs, xs, ys = _columns("zone, x and y", zone, x, y)
        grid = self._compiled()
        if len(zs):
            alive = grid.zone_start[1:] > grid.zone_start[:-1]
            bad = (zs < 0) | (zs >= len(alive))
            bad[~bad] = ~alive[zs[~bad]]
            if bad.any():
                raise UnknownIdError(f"no zone has number {int(zs[np.argmax(bad)])}")
        return pip_kernel.signed_distance_kernel(zs, xs, ys, grid.edges, grid.zone_start)

    # ---- compilation -------------------------------------------------------------------

    def _compiled(self) -> pip_kernel.Grid:
        """Every zone's edge rows by zone number and the grid of every level, rebuilt
        after a change (a removed zone has no edges)."""
        if self._grid is None:
            zone_start = np.zeros(len(self._edges) + 1, np.int64)
            np.cumsum([0 if e is None else len(e) for e in self._edges], out=zone_start[1:])
            seg = np.concatenate([e for e in self._edges if e is not None] or [np.zeros((0, 4))])
            bounds = np.array([b or (math.nan,) * 4 for b in self._bounds], np.float64)
            self._grid = zone_grid.compile_grid(
                self._level_ids,
                zone_grid.edge_rows(seg),
                zone_start,
                np.array(self._zone_level, np.int64),
                bounds.reshape(-1, 4),
                self.settings.cell_size_m,
            )
        return self._grid
