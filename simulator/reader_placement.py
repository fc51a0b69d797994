"""Readers for a plan that has none (an imported IMDF building): placed as an installer would.

One reader per walkable zone of up to `area_per_reader_m2`, more in larger ones on a
grid over the zone (so a corridor gets one every few metres), at `height_m`. Ids are
`rd-auto-<n>` in plan order, so the same plan always gets the same readers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import shapely

from geometry.model import Floorplan, Reader
from simulator.walk_graph import CONTAINER_KINDS


def place_readers(
    floorplan: Floorplan, *, area_per_reader_m2: float = 60.0, height_m: float = 2.7
) -> Floorplan:
    """The plan with readers in every walkable zone (a plan that has readers: unchanged)."""
    if floorplan.readers:
        return floorplan
    readers: list[Reader] = []
    for zone in floorplan.zones:
        if zone.kind in CONTAINER_KINDS:
            continue
        polygon = zone.polygon
        count = max(1, round(polygon.area / area_per_reader_m2))
        x0, y0, x1, y1 = polygon.bounds
        spacing = math.sqrt(polygon.area / count)
        xs = np.arange(x0 + spacing / 2, x1, spacing)
        ys = np.arange(y0 + spacing / 2, y1, spacing)
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        inside = shapely.contains_xy(polygon, gx, gy)
        points = list(zip(gx[inside].tolist(), gy[inside].tolist(), strict=True))
        if not points:
            p = polygon.representative_point()
            points = [(p.x, p.y)]
        for x, y in points:
            readers.append(
                Reader(
                    f"rd-auto-{len(readers) + 1}", zone.level, round(x, 2), round(y, 2), height_m
                )
            )
    return dataclasses.replace(floorplan, readers=tuple(readers))
