"""Apple IMDF (Indoor Mapping Data Format, OGC 20-094) archives -> Floorplan.

Pure: takes the archive's files already parsed (file name -> JSON), never reads them.
The mapping (docs/floorplan-format.md, "IMDF import"):
  venue    -> one `safe_area` zone per level (the campus boundary), id "<venue id>@<level id>";
              its display_point is the frame origin (the venue polygon's centroid, with
              a warning, when it has none) unless an explicit origin is given
  level    -> a Level with the IMDF id, ordinal, and name from `name` (else `short_name`)
  footprint (category ground) -> a `building` zone on the building's ground level
  unit     -> a zone with the UUID as id, kind from UNIT_KINDS (restriction overrides),
              the IMDF category/restriction kept in the zone properties
  opening  -> an Opening (OPENING_KINDS) joining the units within OPENING_SNAP_M of its
              midpoint
  anchor + occupant -> names for units that have none; anchors must name a known unit
Everything is projected from WGS84 to the local frame around the origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point

from geometry.errors import Problem
from geometry.floorplan_format import RingParser
from geometry.frame import LocalFrame
from geometry.model import (
    Floorplan,
    GeoPoint,
    Level,
    Opening,
    OpeningKind,
    Site,
    Zone,
    ZoneKind,
)

#: IMDF unit categories (OGC 20-094 "Categories", Unit) -> zone kind.
UNIT_KINDS: Mapping[str, ZoneKind] = MappingProxyType(
    {
        "auditorium": ZoneKind.ROOM,
        "classroom": ZoneKind.CLASSROOM,
        "conferenceroom": ZoneKind.ROOM,
        "elevator": ZoneKind.ELEVATOR,
        "escalator": ZoneKind.STAIRS,
        "fieldofplay": ZoneKind.PLAYGROUND,
        "firstaid": ZoneKind.ROOM,
        "fitnessroom": ZoneKind.GYM,
        "foodservice": ZoneKind.CAFETERIA,
        "footbridge": ZoneKind.CORRIDOR,
        "huddleroom": ZoneKind.ROOM,
        "kitchen": ZoneKind.STAFF_ONLY,
        "laboratory": ZoneKind.LAB,
        "library": ZoneKind.LIBRARY,
        "lobby": ZoneKind.CORRIDOR,
        "lounge": ZoneKind.ROOM,
        "mailroom": ZoneKind.STORAGE,
        "mothersroom": ZoneKind.ROOM,
        "movietheater": ZoneKind.ROOM,
        "movingwalkway": ZoneKind.CORRIDOR,
        "nonpublic": ZoneKind.STAFF_ONLY,
        "office": ZoneKind.OFFICE,
        "parking": ZoneKind.PARKING,
        "phoneroom": ZoneKind.ROOM,
        "platform": ZoneKind.OUTDOOR,
        "privatelounge": ZoneKind.STAFF_ONLY,
        "ramp": ZoneKind.CORRIDOR,
        "recreation": ZoneKind.ROOM,
        "restroom": ZoneKind.RESTROOM,
        "restroom.family": ZoneKind.RESTROOM,
        "restroom.female": ZoneKind.RESTROOM,
        "restroom.female.wheelchair": ZoneKind.RESTROOM,
        "restroom.male": ZoneKind.RESTROOM,
        "restroom.male.wheelchair": ZoneKind.RESTROOM,
        "restroom.transgender": ZoneKind.RESTROOM,
        "restroom.transgender.wheelchair": ZoneKind.RESTROOM,
        "restroom.unisex": ZoneKind.RESTROOM,
        "restroom.unisex.wheelchair": ZoneKind.RESTROOM,
        "restroom.wheelchair": ZoneKind.RESTROOM,
        "road": ZoneKind.OUTDOOR,
        "room": ZoneKind.ROOM,
        "serverroom": ZoneKind.RESTRICTED,
        "shower": ZoneKind.RESTROOM,
        "smokingarea": ZoneKind.OUTDOOR,
        "stairs": ZoneKind.STAIRS,
        "steps": ZoneKind.STAIRS,
        "storage": ZoneKind.STORAGE,
        "terrace": ZoneKind.OUTDOOR,
        "theater": ZoneKind.ROOM,
        "unenclosedarea": ZoneKind.ROOM,
        "unenterable": ZoneKind.RESTRICTED,
        "unspecified": ZoneKind.ROOM,
        "vegetation": ZoneKind.OUTDOOR,
        "waitingroom": ZoneKind.ROOM,
        "walkway": ZoneKind.CORRIDOR,
        "walkway.island": ZoneKind.CORRIDOR,
    }
)

#: Unit categories that are building fabric or voids, not spaces a person is in: skipped.
STRUCTURAL_CATEGORIES: frozenset[str] = frozenset(
    {"brick", "column", "concrete", "drywall", "glass", "opentobelow", "structure", "wood"}
)

#: IMDF unit restriction categories -> zone kind; a restriction overrides the category.
RESTRICTION_KINDS: Mapping[str, ZoneKind] = MappingProxyType(
    {"employeesonly": ZoneKind.STAFF_ONLY, "restricted": ZoneKind.RESTRICTED}
)

#: IMDF opening categories -> opening kind (any other category is a plain door).
OPENING_KINDS: Mapping[str, OpeningKind] = MappingProxyType(
    {
        "emergencyexit": OpeningKind.EMERGENCY_EXIT,
        "pedestrian.principal": OpeningKind.EXIT,
        "pedestrian": OpeningKind.DOOR,
        "pedestrian.transit": OpeningKind.DOOR,
        "service": OpeningKind.DOOR,
        "automobile": OpeningKind.DOOR,
        "bicycle": OpeningKind.DOOR,
    }
)

#: Units within this distance (metres) of an opening's midpoint are the zones it joins.
OPENING_SNAP_M = 0.5


def _text(v: Any) -> str | None:
    """A string property, or None for anything else (IMDF properties may be null)."""
    return v if isinstance(v, str) else None


def _labels(v: Any, language: str | None) -> str:
    """The text of an IMDF LABELS object ({"en": "Room 1"}), in `language` when present."""
    if isinstance(v, str):
        return v
    if not isinstance(v, Mapping) or not v:
        return ""
    if language and isinstance(v.get(language), str):
        return str(v[language])
    for key in ("en", *v.keys()):
        if isinstance(v.get(key), str) and v[key]:
            return str(v[key])
    return ""


def _features(
    files: Mapping[str, Any], name: str, source: str, problems: list[Problem]
) -> list[Mapping[str, Any]]:
    """The features of one IMDF file (empty when it is absent)."""
    doc = files.get(name)
    if doc is None:
        return []
    if not isinstance(doc, Mapping) or not isinstance(doc.get("features"), list):
        problems.append(
            Problem(
                "error",
                f"{source}:{name}",
                "is not a GeoJSON FeatureCollection",
                "export the file as a FeatureCollection",
            )
        )
        return []
    out: list[Mapping[str, Any]] = []
    for i, f in enumerate(doc["features"]):
        if not isinstance(f, Mapping) or not isinstance(f.get("id"), str) or not f.get("id"):
            problems.append(
                Problem(
                    "error",
                    f"{source}:{name}:features[{i}]",
                    "feature has no string id (IMDF ids are UUIDs)",
                    "give the feature its UUID id",
                )
            )
            continue
        if not isinstance(f.get("properties"), Mapping):
            problems.append(
                Problem(
                    "error",
                    str(f["id"]),
                    "feature has no properties",
                    "export the feature with its IMDF properties",
                )
            )
            continue
        out.append(f)
    return out


def _point(geometry: Any) -> tuple[float, float] | None:
    """lon, lat of a GeoJSON Point geometry (finite), or None."""
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
        return None
    c = geometry.get("coordinates")
    if (
        isinstance(c, list)
        and len(c) >= 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in c[:2])
        and all(np.isfinite(c[:2]))
    ):
        return float(c[0]), float(c[1])
    return None


def _origin(
    venues: list[Mapping[str, Any]],
    levels: list[Mapping[str, Any]],
    source: str,
    problems: list[Problem],
) -> GeoPoint | None:
    """The frame origin: the venue's display_point, else its centroid (warning)."""
    if venues:
        venue = venues[0]
        dp = _point(venue["properties"].get("display_point"))
        if dp is not None:
            return GeoPoint(*dp)
        lonlat = RingParser([], None).area(str(venue["id"]), venue.get("geometry"))
        if lonlat is not None and lonlat.area > 0:
            c = lonlat.centroid
            problems.append(
                Problem(
                    "warning",
                    str(venue["id"]),
                    "venue has no display_point; the frame origin is the venue polygon's "
                    f"centroid ({c.x:.6f}, {c.y:.6f})",
                    "add a display_point to the venue (or give the site origin explicitly)",
                )
            )
            return GeoPoint(float(c.x), float(c.y))
    # No usable venue: the centroid of the levels keeps the rest of the checks going.
    for lv in levels:
        lonlat = RingParser([], None).area(str(lv["id"]), lv.get("geometry"))
        if lonlat is not None and lonlat.area > 0:
            c = lonlat.centroid
            return GeoPoint(float(c.x), float(c.y))
    return None


