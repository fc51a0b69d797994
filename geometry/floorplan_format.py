"""The project floorplan format (docs/floorplan-format.md): GeoJSON dict <-> Floorplan.

Pure: takes and gives parsed JSON (dicts and lists), never reads files. Every defect of
a feature becomes a `Problem` naming the feature id and the fix, and parsing goes on,
so one load reports everything at once; the caller decides what is fatal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Polygon

from geometry.errors import Problem
from geometry.frame import LocalFrame
from geometry.model import (
    Floorplan,
    GeoPoint,
    Level,
    Opening,
    OpeningKind,
    Reader,
    ReaderCalibration,
    Site,
    Zone,
    ZoneKind,
)

FORMAT_NAME = "sts-floorplan"
FORMAT_VERSION = 1

#: Zone property keys the format itself uses; every other key is a zone property.
_ZONE_KEYS = frozenset({"feature_type", "level", "kind", "name"})
_KINDS = ", ".join(k.value for k in ZoneKind)
_OPENING_KINDS = ", ".join(k.value for k in OpeningKind)


class RingParser:
    """Turns GeoJSON coordinate arrays into shapely geometry, collecting problems."""

    def __init__(self, problems: list[Problem], frame: LocalFrame | None) -> None:
        self.problems = problems
        self.frame = frame

    def _error(self, fid: str, message: str, fix: str) -> None:
        self.problems.append(Problem("error", fid, message, fix))

    def segment(self, fid: str, geometry: Any) -> np.ndarray | None:
        """An opening's LineString as an (n, 2) array of at least 2 distinct points, or None."""
        if not isinstance(geometry, Mapping) or geometry.get("type") != "LineString":
            self._error(
                fid,
                "an opening needs a LineString geometry",
                "draw the opening as a line across the doorway",
            )
            return None
        pts = self.points(fid, "LineString", geometry.get("coordinates"))
        if pts is None:
            return None
        if len(np.unique(pts, axis=0)) < 2:
            self._error(
                fid,
                "opening segment has fewer than 2 distinct points",
                "give the two ends of the doorway",
            )
            return None
        return pts

    def points(self, fid: str, what: str, coords: Any) -> np.ndarray | None:
        """An (n, 2) float array of positions (projected when the frame is WGS84), or None."""
        if not isinstance(coords, list) or not coords:
            self._error(fid, f"{what} is not a non-empty array of positions", "give [x, y] pairs")
            return None
        out = np.empty((len(coords), 2), dtype=np.float64)
        for i, pos in enumerate(coords):
            if (
                not isinstance(pos, list)
                or len(pos) < 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in pos[:2])
            ):
                self._error(
                    fid,
                    f"{what} position {i} is {_short(pos)}, not [x, y] numbers",
                    "give every position as [x, y] (or [lon, lat]) numbers",
                )
                return None
            out[i, 0] = float(pos[0])
            out[i, 1] = float(pos[1])
        if not np.isfinite(out).all():
            bad = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            self._error(
                fid,
                f"{what} position {bad} is not finite (NaN or infinity)",
                "replace the NaN/Infinity coordinate with a real value",
            )
            return None
        if self.frame is not None:
            if (np.abs(out[:, 0]) > 180.0).any() or (np.abs(out[:, 1]) > 90.0).any():
                self._error(
                    fid,
                    f"{what} has lon/lat outside [-180, 180] x [-90, 90]",
                    'the plan says "crs": "wgs84": give [lon, lat] degrees, or use "local"',
                )
                return None
            x, y = self.frame.to_local(out[:, 0], out[:, 1])
            out = np.column_stack([x, y])
        return out

    def ring(self, fid: str, what: str, coords: Any) -> np.ndarray | None:
        """A closed ring's positions; an unclosed ring is closed with a warning."""
        pts = self.points(fid, what, coords)
        if pts is None:
            return None
        if len(pts) >= 2 and not np.array_equal(pts[0], pts[-1]):
            self.problems.append(
                Problem(
                    "warning",
                    fid,
                    f"{what} is not closed (GeoJSON repeats the first position at the end);"
                    " closed it by repeating the first position",
                    "repeat the first position as the last one",
                )
            )
            pts = np.vstack([pts, pts[:1]])
        distinct = len(np.unique(pts, axis=0))
        if distinct < 3:
            self._error(
                fid,
                f"{what} has {distinct} distinct position(s); a ring needs at least 3",
                "draw the area with at least three distinct corners, or delete the feature",
            )
            return None
        return pts

    def polygon(self, fid: str, coords: Any) -> Polygon | None:
        """A Polygon from GeoJSON Polygon coordinates (exterior then holes)."""
        if not isinstance(coords, list) or not coords:
            self._error(fid, "Polygon has no rings", "give [exterior ring, hole rings...]")
            return None
        rings = [self.ring(fid, _ring_name(i), r) for i, r in enumerate(coords)]
        if any(r is None for r in rings):
            return None
        shell, *holes = (r for r in rings if r is not None)
        return Polygon(shell, holes)

    def area(self, fid: str, geometry: Any) -> Polygon | MultiPolygon | None:
        """A Polygon or MultiPolygon from a GeoJSON geometry object."""
        gtype = geometry.get("type") if isinstance(geometry, Mapping) else None
        coords = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
        if gtype == "Polygon":
            return self.polygon(fid, coords)
        if gtype == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                self._error(fid, "MultiPolygon has no polygons", "give at least one polygon")
                return None
            parts = [self.polygon(fid, c) for c in coords]
            if any(p is None for p in parts):
                return None
            return MultiPolygon([p for p in parts if p is not None])
        self._error(
            fid,
            f"a zone needs a Polygon or MultiPolygon geometry, not {_short(gtype)}",
            "draw the zone as a polygon",
        )
        return None


