"""Writes the synthetic IMDF archive of this folder (run from the repo root, deterministic).

A hand-made two-level school drawn in local metres and projected to WGS84 around a
made-up origin; CC0 like the rest of this folder (see README.md).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from geometry.frame import LocalFrame
from geometry.model import GeoPoint

HERE = Path(__file__).parent
ORIGIN = GeoPoint(13.40495, 52.52001)  # made up; the display point is at local (20, 10)
FRAME = LocalFrame(ORIGIN)
NS = uuid.UUID("6f1c2b84-2a55-4a4e-9d59-0d1a2c3b4e5f")


def uid(name: str) -> str:
    """A stable UUID for a named feature."""
    return str(uuid.uuid5(NS, name))


def lonlat(x: float, y: float) -> list[float]:
    """Local metres (from the building's south-west corner) -> [lon, lat], 9 decimals."""
    lon, lat = FRAME.to_wgs84(x - 20.0, y - 10.0)
    return [round(float(lon), 9), round(float(lat), 9)]


def rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """A closed rectangle Polygon geometry."""
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return {"type": "Polygon", "coordinates": [[lonlat(x, y) for x, y in ring]]}


def line(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """A LineString geometry."""
    return {"type": "LineString", "coordinates": [lonlat(x0, y0), lonlat(x1, y1)]}


def point(x: float, y: float) -> dict[str, Any]:
    """A Point geometry."""
    return {"type": "Point", "coordinates": lonlat(x, y)}


def feature(key: str, ftype: str, geometry: Any, **props: Any) -> dict[str, Any]:
    """An IMDF feature."""
    return {
        "id": uid(key),
        "type": "Feature",
        "feature_type": ftype,
        "geometry": geometry,
        "properties": props,
    }


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}


# (name, category, level, x0, y0, x1, y1, label or None, door side "S"/"N" or None)
UNITS = [
    ("L0-corridor", "walkway", "L0", 0, 8, 40, 12, "Ground corridor", None),
    ("L0-class-1", "classroom", "L0", 0, 0, 10, 8, "Classroom 1", "N"),
    ("L0-class-2", "classroom", "L0", 10, 0, 20, 8, "Classroom 2", "N"),
    ("L0-wc-f", "restroom.female", "L0", 20, 0, 24, 8, "Girls", "N"),
    ("L0-wc-m", "restroom.male", "L0", 24, 0, 28, 8, "Boys", "N"),
    ("L0-stairs", "stairs", "L0", 28, 0, 32, 8, "Stairs", "N"),
    ("L0-lift", "elevator", "L0", 32, 0, 34, 8, "Lift", "N"),
    ("L0-store", "storage", "L0", 34, 0, 40, 8, "Store", "N"),
    ("L0-lab", "laboratory", "L0", 0, 12, 12, 20, "Science lab", "S"),
    ("L0-library", "library", "L0", 12, 12, 26, 20, "Library", "S"),
    ("L0-office", "office", "L0", 26, 12, 32, 20, None, "S"),
    ("L0-canteen", "foodservice", "L0", 32, 12, 40, 20, "Canteen", "S"),
    ("L0-column", "column", "L0", 19.8, 9.8, 20.2, 10.2, None, None),
    ("L1-corridor", "walkway", "L1", 0, 8, 40, 12, "First-floor corridor", None),
    ("L1-class-3", "classroom", "L1", 0, 0, 14, 8, "Classroom 3", "N"),
    ("L1-class-4", "classroom", "L1", 14, 0, 28, 8, "Classroom 4", "N"),
    ("L1-stairs", "stairs", "L1", 28, 0, 32, 8, "Stairs", "N"),
    ("L1-lift", "elevator", "L1", 32, 0, 34, 8, "Lift", "N"),
    ("L1-plant", "serverroom", "L1", 34, 0, 40, 8, "Plant room", None),
    ("L1-gym", "fitnessroom", "L1", 0, 12, 20, 20, "Gym", "S"),
    ("L1-staff", "nonpublic", "L1", 20, 12, 32, 20, "Staff room", "S"),
    ("L1-exam", "classroom", "L1", 32, 12, 40, 20, "Exam room", "S"),
]


def main() -> None:
    """Write every file of the archive."""
    address = feature(
        "address",
        "address",
        None,
        address="1 Example Road",
        locality="Exampletown",
        province=None,
        country="DE",
        postal_code="10000",
        postal_code_ext=None,
        unit=None,
    )
    venue = feature(
        "venue",
        "venue",
        rect(-20, -20, 60, 40),
        category="university",
        restriction=None,
        name={"en": "Mini School"},
        alt_name=None,
        hours=None,
        phone=None,
        website=None,
        display_point=point(20, 10),
        address_id=uid("address"),
    )
    building = feature(
        "building",
        "building",
        None,
        name={"en": "Main block"},
        alt_name=None,
        category="unspecified",
        restriction=None,
        display_point=point(20, 10),
        address_id=uid("address"),
    )
    footprint = feature(
        "footprint",
        "footprint",
        rect(0, 0, 40, 20),
        category="ground",
        name=None,
        building_ids=[uid("building")],
    )
    levels = [
        feature(
            lid,
            "level",
            rect(0, 0, 40, 20),
            category="unspecified",
            restriction=None,
            outdoor=False,
            ordinal=ordinal,
            name={"en": name},
            short_name={"en": short},
            display_point=point(20, 10),
            address_id=None,
            building_ids=[uid("building")],
        )
        for lid, ordinal, name, short in (("L0", 0, "Ground floor", "G"), ("L1", 1, "", "1"))
    ]
    units, openings, anchors = [], [], []
    for name, cat, lid, x0, y0, x1, y1, label, side in UNITS:
        units.append(
            feature(
                name,
                "unit",
                rect(x0, y0, x1, y1),
                category=cat,
                restriction="employeesonly" if name == "L1-staff" else None,
                accessibility=None,
                name={"en": label} if label else None,
                alt_name=None,
                level_id=uid(lid),
                display_point=point((x0 + x1) / 2, (y0 + y1) / 2),
            )
        )
        if side is not None:
            y = y1 if side == "N" else y0
            mid = (x0 + x1) / 2
            openings.append(
                feature(
                    f"{name}-door",
                    "opening",
                    line(mid - 0.5, y, mid + 0.5, y),
                    category="pedestrian",
                    accessibility=None,
                    access_control=None,
                    door={"type": "hinged", "automatic": False, "material": "wood"},
                    name=None,
                    alt_name=None,
                    display_point=point(mid, y),
                    level_id=uid(lid),
                )
            )
        if cat not in ("column", "walkway"):
            anchors.append(
                feature(
                    f"{name}-anchor",
                    "anchor",
                    point((x0 + x1) / 2, (y0 + y1) / 2),
                    address_id=None,
                    unit_id=uid(name),
                )
            )
    openings.append(
        feature(
            "main-entrance",
            "opening",
            line(0, 9, 0, 11),
            category="pedestrian.principal",
            accessibility=None,
            access_control=None,
            door=None,
            name={"en": "Main entrance"},
            alt_name=None,
            display_point=point(0, 10),
            level_id=uid("L0"),
        )
    )
    openings.append(
        feature(
            "fire-exit",
            "opening",
            line(40, 9, 40, 11),
            category="emergencyexit",
            accessibility=None,
            access_control=None,
            door=None,
            name={"en": "Fire exit"},
            alt_name=None,
            display_point=point(40, 10),
            level_id=uid("L0"),
        )
    )
    occupants = [
        feature(
            "occupant-office",
            "occupant",
            None,
            name={"en": "Head teacher"},
            category="office",
            anchor_id=uid("L0-office-anchor"),
            hours=None,
            phone=None,
            website=None,
            validity=None,
            correlation_id=None,
        )
    ]
    manifest = {
        "version": "1.0.0",
        "created": "2026-01-01T00:00:00Z",
        "language": "en",
        "generated_by": "tests/data/imdf/mini-school/generate.py (synthetic, CC0)",
        "extensions": None,
    }
    files: dict[str, Any] = {
        "manifest.json": manifest,
        "address.geojson": collection([address]),
        "venue.geojson": collection([venue]),
        "building.geojson": collection([building]),
        "footprint.geojson": collection([footprint]),
        "level.geojson": collection(levels),
        "unit.geojson": collection(units),
        "opening.geojson": collection(openings),
        "anchor.geojson": collection(anchors),
        "occupant.geojson": collection(occupants),
    }
    for name, doc in files.items():
        (HERE / name).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
