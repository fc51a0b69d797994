"""The floorplan as GeoJSON in the site's local metres, for the dashboard's map."""

from __future__ import annotations

from typing import Any

import shapely

from geometry.model import Floorplan


def floorplan_geojson(floorplan: Floorplan) -> dict[str, Any]:
    """A FeatureCollection: levels in the header, zones, readers and openings as features.

    Coordinates are local metres (x east, y north), not WGS84: the `sts` header says so.
    """
    features: list[dict[str, Any]] = []
    for zone in floorplan.zones:
        features.append(
            {
                "type": "Feature",
                "id": zone.id,
                "geometry": shapely.geometry.mapping(zone.polygon),
                "properties": {
                    "feature": "zone",
                    "name": zone.name,
                    "level": zone.level,
                    "kind": zone.kind.value,
                },
            }
        )
    for reader in floorplan.readers:
        features.append(
            {
                "type": "Feature",
                "id": reader.id,
                "geometry": {"type": "Point", "coordinates": [reader.x, reader.y]},
                "properties": {"feature": "reader", "level": reader.level},
            }
        )
    for opening in floorplan.openings:
        features.append(
            {
                "type": "Feature",
                "id": opening.id,
                "geometry": shapely.geometry.mapping(opening.segment),
                "properties": {
                    "feature": "opening",
                    "level": opening.level,
                    "kind": opening.kind.value,
                    "zones": list(opening.zones),
                },
            }
        )
    levels = [{"id": lv.id, "ordinal": lv.ordinal, "name": lv.name} for lv in floorplan.levels]
    return {
        "type": "FeatureCollection",
        "sts": {
            "site": {"id": floorplan.site.id, "name": floorplan.site.name},
            "crs": "local",
            "units": "m",
            "levels": levels,
        },
        "features": features,
    }