def _ring_name(i: int) -> str:
    """'exterior ring' or 'hole ring k' for messages."""
    return "exterior ring" if i == 0 else f"hole ring {i}"


def _short(v: Any) -> str:
    """A value for a message, cut short."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(
    props: Mapping[str, Any],
    key: str,
    default: float,
    fid: str,
    problems: list[Problem],
) -> float:
    """A finite number property (default when missing), or the default with an error."""
    v = props.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        problems.append(
            Problem(
                "error",
                fid,
                f"property {key!r} is {_short(v)}, not a finite number",
                "give a plain number (or leave the key out for the default)",
            )
        )
        return default
    return float(v)


def _origin(raw: Any, problems: list[Problem]) -> GeoPoint | None:
    """The site origin from `[lon, lat]`, or None (with an error when malformed)."""
    if raw is None:
        return None
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in raw)
        and all(math.isfinite(c) for c in raw)
        and abs(raw[0]) <= 180.0
        and abs(raw[1]) <= 90.0
    ):
        return GeoPoint(float(raw[0]), float(raw[1]))
    problems.append(
        Problem(
            "error",
            "sts.site.origin",
            f"site origin is {_short(raw)}, not [lon, lat] in degrees",
            "give the origin as [lon, lat], e.g. [-1.98402, 52.41017]",
        )
    )
    return None


def _header(doc: Mapping[str, Any], source: str, problems: list[Problem]) -> tuple[Site, str]:
    """The site and crs of the `sts` header (defaults with errors when it is malformed)."""
    sts = doc.get("sts")
    if not isinstance(sts, Mapping):
        problems.append(
            Problem(
                "error",
                "sts",
                "the FeatureCollection has no 'sts' header object",
                'add "sts": {"format": "sts-floorplan", "version": 1, "crs": "local", '
                '"site": {...}, "levels": [...]} (docs/floorplan-format.md)',
            )
        )
        return Site(id=source, name=source), "local"
    if sts.get("format", FORMAT_NAME) != FORMAT_NAME:
        problems.append(
            Problem(
                "error",
                "sts.format",
                f"format is {_short(sts.get('format'))}",
                'set "format": "sts-floorplan"',
            )
        )
    if sts.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(
            Problem(
                "error",
                "sts.version",
                f"version {_short(sts.get('version'))} is not supported (this STS reads 1)",
                "convert the plan to version 1",
            )
        )
    crs = sts.get("crs", "local")
    if crs not in ("local", "wgs84"):
        problems.append(
            Problem("error", "sts.crs", f"crs is {_short(crs)}", 'use "local" or "wgs84"')
        )
        crs = "local"
    return _site(sts.get("site", {}), source, crs, problems), crs


def _site(site_raw: Any, source: str, crs: str, problems: list[Problem]) -> Site:
    """The header's site (the source names it when its id is missing or malformed)."""
    if not isinstance(site_raw, Mapping):
        site_raw = {}
        problems.append(
            Problem(
                "error",
                "sts.site",
                "site is not an object",
                'give "site": {"id": ..., "name": ...}',
            )
        )
    sid = site_raw.get("id", source)
    if not isinstance(sid, str) or not sid:
        problems.append(
            Problem("error", "sts.site.id", "site id is not a string", "give the site a string id")
        )
        sid = source
    name = site_raw.get("name", sid)
    origin = _origin(site_raw.get("origin"), problems)
    if crs == "wgs84" and origin is None:
        problems.append(
            Problem(
                "error",
                "sts.site.origin",
                'a "wgs84" plan needs the site origin',
                'add "origin": [lon, lat] to "site" (a point near the middle of the campus)',
            )
        )
    return Site(id=sid, name=str(name), origin=origin)


