"""Floorplan validation: every problem at once, each with the feature id and the fix.

Errors stop a load; warnings are small digitising defects with a documented fallback
(docs/floorplan-format.md, "Validation"). `check` also returns the plan with those
fallbacks applied (tiny ring repairs); `validate` only lists the problems. Pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geometry.errors import Problem
from geometry.model import ROOM_LIKE_KINDS, Floorplan, Zone


@dataclass(frozen=True, slots=True)
class Tolerances:
    """Thresholds of the checks; the defaults and where they come from are in the docs."""

    #: A partial overlap of two rooms thinner than this (mean width = 2 * area / perimeter,
    #: metres) is a digitising sliver along a shared wall: a warning, kept as drawn.
    sliver_width_m: float = 0.30
    #: ... and only when it is also at most this fraction of the smaller room's area.
    sliver_fraction: float = 0.10
    #: Overlaps (and parts poking out of a containing room) thinner than this are
    #: coordinate noise (rounding of lon/lat), not reported at all.
    noise_width_m: float = 0.01
    #: An invalid ring (self-touching, spike) is repaired with shapely.make_valid when the
    #: area changes by at most this many m2 and this fraction of the zone; else an error.
    repair_area_m2: float = 1.0
    repair_fraction: float = 0.01
    #: A reader further than this from every zone of its level is outside the site.
    reader_outside_m: float = 2.0
    #: No coordinate further than this from the origin, no site wider than this (metres).
    max_extent_m: float = 5000.0
    #: A site (all zones) narrower than this is in the wrong units (degrees as metres).
    min_site_extent_m: float = 1.0
    #: Zones smaller than this cannot hold a person: a warning (kept).
    min_zone_area_m2: float = 0.1
    #: Vertices per ring and per feature above these are not a hand-drawn building.
    max_ring_points: int = 20_000
    max_feature_points: int = 100_000
    #: An opening further than this from a zone it names is misplaced: a warning.
    opening_zone_m: float = 1.0


DEFAULT_TOLERANCES = Tolerances()


def validate(fp: Floorplan, tolerances: Tolerances = DEFAULT_TOLERANCES) -> list[Problem]:
    """Every error and warning about a floorplan, in a stable order."""
    return check(fp, tolerances)[1]


def check(
    fp: Floorplan, tolerances: Tolerances = DEFAULT_TOLERANCES
) -> tuple[Floorplan, list[Problem]]:
    """The plan with the warning fallbacks applied, and every problem found."""
    problems: list[Problem] = []
    if not fp.zones:
        problems.append(
            Problem(
                "error",
                "zones",
                "the plan has no zones, so no position could ever be placed in one",
                "draw the site's zones (at least a safe area) as Polygon features",
            )
        )
    _duplicate_ids(fp, problems)
    level_ids = {lv.id for lv in fp.levels}
    zones: list[Zone] = []
    usable: list[Zone] = []  # zones whose geometry is sound enough for the spatial checks
    for z in fp.zones:
        if z.level not in level_ids:
            problems.append(_unknown_level(z.id, "zone", z.level, level_ids))
        repaired = _check_zone(z, tolerances, problems)
        zones.append(repaired if repaired is not None else z)
        if repaired is not None and z.level in level_ids:
            usable.append(repaired)
    _extents(fp, usable, tolerances, problems)
    _room_overlaps(usable, tolerances, problems)
    _readers(fp, usable, level_ids, tolerances, problems)
    _openings(fp, usable, level_ids, tolerances, problems)
    return replace(fp, zones=tuple(zones)), problems


def _unknown_level(fid: str, what: str, level: str, level_ids: set[str]) -> Problem:
    """The error of a feature naming a level the plan does not declare."""
    known = ", ".join(sorted(level_ids)) or "none declared"
    return Problem(
        "error",
        fid,
        f"{what} is on level {level!r}, which the plan does not declare",
        f"use one of the declared levels ({known}) or declare {level!r}",
    )


def _duplicate_ids(fp: Floorplan, problems: list[Problem]) -> None:
    """Ids must be unique across levels, zones, readers and openings."""
    owners: dict[str, list[str]] = {}
    for what, ids in (
        ("level", [lv.id for lv in fp.levels]),
        ("zone", [z.id for z in fp.zones]),
        ("reader", [r.id for r in fp.readers]),
        ("opening", [o.id for o in fp.openings]),
    ):
        for i in ids:
            owners.setdefault(i, []).append(what)
    for fid, whats in owners.items():
        if len(whats) > 1:
            counted = ", ".join(f"{n} {w}(s)" for w, n in Counter(whats).items())
            problems.append(
                Problem(
                    "error",
                    fid,
                    f"id is used by {len(whats)} features ({counted})",
                    "give every level, zone, reader and opening its own id",
                )
            )


def _polygonal(g: BaseGeometry) -> Polygon | MultiPolygon:
    """The polygonal part of a make_valid result (drops the lines and points it may add)."""
    if isinstance(g, Polygon | MultiPolygon):
        return g
    parts: list[Polygon] = []
    for part in getattr(g, "geoms", ()):
        if isinstance(part, Polygon):
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(part.geoms)
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def _ring_area(p: Polygon) -> float:
    """The area the rings enclose as drawn (shoelace; meaningful for invalid rings too)."""
    shell = abs(_shoelace(np.asarray(p.exterior.coords)))
    return shell - sum(abs(_shoelace(np.asarray(h.coords))) for h in p.interiors)


def _shoelace(c: np.ndarray) -> float:
    """The signed area of a closed ring."""
    x, y = c[:, 0], c[:, 1]
    return float(0.5 * (np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])))


def _drawn_area(g: Polygon | MultiPolygon) -> float:
    """The drawn area of a zone geometry."""
    if isinstance(g, MultiPolygon):
        return sum(_ring_area(p) for p in g.geoms)
    return _ring_area(g)


def _check_zone(z: Zone, tol: Tolerances, problems: list[Problem]) -> Zone | None:
    """Problems of one zone's geometry; the zone (repaired if needed) or None if unusable."""
    outline = _outline_problem(z, tol)
    if outline is not None:
        problems.append(outline)
        return None
    if z.polygon.is_valid:
        return _valid_zone(z, tol, problems)
    return _repaired_zone(z, tol, problems)


