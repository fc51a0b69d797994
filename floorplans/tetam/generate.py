"""Write floorplans/tetam/floorplan.geojson from the tetam-ble data set (run from anywhere).

The area, the 12 readers (ids are the sensor MAC addresses of tetam.dev) and the zones
(walkable floor with the furniture as holes, each furniture block as its own zone) come
from tests/data/tetam-ble: tetam.dev, tetam.par and the 0.5 m occupancy grid tetam_0.5.occ.

Occupancy grid convention (checked against the ground truth of all six tracks: 97-100% of
the true positions fall in cells marked 0 when cells are centred on their coordinates):
a line "[x, y]::v" is the cell of 0.5 m centred on (x, y); v = 0 is free (walkable),
v = 1 is occupied (walls, furniture).

    .venv/bin/python floorplans/tetam/generate.py
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from geometry.floorplan_format import floorplan_document

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "data" / "tetam-ble"
LEVEL = "L0"
CELL_LINE = re.compile(r"\[([-\d.eE]+),\s*([-\d.eE]+)\]::(\d)")


def read_devices(path: Path) -> dict[str, tuple[float, float, float, str]]:
    """Sensor MAC -> (x, y, z, alias) from the "Dongles:" line of tetam.dev."""
    for line in path.read_text().splitlines():
        if line.startswith("Dongles:"):
            raw = ast.literal_eval(line.split(":", 1)[1].strip())
            return {
                mac: (float(v[0][0]), float(v[0][1]), float(v[0][2]), str(v[2]))
                for mac, v in raw.items()
            }
    raise SystemExit(f"{path}: no 'Dongles:' line")


def read_limits(path: Path) -> tuple[float, float, float, float]:
    """The area's (xmin, ymin, xmax, ymax) in metres from tetam.par."""
    limits = json.loads(path.read_text())["limits"]
    return float(limits[0]), float(limits[1]), float(limits[2]), float(limits[3])


def read_free_cells(
    path: Path,
) -> tuple[float, list[tuple[float, float]], list[tuple[float, float]]]:
    """The cell size and the centres of the free and the occupied cells of the grid."""
    lines = path.read_text().splitlines()
    cell = float(lines[0].rsplit("::", 1)[1])
    free: list[tuple[float, float]] = []
    occupied: list[tuple[float, float]] = []
    for line in lines[1:]:
        m = CELL_LINE.match(line.strip())
        if m:
            (free if m[3] == "0" else occupied).append((float(m[1]), float(m[2])))
    return cell, sorted(free), sorted(occupied)


def polygons_of(geom: shapely.Geometry) -> list[Polygon]:
    """The polygon parts of a geometry, largest first, ties by position (deterministic)."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 0]
    return sorted(parts, key=lambda p: (-round(p.area, 6), p.bounds))


def rounded(geom: Polygon | MultiPolygon) -> dict[str, object]:
    """GeoJSON geometry with coordinates rounded to the millimetre."""
    return json.loads(json.dumps(mapping(shapely.set_precision(geom, 0.001))))


def build() -> dict[str, object]:
    """The floorplan FeatureCollection."""
    devices = read_devices(DATA / "tetam.dev")
    xmin, ymin, xmax, ymax = read_limits(DATA / "tetam.par")
    cell, free, _ = read_free_cells(DATA / "tetam_0.5.occ")
    area = box(xmin, ymin, xmax, ymax)
    h = cell / 2
    squares = [box(x - h, y - h, x + h, y + h) for x, y in free]
    walkable = shapely.make_valid(shapely.union_all(squares).intersection(area))
    parts = polygons_of(walkable)
    # The free space is one connected floor; stray free cells cut off by furniture are
    # dropped (a person cannot stand there).
    floor = parts[0]
    holes = [Polygon(ring) for ring in floor.interiors]
    holes.sort(key=lambda p: (p.bounds[1], p.bounds[0]))

    features: list[dict[str, object]] = [
        {
            "type": "Feature",
            "id": "tetam-area",
            "geometry": rounded(area),
            "properties": {
                "feature_type": "zone",
                "level": LEVEL,
                "kind": "building",
                "name": "TETAM test area",
            },
        },
        {
            "type": "Feature",
            "id": "tetam-floor",
            "geometry": rounded(floor),
            "properties": {
                "feature_type": "zone",
                "level": LEVEL,
                "kind": "room",
                "name": "Open floor (walkable)",
                "walkable": True,
            },
        },
    ]
    for i, hole in enumerate(holes, start=1):
        features.append(
            {
                "type": "Feature",
                "id": f"furniture-{i:02d}",
                "geometry": rounded(hole),
                "properties": {
                    "feature_type": "zone",
                    "level": LEVEL,
                    "kind": "storage",
                    "name": f"Furniture block {i}",
                    "walkable": False,
                },
            }
        )
    for mac in sorted(devices, key=lambda m: devices[m][3]):
        x, y, z, alias = devices[mac]
        features.append(
            {
                "type": "Feature",
                "id": mac,
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {"feature_type": "reader", "level": LEVEL, "z": z, "name": alias},
            }
        )
    return floorplan_document(
        {"id": "tetam", "name": "TETAM BLE test area (Bogazici University)"},
        [{"id": LEVEL, "ordinal": 0, "name": "Ground floor"}],
        features,
    )


def main() -> None:
    """Write floorplan.geojson beside this script."""
    out = HERE / "floorplan.geojson"
    out.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