def parse_imdf(
    files: Mapping[str, Any], source: str, origin: GeoPoint | None = None
) -> tuple[Floorplan, list[Problem]]:
    """The floorplan of an IMDF archive (file name -> parsed JSON) and every problem found."""
    problems: list[Problem] = []
    manifest = files.get("manifest.json")
    language = manifest.get("language") if isinstance(manifest, Mapping) else None
    language = language if isinstance(language, str) else None
    venues = _features(files, "venue.geojson", source, problems)
    level_feats = _features(files, "level.geojson", source, problems)
    if len(venues) != 1:
        problems.append(
            Problem(
                "error",
                f"{source}:venue.geojson",
                f"an IMDF archive has exactly one venue; found {len(venues)}",
                "export one venue per archive (venue.geojson)",
            )
        )
    levels, level_building = _levels(level_feats, language, problems)
    if origin is None:
        origin = _origin(venues, level_feats, source, problems)
    if origin is None:
        problems.append(
            Problem(
                "error",
                source,
                "no frame origin: the venue has no display_point or polygon",
                "add the venue with a display_point, or give the origin explicitly",
            )
        )
        return Floorplan(Site(source, source), tuple(levels), ()), problems
    frame = LocalFrame(origin)
    rings = RingParser(problems, frame)
    venue = venues[0] if venues else None
    site = Site(
        id=str(venue["id"]) if venue else source,
        name=(_labels(venue["properties"].get("name"), language) if venue else "") or source,
        origin=origin,
    )
    zones: list[Zone] = []
    if venue is not None:
        zones += _venue_zones(venue, levels, rings, language)
    zones += _footprints(files, source, levels, level_building, rings, problems)
    names = _occupant_names(files, source, language, problems)
    units = _units(files, source, rings, language, names, problems)
    zones += units
    openings = _openings(files, source, units, rings, language, problems)
    fp = Floorplan(site, tuple(levels), tuple(zones), (), tuple(openings))
    return fp, problems