def _levels(doc: Mapping[str, Any], problems: list[Problem]) -> tuple[Level, ...]:
    """The levels of the header."""
    sts = doc.get("sts")
    raw = sts.get("levels") if isinstance(sts, Mapping) else None
    if not isinstance(raw, list) or not raw:
        problems.append(
            Problem(
                "error",
                "sts.levels",
                "the plan declares no levels",
                'add "levels": [{"id": "L0", "ordinal": 0, "name": "Ground floor"}]',
            )
        )
        return ()
    out: list[Level] = []
    for i, lv in enumerate(raw):
        lid = lv.get("id") if isinstance(lv, Mapping) else None
        if not isinstance(lid, str) or not lid:
            problems.append(
                Problem("error", f"sts.levels[{i}]", "level has no string id", "give it an id")
            )
            continue
        ordinal = lv.get("ordinal", 0)
        if isinstance(ordinal, bool) or not isinstance(ordinal, int):
            problems.append(
                Problem(
                    "error",
                    lid,
                    f"level ordinal {_short(ordinal)} is not an integer",
                    "give an integer ordinal (0 ground, 1 first, -1 basement)",
                )
            )
            ordinal = 0
        out.append(Level(id=lid, ordinal=ordinal, name=str(lv.get("name", lid))))
    return tuple(out)


def _zone(fid: str, props: Mapping[str, Any], geometry: Any, rings: RingParser) -> Zone | None:
    """A zone feature."""
    problems = rings.problems
    kind_raw = props.get("kind")
    try:
        kind = ZoneKind(str(kind_raw))
    except ValueError:
        problems.append(
            Problem(
                "error",
                fid,
                f"zone kind {_short(kind_raw)} is unknown",
                f"use one of: {_KINDS}",
            )
        )
        return None
    poly = rings.area(fid, geometry)
    if poly is None:
        return None
    extra = {k: v for k, v in props.items() if k not in _ZONE_KEYS}
    return Zone(
        id=fid,
        name=str(props.get("name") or fid),
        level=str(props.get("level", "")),
        kind=kind,
        polygon=poly,
        properties=MappingProxyType(extra),
    )


def _reader(fid: str, props: Mapping[str, Any], geometry: Any, rings: RingParser) -> Reader | None:
    """A reader feature."""
    problems = rings.problems
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        problems.append(
            Problem("error", fid, "a reader needs a Point geometry", "give it a Point [x, y]")
        )
        return None
    pts = rings.points(fid, "Point", [geometry.get("coordinates")])
    if pts is None:
        return None
    defaults = ReaderCalibration()
    return Reader(
        id=fid,
        level=str(props.get("level", "")),
        x=float(pts[0, 0]),
        y=float(pts[0, 1]),
        z=_number(props, "z", 2.5, fid, problems),
        calibration=ReaderCalibration(
            rssi_1m=_number(props, "rssi_1m", defaults.rssi_1m, fid, problems),
            exponent=_number(props, "exponent", defaults.exponent, fid, problems),
            sigma_db=_number(props, "sigma_db", defaults.sigma_db, fid, problems),
        ),
    )