def _outline_problem(z: Zone, tol: Tolerances) -> Problem | None:
    """The first reason a zone's outline cannot be used or repaired at all, or None."""
    g = z.polygon
    if g.is_empty:
        return Problem("error", z.id, "zone geometry is empty", "draw the zone")
    coords = shapely.get_coordinates(g)
    if not np.isfinite(coords).all():
        return Problem(
            "error",
            z.id,
            "zone has NaN or infinite coordinates",
            "replace the non-finite coordinates with real values",
        )
    polys = list(g.geoms) if isinstance(g, MultiPolygon) else [g]
    longest = max(len(r.coords) for p in polys for r in (p.exterior, *p.interiors))
    # No building needs this many corners: the outline is a traced image or a map export.
    if longest > tol.max_ring_points or len(coords) > tol.max_feature_points:
        return Problem(
            "error",
            z.id,
            f"zone has {len(coords)} vertices ({longest} in one ring); more than "
            f"{tol.max_ring_points} per ring or {tol.max_feature_points} per zone is not "
            "a building outline",
            "simplify the outline (e.g. shapely simplify with 5 cm tolerance)",
        )
    return _degenerate_ring(z.id, polys)


def _degenerate_ring(fid: str, polys: list[Polygon]) -> Problem | None:
    """The error of the first ring with fewer than 3 distinct points, or None."""
    for i, p in enumerate(polys):
        for j, ring in enumerate((p.exterior, *p.interiors)):
            if len(np.unique(np.asarray(ring.coords), axis=0)) < 3:
                where = ("exterior ring" if j == 0 else f"hole {j}") + (
                    f" of part {i}" if len(polys) > 1 else ""
                )
                return Problem(
                    "error",
                    fid,
                    f"{where} has fewer than 3 distinct points",
                    "draw at least three distinct corners, or delete the ring",
                )
    return None


def _valid_zone(z: Zone, tol: Tolerances, problems: list[Problem]) -> Zone | None:
    """A valid zone, or None when it has no area; a tiny zone is kept with a warning."""
    area = z.polygon.area
    if area <= 0.0:
        problems.append(_zero_area(z.id))
        return None
    if area < tol.min_zone_area_m2:
        problems.append(_tiny(z.id, area, tol))
    return z


def _repaired_zone(z: Zone, tol: Tolerances, problems: list[Problem]) -> Zone | None:
    """An invalid zone repaired by make_valid if that barely changes its area, else None."""
    g = z.polygon
    reason = shapely.is_valid_reason(g)
    fixed = _polygonal(shapely.make_valid(g))
    change = abs(fixed.area - _drawn_area(g))
    if fixed.is_empty or fixed.area <= 0.0:
        problems.append(_zero_area(z.id))
        return None
    allowed = min(tol.repair_area_m2, tol.repair_fraction * fixed.area)
    if change <= allowed:
        problems.append(
            Problem(
                "warning",
                z.id,
                f"invalid ring ({reason}); repaired with make_valid, area changed by "
                f"{change:.3f} m2",
                "redraw the ring without self-touching points or spikes",
            )
        )
        if fixed.area < tol.min_zone_area_m2:
            problems.append(_tiny(z.id, fixed.area, tol))
        return replace(z, polygon=fixed)
    problems.append(
        Problem(
            "error",
            z.id,
            f"invalid geometry ({reason}); a repair would change the area by {change:.2f} m2 "
            f"(more than {allowed:.2f} m2)",
            "redraw the outline so it does not cross itself and holes lie inside the shell",
        )
    )
    return None