def _levels(
    feats: list[Mapping[str, Any]], language: str | None, problems: list[Problem]
) -> tuple[list[Level], dict[str, tuple[str, ...]]]:
    """Levels (IMDF id, ordinal, name) and each level's building ids."""
    levels: list[Level] = []
    buildings: dict[str, tuple[str, ...]] = {}
    if not feats:
        problems.append(
            Problem(
                "error",
                "level.geojson",
                "the archive has no levels",
                "export level.geojson with at least one level",
            )
        )
    for f in feats:
        fid = str(f["id"])
        props = f["properties"]
        ordinal = props.get("ordinal")
        if isinstance(ordinal, bool) or not isinstance(ordinal, int):
            problems.append(
                Problem(
                    "error",
                    fid,
                    f"level ordinal {ordinal!r} is not an integer",
                    "give the level its ordinal (0 ground, 1 first, -1 basement)",
                )
            )
            ordinal = 0
        name = (
            _labels(props.get("name"), language)
            or _labels(props.get("short_name"), language)
            or fid
        )
        levels.append(Level(id=fid, ordinal=ordinal, name=name))
        b = props.get("building_ids")
        buildings[fid] = tuple(x for x in b if isinstance(x, str)) if isinstance(b, list) else ()
    return levels, buildings


def _venue_zones(
    venue: Mapping[str, Any], levels: list[Level], rings: RingParser, language: str | None
) -> list[Zone]:
    """The venue polygon as a safe_area zone on every level."""
    vid = str(venue["id"])
    poly = rings.area(vid, venue.get("geometry"))
    if poly is None:
        return []
    name = _labels(venue["properties"].get("name"), language) or "Venue"
    props = MappingProxyType({"imdf_feature_type": "venue", "imdf_id": vid})
    return [Zone(f"{vid}@{lv.id}", name, lv.id, ZoneKind.SAFE_AREA, poly, props) for lv in levels]