def _opening(
    fid: str, props: Mapping[str, Any], geometry: Any, rings: RingParser
) -> Opening | None:
    """An opening (door, exit, emergency exit) feature."""
    problems = rings.problems
    try:
        kind = OpeningKind(props.get("kind", "door"))
    except ValueError:
        problems.append(
            Problem(
                "error",
                fid,
                f"opening kind {_short(props.get('kind'))} is unknown",
                f"use one of: {_OPENING_KINDS}",
            )
        )
        return None
    pts = rings.segment(fid, geometry)
    if pts is None:
        return None
    zones = props.get("zones", [])
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        problems.append(
            Problem(
                "error",
                fid,
                "'zones' is not a list of zone ids",
                'give "zones": ["zone-a", "zone-b"]',
            )
        )
        zones = []
    return Opening(
        id=fid,
        level=str(props.get("level", "")),
        kind=kind,
        segment=LineString(pts),
        zones=tuple(zones),
        name=str(props.get("name", "")),
    )


def parse_floorplan(doc: Mapping[str, Any], source: str) -> tuple[Floorplan, list[Problem]]:
    """The floorplan of a parsed `floorplan.geojson` and every problem found while parsing."""
    problems: list[Problem] = []
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        problems.append(
            Problem(
                "error",
                source,
                "the document is not a GeoJSON FeatureCollection",
                'the top level must be {"type": "FeatureCollection", "sts": {...}, '
                '"features": [...]}',
            )
        )
        return Floorplan(Site(source, source), (), ()), problems
    site, crs = _header(doc, source, problems)
    levels = _levels(doc, problems)
    frame = LocalFrame(site.origin) if crs == "wgs84" and site.origin is not None else None
    if crs == "wgs84" and frame is None:
        # No origin to project around: every feature would fail; the header error says why.
        return Floorplan(site, levels, ()), problems
    parsed = _features(doc, RingParser(problems, frame))
    fp = Floorplan(site, levels, tuple(parsed.zones), tuple(parsed.readers), tuple(parsed.openings))
    return fp, problems


@dataclass(slots=True)
class _ParsedFeatures:
    """The features that parsed so far, by type, in document order."""

    zones: list[Zone] = field(default_factory=list)
    readers: list[Reader] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)

    def add(self, fid: str, props: Mapping[str, Any], geometry: Any, rings: RingParser) -> None:
        """Parse one feature by its `feature_type` and keep it if it parses."""
        ftype = props.get("feature_type")
        if ftype == "zone":
            z = _zone(fid, props, geometry, rings)
            if z is not None:
                self.zones.append(z)
        elif ftype == "reader":
            r = _reader(fid, props, geometry, rings)
            if r is not None:
                self.readers.append(r)
        elif ftype == "opening":
            o = _opening(fid, props, geometry, rings)
            if o is not None:
                self.openings.append(o)
        else:
            rings.problems.append(
                Problem(
                    "error",
                    fid,
                    f"feature_type {_short(ftype)} is unknown",
                    'use "zone", "reader" or "opening"',
                )
            )


def _features(doc: Mapping[str, Any], rings: RingParser) -> _ParsedFeatures:
    """Every feature of the collection that parses; a defect is a problem and parsing goes on."""
    problems = rings.problems
    features = doc.get("features", [])
    if not isinstance(features, list):
        problems.append(
            Problem("error", "features", "'features' is not an array", "give a list of features")
        )
        features = []
    parsed = _ParsedFeatures()
    for i, feat in enumerate(features):
        identity = _feature_identity(i, feat, problems)
        if identity is not None:
            fid, props = identity
            parsed.add(fid, props, feat.get("geometry"), rings)
    return parsed