def _zero_area(fid: str) -> Problem:
    """The error of a zone with no area."""
    return Problem(
        "error",
        fid,
        "zone has zero area (its corners are collinear or repeated)",
        "draw the zone with at least three non-collinear corners",
    )


def _tiny(fid: str, area: float, tol: Tolerances) -> Problem:
    """The warning of a zone too small to hold a person."""
    return Problem(
        "warning",
        fid,
        f"zone area {area:.4f} m2 is under {tol.min_zone_area_m2} m2 (too small for a person); "
        "kept",
        "check the units (metres) or delete the zone",
    )


def _extents(fp: Floorplan, zones: list[Zone], tol: Tolerances, problems: list[Problem]) -> None:
    """Coordinates far from the origin, and sites far too large or small, mean wrong units."""
    boxes: list[tuple[str, tuple[float, float, float, float]]] = [
        (z.id, z.polygon.bounds) for z in zones
    ]
    boxes += [
        (r.id, (r.x, r.y, r.x, r.y)) for r in fp.readers if np.isfinite(r.x) and np.isfinite(r.y)
    ]
    far = [fid for fid, b in boxes if max(abs(v) for v in b) > tol.max_extent_m]
    for fid in far:
        problems.append(
            Problem(
                "error",
                fid,
                f"coordinates lie more than {tol.max_extent_m:.0f} m from the site origin",
                "give local metres around the site origin (not projected map coordinates), "
                'or use "crs": "wgs84" for lon/lat',
            )
        )
    if far or not zones:
        return
    b = np.array([bb for _, bb in boxes])
    width = float(max(b[:, 2].max() - b[:, 0].min(), b[:, 3].max() - b[:, 1].min()))
    if width > tol.max_extent_m:
        problems.append(
            Problem(
                "error",
                fp.site.id,
                f"the site is {width:.0f} m across (more than {tol.max_extent_m:.0f} m)",
                "check the units and that every feature belongs to this site",
            )
        )
    elif width < tol.min_site_extent_m:
        problems.append(
            Problem(
                "error",
                fp.site.id,
                f"the site is only {width:.6f} m across; coordinates look like degrees",
                'give local metres, or declare "crs": "wgs84" with the site origin',
            )
        )


def _room_overlaps(zones: list[Zone], tol: Tolerances, problems: list[Problem]) -> None:
    """Rooms on one level may nest but not partly overlap; thin slivers are warnings."""
    rooms = [z for z in zones if z.kind in ROOM_LIKE_KINDS]
    by_level: dict[str, list[Zone]] = {}
    for z in rooms:
        by_level.setdefault(z.level, []).append(z)
    for level in sorted(by_level):
        group = by_level[level]
        geoms = np.array([z.polygon for z in group], dtype=object)
        tree = shapely.STRtree(geoms)
        left, right = tree.query(geoms, predicate="intersects")
        keep = left < right
        for i, j in zip(left[keep].tolist(), right[keep].tolist(), strict=True):
            _overlap_pair(group[i], group[j], tol, problems)


def _width(g: BaseGeometry) -> float:
    """The mean width of an area, 2 * area / perimeter (a thin sliver has a small one)."""
    return 2.0 * g.area / g.length if g.length > 0 else 0.0


def _overlap_pair(a: Zone, b: Zone, tol: Tolerances, problems: list[Problem]) -> None:
    """Classify the overlap of two rooms: touching, nested, sliver (warning) or partial."""
    inter = a.polygon.intersection(b.polygon)
    if inter.area <= 0.0 or _width(inter) <= tol.noise_width_m:
        return  # they share a wall, up to coordinate noise
    small, large = (a, b) if a.polygon.area <= b.polygon.area else (b, a)
    poke = small.polygon.difference(large.polygon)  # the smaller room outside the larger
    if poke.area <= 0.0 or _width(poke) <= tol.noise_width_m:
        return  # nested: one room contains the other
    frac = tol.sliver_fraction * small.polygon.area
    if _width(poke) <= tol.sliver_width_m and poke.area <= frac:
        problems.append(
            Problem(
                "warning",
                small.id,
                f"nested in {large.id} but pokes out by {poke.area:.3f} m2 (a "
                f"{_width(poke):.2f} m sliver) on level {a.level}; kept as drawn",
                f"move the boundary onto the edge of {large.id}",
            )
        )
    elif _width(inter) <= tol.sliver_width_m and inter.area <= frac:
        problems.append(
            Problem(
                "warning",
                a.id,
                f"overlaps {b.id} by a sliver of {inter.area:.3f} m2 ({_width(inter):.2f} m "
                f"wide) on level {a.level}; kept as drawn (a point there is in both rooms)",
                "snap the shared wall so the rooms only touch",
            )
        )
    else:
        problems.append(
            Problem(
                "error",
                a.id,
                f"partly overlaps {b.id} on level {a.level} by {inter.area:.2f} m2 "
                f"({100.0 * inter.area / small.polygon.area:.0f}% of the smaller room, "
                f"{_width(inter):.2f} m wide)",
                "redraw the rooms so they only share walls, or nest one entirely in the other",
            )
        )