def _footprints(
    files: Mapping[str, Any],
    source: str,
    levels: list[Level],
    level_building: Mapping[str, tuple[str, ...]],
    rings: RingParser,
    problems: list[Problem],
) -> list[Zone]:
    """Ground footprints as building zones on their building's ground (lowest >= 0) level."""
    out: list[Zone] = []
    for f in _features(files, "footprint.geojson", source, problems):
        props = f["properties"]
        if props.get("category", "ground") != "ground":
            continue  # aerial/subterranean outlines are not the walkable ground floor
        fid = str(f["id"])
        raw = props.get("building_ids")
        bids = [b for b in raw if isinstance(b, str)] if isinstance(raw, list) else []
        mine = [lv for lv in levels if set(level_building.get(lv.id, ())) & set(bids)] or levels
        if not mine:
            continue
        ground = min(mine, key=lambda lv: (lv.ordinal < 0, abs(lv.ordinal), lv.id))
        poly = rings.area(fid, f.get("geometry"))
        if poly is None:
            continue
        name = _labels(props.get("name"), None) or "Building"
        extra = MappingProxyType({"imdf_feature_type": "footprint", "building_ids": list(bids)})
        out.append(Zone(fid, name, ground.id, ZoneKind.BUILDING, poly, extra))
    return out


def _occupant_names(
    files: Mapping[str, Any], source: str, language: str | None, problems: list[Problem]
) -> dict[str, str]:
    """unit id -> occupant name, through the occupant's anchor."""
    anchors = {
        str(a["id"]): _text(a["properties"].get("unit_id"))
        for a in _features(files, "anchor.geojson", source, problems)
    }
    names: dict[str, str] = {}
    for occ in _features(files, "occupant.geojson", source, problems):
        unit = anchors.get(str(_text(occ["properties"].get("anchor_id"))))
        name = _labels(occ["properties"].get("name"), language)
        if isinstance(unit, str) and name:
            names.setdefault(unit, name)
    return names