def _feature_identity(
    index: int, feat: Any, problems: list[Problem]
) -> tuple[str, Mapping[str, Any]] | None:
    """A feature's id (an integer id as text) and properties, or None (a problem)."""
    fid = feat.get("id") if isinstance(feat, Mapping) else None
    # GeoJSON allows numeric ids; zones are named by strings everywhere else.
    if isinstance(fid, int) and not isinstance(fid, bool):
        fid = str(fid)
    if not isinstance(fid, str) or not fid:
        problems.append(
            Problem(
                "error",
                f"features[{index}]",
                "feature has no string 'id'",
                'give every feature a unique "id"',
            )
        )
        return None
    props = feat.get("properties")
    if not isinstance(props, Mapping):
        problems.append(
            Problem(
                "error",
                fid,
                "feature has no 'properties' object",
                'add "properties" with "feature_type"',
            )
        )
        return None
    return fid, props


def _ring_coords(coords: Sequence[tuple[float, ...]]) -> list[list[float]]:
    """A ring as JSON positions (rounded to 0.1 mm so output is stable)."""
    return [[_r(c[0]), _r(c[1])] for c in coords]


def _r(v: float) -> float:
    """A coordinate rounded to 0.1 mm, without -0.0."""
    return round(float(v), 4) + 0.0


def _polygon_coords(p: Polygon) -> list[list[list[float]]]:
    """GeoJSON Polygon coordinates."""
    return [_ring_coords(p.exterior.coords)] + [_ring_coords(h.coords) for h in p.interiors]


def _geometry(poly: Polygon | MultiPolygon) -> dict[str, Any]:
    """A zone's GeoJSON geometry."""
    if isinstance(poly, MultiPolygon):
        return {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in poly.geoms]}
    return {"type": "Polygon", "coordinates": _polygon_coords(poly)}


def dump_floorplan(fp: Floorplan) -> dict[str, Any]:
    """The project GeoJSON document of a plan (crs local); parse_floorplan reads it back."""
    site: dict[str, Any] = {"id": fp.site.id, "name": fp.site.name}
    if fp.site.origin is not None:
        site["origin"] = [fp.site.origin.lon, fp.site.origin.lat]
    features: list[dict[str, Any]] = []
    for z in fp.zones:
        props: dict[str, Any] = {
            "feature_type": "zone",
            "level": z.level,
            "kind": z.kind.value,
            "name": z.name,
        }
        props.update({k: v for k, v in z.properties.items() if k not in _ZONE_KEYS})
        features.append(
            {"type": "Feature", "id": z.id, "geometry": _geometry(z.polygon), "properties": props}
        )
    for r in fp.readers:
        features.append(
            {
                "type": "Feature",
                "id": r.id,
                "geometry": {"type": "Point", "coordinates": [_r(r.x), _r(r.y)]},
                "properties": {
                    "feature_type": "reader",
                    "level": r.level,
                    "z": r.z,
                    "rssi_1m": r.calibration.rssi_1m,
                    "exponent": r.calibration.exponent,
                    "sigma_db": r.calibration.sigma_db,
                },
            }
        )
    for o in fp.openings:
        features.append(
            {
                "type": "Feature",
                "id": o.id,
                "geometry": {"type": "LineString", "coordinates": _ring_coords(o.segment.coords)},
                "properties": {
                    "feature_type": "opening",
                    "level": o.level,
                    "kind": o.kind.value,
                    "zones": list(o.zones),
                    "name": o.name,
                },
            }
        )
    levels = [{"id": lv.id, "ordinal": lv.ordinal, "name": lv.name} for lv in fp.levels]
    return floorplan_document(site, levels, features)


def floorplan_document(
    site: dict[str, Any], levels: list[dict[str, Any]], features: list[dict[str, Any]]
) -> dict[str, Any]:
    """The project GeoJSON envelope (crs local) around a plan's site, levels and features."""
    return {
        "type": "FeatureCollection",
        "sts": {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "crs": "local",
            "site": site,
            "levels": levels,
        },
        "features": features,
    }