def _level_trees(zones: list[Zone]) -> dict[str, shapely.STRtree]:
    """One STRtree of zone geometries per level."""
    by_level: dict[str, list[Polygon | MultiPolygon]] = {}
    for z in zones:
        by_level.setdefault(z.level, []).append(z.polygon)
    return {lv: shapely.STRtree(np.array(g, dtype=object)) for lv, g in by_level.items()}


def _readers(
    fp: Floorplan,
    zones: list[Zone],
    level_ids: set[str],
    tol: Tolerances,
    problems: list[Problem],
) -> None:
    """Readers must be on a declared level, finite, and inside (or near) the site."""
    trees = _level_trees(zones)
    for r in fp.readers:
        if r.level not in level_ids:
            problems.append(_unknown_level(r.id, "reader", r.level, level_ids))
            continue
        values = (r.x, r.y, r.z, r.calibration.rssi_1m, r.calibration.exponent)
        if not all(np.isfinite(v) for v in values) or not np.isfinite(r.calibration.sigma_db):
            problems.append(
                Problem(
                    "error",
                    r.id,
                    "reader has a NaN or infinite position or calibration value",
                    "give finite x, y, z and calibration numbers",
                )
            )
            continue
        tree = trees.get(r.level)
        if tree is None:
            problems.append(
                Problem(
                    "error",
                    r.id,
                    f"reader is on level {r.level}, which has no zones",
                    "draw the level's zones or move the reader to the right level",
                )
            )
            continue
        _, dist = tree.query_nearest(Point(r.x, r.y), return_distance=True)
        d = float(dist[0])
        if d > tol.reader_outside_m:
            problems.append(
                Problem(
                    "error",
                    r.id,
                    f"reader at ({r.x:.2f}, {r.y:.2f}) is {d:.1f} m outside every zone of level "
                    f"{r.level} (more than {tol.reader_outside_m} m)",
                    "check its coordinates and level, or draw the zone it is in",
                )
            )
        if r.calibration.exponent <= 0.0 or r.calibration.sigma_db <= 0.0:
            problems.append(
                Problem(
                    "error",
                    r.id,
                    "reader exponent and sigma_db must be positive",
                    "typical values: exponent 1.6-3.5, sigma_db 2-8",
                )
            )


def _openings(
    fp: Floorplan,
    zones: list[Zone],
    level_ids: set[str],
    tol: Tolerances,
    problems: list[Problem],
) -> None:
    """Openings must be on a declared level, name known zones of that level, lie near them."""
    by_id = {z.id: z for z in fp.zones}
    usable = {z.id: z for z in zones}
    for o in fp.openings:
        if o.level not in level_ids:
            problems.append(_unknown_level(o.id, "opening", o.level, level_ids))
        coords = shapely.get_coordinates(o.segment)
        if not np.isfinite(coords).all():
            problems.append(
                Problem(
                    "error",
                    o.id,
                    "opening has NaN or infinite coordinates",
                    "replace them with real values",
                )
            )
            continue
        for zid in o.zones:
            z = by_id.get(zid)
            if z is None:
                problems.append(
                    Problem(
                        "error",
                        o.id,
                        f"opening names zone {zid!r}, which does not exist",
                        "fix the zone id in 'zones' or remove it",
                    )
                )
                continue
            if z.level != o.level:
                problems.append(
                    Problem(
                        "error",
                        o.id,
                        f"opening is on level {o.level} but zone {zid} is on level {z.level}",
                        "an opening joins zones of its own level: fix its level or zones",
                    )
                )
                continue
            uz = usable.get(zid)
            if uz is None:
                continue
            d = uz.polygon.distance(o.segment)
            if d > tol.opening_zone_m:
                problems.append(
                    Problem(
                        "warning",
                        o.id,
                        f"opening is {d:.1f} m from zone {zid}, which it joins; kept",
                        "move the opening onto the zone's wall",
                    )
                )
