"""A synthetic school campus of any size, shaped like Northfield, for zone-lookup benchmarks.

Two levels. Each *wing* is a building with a corridor and rooms on both sides, per
level: a building zone around everything, a corridor, classrooms and labs (one lab
L-shaped, one with a pillar as a hole), restrooms, and a stair well nested inside a
room. Around the wings: a gym, a cafeteria, a library (a MultiPolygon of two parts),
a playground, parking outside the safe area, two muster points and the campus safe
area holding everything else. Zone sizes run from 3 m (stairs) to the whole campus.
Wings are laid out on a square grid, so a larger campus covers a larger area with the
same density of zones: the fair setting for "throughput flat in the zone count".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
from shapely.geometry import MultiPolygon, Polygon, box, shape

from geometry.model import Zone, ZoneKind

LEVELS = ("L0", "L1")
ROOMS_PER_SIDE = 6
ROOM_W = 8.0
ROOM_D = 7.0
CORRIDOR_W = 3.0
WING_W = ROOMS_PER_SIDE * ROOM_W
WING_D = 2 * ROOM_D + CORRIDOR_W
GAP = 12.0
ZONES_PER_WING = 2 * (2 * ROOMS_PER_SIDE + 3)  # rooms, corridor, building, stairs, 2 levels
EXTRA_ZONES = 8


def _wing(ox: float, oy: float, tag: str, level: str) -> list[Zone]:
    """The zones of one wing on one level, origin at its south-west corner."""
    out: list[Zone] = []

    def add(zid: str, kind: ZoneKind, poly: Polygon | MultiPolygon) -> None:
        out.append(Zone(f"{tag}-{level}-{zid}", zid, level, kind, poly))

    add("building", ZoneKind.BUILDING, box(ox, oy, ox + WING_W, oy + WING_D))
    add(
        "corridor",
        ZoneKind.CORRIDOR,
        box(ox, oy + ROOM_D, ox + WING_W, oy + ROOM_D + CORRIDOR_W),
    )
    for side, y0 in (("s", oy), ("n", oy + ROOM_D + CORRIDOR_W)):
        for i in range(ROOMS_PER_SIDE):
            x0 = ox + i * ROOM_W
            rid = f"{side}{i}"
            if side == "s" and i == 0:
                # a lab that is L-shaped (its notch is the restroom next to it)
                poly = Polygon(
                    [
                        (x0, y0),
                        (x0 + ROOM_W, y0),
                        (x0 + ROOM_W, y0 + 4),
                        (x0 + 4, y0 + 4),
                        (x0 + 4, y0 + ROOM_D),
                        (x0, y0 + ROOM_D),
                    ]
                )
                add(rid, ZoneKind.LAB, poly)
            elif side == "s" and i == 1:
                add(rid, ZoneKind.RESTROOM, box(x0, y0, x0 + ROOM_W, y0 + ROOM_D))
            elif side == "n" and i == 2:
                # a classroom with a pillar (a hole)
                outer = box(x0, y0, x0 + ROOM_W, y0 + ROOM_D).exterior.coords
                pillar = box(x0 + 3.5, y0 + 3.0, x0 + 4.5, y0 + 4.0).exterior.coords
                add(rid, ZoneKind.CLASSROOM, Polygon(outer, [pillar]))
            else:
                add(rid, ZoneKind.CLASSROOM, box(x0, y0, x0 + ROOM_W, y0 + ROOM_D))
    # stairs nested in the last north room
    sx = ox + (ROOMS_PER_SIDE - 1) * ROOM_W + 1.0
    sy = oy + ROOM_D + CORRIDOR_W + 1.0
    add("stairs", ZoneKind.STAIRS, box(sx, sy, sx + 3.0, sy + 5.0))
    return out


def campus(n_zones: int) -> tuple[tuple[str, ...], list[Zone]]:
    """Levels and about n_zones zones (a whole number of wings plus campus zones)."""
    n_wings = max(1, math.ceil((n_zones - EXTRA_ZONES) / ZONES_PER_WING))
    cols = max(1, math.ceil(math.sqrt(n_wings / 2.0)))
    zones: list[Zone] = []
    for w in range(n_wings):
        ox = (w % cols) * (WING_W + GAP)
        oy = (w // cols) * (WING_D + GAP)
        for level in LEVELS:
            zones += _wing(ox, oy, f"w{w}", level)
    rows = math.ceil(n_wings / cols)
    width = cols * (WING_W + GAP)
    height = rows * (WING_D + GAP)
    # campus zones around the wings, south of them
    gy = -50.0
    zones.append(Zone("gym", "Gym", "L0", ZoneKind.GYM, box(0, gy, 36, gy + 24)))
    zones.append(Zone("cafeteria", "Cafeteria", "L0", ZoneKind.CAFETERIA, box(40, gy, 70, gy + 20)))
    library = MultiPolygon([box(74, gy, 90, gy + 14), box(92, gy, 100, gy + 8)])
    zones.append(Zone("library", "Library", "L1", ZoneKind.LIBRARY, library))
    zones.append(
        Zone("playground", "Playground", "L0", ZoneKind.PLAYGROUND, box(0, gy - 45, 60, gy - 5))
    )
    zones.append(Zone("muster-a", "Muster A", "L0", ZoneKind.MUSTER_POINT, box(5, -90, 15, -80)))
    zones.append(Zone("muster-b", "Muster B", "L0", ZoneKind.MUSTER_POINT, box(65, -90, 75, -80)))
    safe = Polygon(
        [
            (-20, -100),
            (width + 20, -100),
            (width + 20, height + 10),
            (width / 2, height + 25),
            (-20, height + 10),
        ]
    )
    zones.append(Zone("safe-area", "Campus", "L0", ZoneKind.SAFE_AREA, safe))
    zones.append(
        Zone("parking", "Parking", "L0", ZoneKind.PARKING, box(-80, -100, -25, -40)),
    )
    return LEVELS, zones


def random_points(
    zones: list[Zone], n: int, seed: int = 1, levels: tuple[str, ...] = LEVELS
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """n positions like students': 80% near a random zone, 20% anywhere on the campus.

    "Near a zone" is uniform over its bounds grown by 3 m (zones drawn uniformly, so
    most points fall in and around rooms); "anywhere" is uniform over the bounds of all
    zones grown by 10 m. The level of each point is the level of its zone, or random.
    The same recipe at every campus size keeps the work per point comparable.
    """
    bounds = np.array([z.polygon.bounds for z in zones])
    code = np.array([levels.index(z.level) for z in zones], dtype=np.int32)
    rng = np.random.default_rng(seed)
    near = rng.random(n) < 0.8
    pick = rng.integers(0, len(zones), n)
    lo = np.where(near[:, None], bounds[pick, :2] - 3.0, bounds[:, :2].min(axis=0) - 10.0)
    hi = np.where(near[:, None], bounds[pick, 2:] + 3.0, bounds[:, 2:].max(axis=0) + 10.0)
    xy = lo + rng.random((n, 2)) * (hi - lo)
    level = np.where(near, code[pick], rng.integers(0, len(levels), n)).astype(np.int32)
    return level, np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])


NORTHFIELD = (
    Path(__file__).resolve().parent.parent / "floorplans" / "northfield" / "floorplan.geojson"
)


def northfield() -> tuple[str, tuple[str, ...], list[Zone]]:
    """The Northfield campus (levels, zones) if its floorplan is there, else a stand-in.

    Uses the project's loader when it exists; otherwise reads the zones of the local-frame
    GeoJSON directly (benchmarks may read files; the geometry package may not). Without
    the file, the synthetic campus of about 80 zones stands in, and the name says so.
    """
    if NORTHFIELD.exists():
        try:
            from sts.floorplan_io import load_floorplan  # type: ignore[import-not-found]

            plan = load_floorplan(NORTHFIELD)
            plan = getattr(plan, "floorplan", plan)  # the loader may wrap it with warnings
            return "northfield", tuple(lv.id for lv in plan.levels), list(plan.zones)
        except ImportError:
            doc = json.loads(NORTHFIELD.read_text())
            level_ids = tuple(lv["id"] for lv in doc["sts"]["levels"])
            zones = [
                Zone(
                    str(f["id"]),
                    str(f["properties"].get("name", f["id"])),
                    str(f["properties"]["level"]),
                    ZoneKind(f["properties"]["kind"]),
                    shape(f["geometry"]),
                )
                for f in doc["features"]
                if f["properties"].get("feature_type") == "zone"
            ]
            return "northfield", level_ids, zones
    level_ids, zones = campus(80)
    return "synthetic stand-in for northfield (80 zones)", level_ids, zones