def _units(
    files: Mapping[str, Any],
    source: str,
    rings: RingParser,
    language: str | None,
    occupant_names: Mapping[str, str],
    problems: list[Problem],
) -> list[Zone]:
    """Units as zones (structural units skipped); anchors checked against them."""
    out: list[Zone] = []
    for f in _features(files, "unit.geojson", source, problems):
        fid = str(f["id"])
        props = f["properties"]
        category = _text(props.get("category"))
        if category in STRUCTURAL_CATEGORIES:
            continue
        kind = UNIT_KINDS.get(str(category))
        if kind is None:
            problems.append(
                Problem(
                    "warning",
                    fid,
                    f"unit category {category!r} is not an IMDF unit category; imported as a room",
                    "use an IMDF unit category (docs/floorplan-format.md lists the mapping)",
                )
            )
            kind = ZoneKind.ROOM
        restriction = _text(props.get("restriction"))
        if restriction is not None and restriction in RESTRICTION_KINDS:
            kind = RESTRICTION_KINDS[restriction]
        poly = rings.area(fid, f.get("geometry"))
        if poly is None:
            continue
        name = (
            _labels(props.get("name"), language)
            or _labels(props.get("alt_name"), language)
            or occupant_names.get(fid, "")
            or f"{category} {fid[:8]}"
        )
        level = props.get("level_id")
        extra: dict[str, Any] = {"imdf_category": category}
        if restriction is not None:
            extra["imdf_restriction"] = restriction
        out.append(Zone(fid, name, str(level), kind, poly, MappingProxyType(extra)))
    _check_anchors(files, source, out, rings, problems)
    return out


def _check_anchors(
    files: Mapping[str, Any],
    source: str,
    units: list[Zone],
    rings: RingParser,
    problems: list[Problem],
) -> None:
    """Anchors must name a unit and lie in (or within 1 m of) it."""
    by_id = {u.id: u for u in units}
    # Structural units are skipped and broken ones already reported: no second problem.
    in_file = {str(f["id"]) for f in _features(files, "unit.geojson", source, [])}
    for a in _features(files, "anchor.geojson", source, problems):
        aid = str(a["id"])
        unit_id = _text(a["properties"].get("unit_id"))
        if unit_id in in_file and unit_id not in by_id:
            continue
        unit = by_id.get(str(unit_id))
        if unit is None:
            problems.append(
                Problem(
                    "warning",
                    aid,
                    f"anchor names unit {unit_id!r}, which is not in unit.geojson; ignored",
                    "point the anchor's unit_id at an existing unit",
                )
            )
            continue
        pts = rings.points(aid, "anchor Point", [(a.get("geometry") or {}).get("coordinates")])
        if pts is None:
            continue
        d = unit.polygon.distance(Point(pts[0]))
        if d > 1.0:
            problems.append(
                Problem(
                    "warning",
                    aid,
                    f"anchor lies {d:.1f} m outside its unit {unit.id}; ignored",
                    "move the anchor into its unit",
                )
            )


def _openings(
    files: Mapping[str, Any],
    source: str,
    units: list[Zone],
    rings: RingParser,
    language: str | None,
    problems: list[Problem],
) -> list[Opening]:
    """Openings as doors/exits joining the units within OPENING_SNAP_M on their level."""
    trees: dict[str, tuple[shapely.STRtree, list[Zone]]] = {}
    for lv in sorted({u.level for u in units}):
        group = [u for u in units if u.level == lv]
        trees[lv] = (shapely.STRtree(np.array([u.polygon for u in group], dtype=object)), group)
    out: list[Opening] = []
    for f in _features(files, "opening.geojson", source, problems):
        fid = str(f["id"])
        props = f["properties"]
        pts = rings.segment(fid, f.get("geometry"))
        if pts is None:
            continue
        segment = shapely.LineString(pts)
        level = str(props.get("level_id"))
        joined: tuple[str, ...] = ()
        if level in trees:
            tree, group = trees[level]
            # The midpoint, not the whole segment: a door near a corner must not join
            # the neighbours of the rooms it opens.
            mid = segment.interpolate(0.5, normalized=True)
            idx = tree.query(mid, predicate="dwithin", distance=OPENING_SNAP_M)
            joined = tuple(group[i].id for i in sorted(idx.tolist()))
        category = _text(props.get("category")) or ""
        out.append(
            Opening(
                id=fid,
                level=level,
                kind=OPENING_KINDS.get(category, OpeningKind.DOOR),
                segment=segment,
                zones=joined,
                name=_labels(props.get("name"), language),
            )
        )
    return out
