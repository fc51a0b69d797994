"""Write floorplans/kolakowski/floorplan.geojson from the kolakowski-flat data set.

The outline is `layout.csv` (interior walls are narrow slits of it), the 6 readers are the
anchors of `anchors.csv` at their surveyed height z. The source has no room polygons: the
six rooms here are the outline cut along its wall slits into the rooms that Fig. 1 of the
data set's description labels (see README.md); a fix's room is only as good as that cut.

    .venv/bin/python floorplans/kolakowski/generate.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from geometry.floorplan_format import floorplan_document

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "data" / "kolakowski-flat"
LEVEL = "L0"

#: Room id -> (name, the box that cuts it out of the outline: xmin, ymin, xmax, ymax).
#: The box edges run along the middle of the wall slits of layout.csv.
ROOMS: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "wardrobe": ("Wardrobe", (0.0, 0.0, 1.985, 2.07)),
    "anteroom": ("Anteroom", (1.985, 0.0, 3.965, 2.12)),
    "bathroom": ("Bathroom", (3.965, 0.0, 6.22, 2.02)),
    "bedroom": ("Bedroom", (0.0, 2.125, 2.64, 7.1)),
    "living-room": ("Living room", (2.64, 2.12, 6.32, 7.1)),
    "kitchen": ("Kitchen", (6.32, 4.19, 9.07, 7.1)),
}


def read_outline(path: Path) -> Polygon:
    """The flat's outline polygon from layout.csv (x,y per vertex, closed)."""
    with open(path, newline="") as fh:
        points = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(fh)]
    return shapely.make_valid(Polygon(points))


def read_anchors(path: Path) -> list[tuple[str, float, float, float]]:
    """(reader id, x, y, z) of every anchor in anchors.csv."""
    with open(path, newline="") as fh:
        return [
            (r["reader"], float(r["x"]), float(r["y"]), float(r["z"])) for r in csv.DictReader(fh)
        ]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The area of a geometry: a cut along an outline edge also leaves that edge as a line."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    return shapely.union_all(parts)


def rounded(geom: shapely.Geometry) -> dict[str, object]:
    """GeoJSON geometry with coordinates rounded to the millimetre."""
    return json.loads(json.dumps(mapping(shapely.set_precision(geom, 0.001))))


def zone(zone_id: str, geom: shapely.Geometry, kind: str, name: str) -> dict[str, object]:
    """A zone feature on the one level."""
    return {
        "type": "Feature",
        "id": zone_id,
        "geometry": rounded(geom),
        "properties": {"feature_type": "zone", "level": LEVEL, "kind": kind, "name": name},
    }


def build() -> dict[str, object]:
    """The floorplan FeatureCollection."""
    outline = read_outline(DATA / "layout.csv")
    features = [zone("flat", outline, "building", "Kolakowski flat")]
    for room_id, (name, bounds) in ROOMS.items():
        part = polygonal(outline.intersection(box(*bounds)))
        features.append(zone(room_id, part, "room", name))
    for reader, x, y, z in read_anchors(DATA / "anchors.csv"):
        features.append(
            {
                "type": "Feature",
                "id": reader,
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {
                    "feature_type": "reader",
                    "level": LEVEL,
                    "z": z,
                    "name": f"anchor {reader}",
                },
            }
        )
    return floorplan_document(
        {"id": "kolakowski", "name": "Kolakowski flat (BLE RSS, Warsaw)"},
        [{"id": LEVEL, "ordinal": 0, "name": "Flat"}],
        features,
    )


def main() -> None:
    """Write floorplan.geojson beside this script."""
    out = HERE / "floorplan.geojson"
    out.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
