"""Write floorplans/northfield/floorplan.geojson: Northfield School, a fictional campus.

Two levels (L0 ground, L1 first). A two-storey teaching block (wing A) faces the front
forecourt; a single-storey hall block (wing B: sports hall, dining hall, kitchen, boiler
room) is attached behind it. Around them: paths, a south yard, a playground and a sports
field with muster points, all inside the campus safe area; the car park and its footpath
lie outside it. Local frame: x east, y north, metres, origin at the south-west corner of
the campus (the site origin below). Deterministic: run it twice, get the same bytes.

    .venv/bin/python floorplans/northfield/generate.py

Reader placement follows what an installer does: corridors every 8-10 m along the
centre line, one reader in a small room (restrooms: in the entrance lobby, by the door),
two along the long axis of a classroom-sized room, four in a hall, one per stairwell per
floor, a few on poles and walls outdoors and one at each muster point for roll call.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, Polygon, box
from shapely.geometry.polygon import orient

from geometry.floorplan_format import dump_floorplan
from geometry.model import (
    Floorplan,
    GeoPoint,
    Level,
    Opening,
    OpeningKind,
    Reader,
    Site,
    Zone,
    ZoneKind,
)

HERE = Path(__file__).resolve().parent
#: WGS84 position of the local origin (the south-west corner of the campus), a plausible
#: suburban spot in the English Midlands; the school itself is fictional.
ORIGIN = GeoPoint(lon=-1.98402, lat=52.41017)
K = ZoneKind
OK = OpeningKind

#: Reader mounting heights (m above the floor).
Z_ROOM = 2.7
Z_HALL = 4.0
Z_OUTDOOR = 3.5


class Plan:
    """Collects zones, readers and openings in a fixed order (the file order)."""

    def __init__(self) -> None:
        self.zones: list[Zone] = []
        self.readers: list[Reader] = []
        self.openings: list[Opening] = []
        self._by_id: dict[str, Zone] = {}

    def zone(
        self, zid: str, name: str, level: str, kind: ZoneKind, poly: Polygon, **props: Any
    ) -> Zone:
        """Add a zone (exterior ring counter-clockwise, as RFC 7946 asks)."""
        if zid in self._by_id:
            raise ValueError(f"duplicate zone id {zid}")
        z = Zone(zid, name, level, kind, orient(poly, 1.0), dict(props))
        self.zones.append(z)
        self._by_id[zid] = z
        return z

    def reader(self, zid: str, x: float, y: float, z: float = Z_ROOM) -> None:
        """Add a reader in zone `zid`; ids are the zone id plus a running number."""
        level = self._by_id[zid].level
        n = sum(1 for r in self.readers if r.id.startswith(f"rd-{zid}-")) + 1
        self.readers.append(Reader(f"rd-{zid}-{n}", level, round(x, 2), round(y, 2), z))

    def room_readers(self, zid: str, z: float = Z_ROOM) -> None:
        """One reader in a small room, two along the long axis of a room, four in a hall."""
        minx, miny, maxx, maxy = self._by_id[zid].polygon.bounds
        w, h = maxx - minx, maxy - miny
        area = w * h
        if area < 60:
            fx: list[float] = [0.5]
            fy: list[float] = [0.5]
        elif area < 450:
            fx, fy = ([0.25, 0.75], [0.5]) if w >= h else ([0.5], [0.25, 0.75])
        else:
            fx, fy = [0.25, 0.75], [0.25, 0.75]
        for b in fy:
            for a in fx:
                self.reader(zid, minx + a * w, miny + b * h, z)

    def line_readers(self, zid: str, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        """Readers along a corridor's centre line, evenly, at most 9 m apart."""
        length = math.dist(p0, p1)
        n = max(1, math.ceil(length / 9.0))
        for i in range(n):
            f = (i + 0.5) / n
            self.reader(zid, p0[0] + f * (p1[0] - p0[0]), p0[1] + f * (p1[1] - p0[1]))

    def door(
        self,
        oid: str,
        kind: OpeningKind,
        a: str,
        b: str | None = None,
        *,
        width: float = 1.0,
        at: float = 0.5,
        name: str = "",
        edge: tuple[tuple[float, float], tuple[float, float]] | None = None,
    ) -> None:
        """An opening on the wall shared by zones a and b (or on `edge` of a, to outside).

        `at` places the opening's centre along the shared wall (0 one end, 1 the other).
        """
        za = self._by_id[a]
        if b is None:
            assert edge is not None
            wall = LineString(edge)
        else:
            wall = shared_wall(za.polygon, self._by_id[b].polygon)
            if wall is None or wall.length < width:
                raise ValueError(f"{oid}: {a} and {b} share no wall of {width} m")
        c = min(max(at * wall.length, width / 2), wall.length - width / 2)
        p0 = wall.interpolate(c - width / 2)
        p1 = wall.interpolate(c + width / 2)
        seg = LineString([(round(p0.x, 3), round(p0.y, 3)), (round(p1.x, 3), round(p1.y, 3))])
        zones = (a,) if b is None else (a, b)
        self.openings.append(Opening(oid, za.level, kind, seg, zones, name))


def shared_wall(a: Polygon, b: Polygon) -> LineString | None:
    """The longest straight piece of the boundary two polygons share (None if none)."""
    shared = a.boundary.intersection(b.boundary)
    parts = getattr(shared, "geoms", [shared])
    best: LineString | None = None
    for part in parts:
        if not isinstance(part, LineString):
            continue
        coords = list(part.coords)
        for p0, p1 in itertools.pairwise(coords):
            seg = LineString([p0, p1])
            if best is None or seg.length > best.length + 1e-9:
                best = seg
    return best


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """An axis-aligned rectangle."""
    return box(x0, y0, x1, y1)


def teaching_block(p: Plan, lv: str) -> None:
    """Wing A on one level: an east-west corridor, a south and a north row of rooms."""
    p.zone(f"{lv}-wing-a", "Teaching block (wing A)", lv, K.BUILDING, rect(10, 70, 94, 97))
    corridor = f"{lv}-corridor-a"
    p.zone(corridor, "Main corridor", lv, K.CORRIDOR, rect(10, 82, 94, 85))
    p.line_readers(corridor, (10, 83.5), (94, 83.5))
    for side, x0, x1 in (("west", 10, 16), ("east", 88, 94)):
        sid = f"{lv}-stairs-{side}"
        p.zone(sid, f"{side.title()} stairs", lv, K.STAIRS, rect(x0, 70, x1, 82))
        p.reader(sid, (x0 + x1) / 2, 76)
        p.door(f"{sid}-door", OK.DOOR, sid, corridor, width=1.5, name=f"{side.title()} stairs")

    if lv == "L0":
        south = [
            ("classroom-1", "Classroom 1", K.CLASSROOM, 16, 25, {"capacity": 30}),
            ("classroom-2", "Classroom 2", K.CLASSROOM, 25, 34, {"capacity": 30}),
            ("classroom-3", "Classroom 3", K.CLASSROOM, 34, 43, {"capacity": 30}),
            ("wc-girls-a", "Girls' toilets", K.RESTROOM, 46, 49.5, {}),
            ("wc-boys-a", "Boys' toilets", K.RESTROOM, 49.5, 53, {}),
            ("classroom-4", "Classroom 4", K.CLASSROOM, 53, 62, {"capacity": 30}),
            ("classroom-5", "Classroom 5", K.CLASSROOM, 62, 71, {"capacity": 30}),
            ("classroom-6", "Classroom 6", K.CLASSROOM, 71, 80, {"capacity": 30}),
            ("classroom-7", "Classroom 7", K.CLASSROOM, 80, 88, {"capacity": 28}),
        ]
        north = [
            ("staff-room", "Staff room", K.STAFF_ONLY, 10, 19, {"staff_only": True}),
            ("head-office", "Head's office", K.OFFICE, 19, 27, {}),
            ("school-office", "School office", K.OFFICE, 27, 35, {}),
            ("entrance-hall", "Entrance hall", K.ROOM, 35, 46, {}),
            ("medical-room", "Medical room", K.ROOM, 46, 52, {}),
            ("music-room", "Music", K.CLASSROOM, 52, 62, {"capacity": 30}),
            ("art-room", "Art", K.CLASSROOM, 62, 72, {"capacity": 28}),
            ("classroom-8", "Classroom 8", K.CLASSROOM, 72, 83, {"capacity": 30}),
            ("classroom-9", "Classroom 9", K.CLASSROOM, 83, 94, {"capacity": 30}),
        ]
    else:
        south = [
            ("biology-lab", "Biology lab", K.LAB, 16, 27, {"capacity": 28}),
            ("chemistry-lab", "Chemistry lab", K.LAB, 27, 38, {"capacity": 28}),
            ("science-prep", "Science prep", K.STAFF_ONLY, 38, 46, {"staff_only": True}),
            ("wc-girls-a", "Girls' toilets", K.RESTROOM, 46, 49.5, {}),
            ("wc-boys-a", "Boys' toilets", K.RESTROOM, 49.5, 53, {}),
            ("physics-lab", "Physics lab", K.LAB, 53, 64, {"capacity": 28}),
            ("computer-lab", "Computer lab", K.LAB, 64, 76, {"capacity": 30}),
            ("classroom-10", "Classroom 10", K.CLASSROOM, 76, 88, {"capacity": 30}),
        ]
        north = [
            ("library", "Library", K.LIBRARY, 10, 34, {"capacity": 60}),
            ("classroom-11", "Classroom 11", K.CLASSROOM, 34, 43, {"capacity": 30}),
            ("classroom-12", "Classroom 12", K.CLASSROOM, 43, 52, {"capacity": 30}),
            ("classroom-13", "Classroom 13", K.CLASSROOM, 52, 61, {"capacity": 30}),
            ("classroom-14", "Classroom 14", K.CLASSROOM, 61, 70, {"capacity": 30}),
            ("roof-access", "Roof access", K.RESTRICTED, 70, 76, {"note": "plant, roof hatch"}),
            ("classroom-15", "Classroom 15", K.CLASSROOM, 76, 85, {"capacity": 30}),
            ("staff-workroom", "Staff workroom", K.OFFICE, 85, 94, {}),
        ]
    for row, y0, y1 in ((south, 70, 82), (north, 85, 97)):
        for key, name, kind, x0, x1, props in row:
            zid = f"{lv}-{key}"
            p.zone(zid, name, lv, kind, rect(x0, y0, x1, y1), **props)
            if kind is K.RESTROOM:
                # In the entrance lobby by the door: enough for dwell, not over the cubicles.
                p.reader(zid, (x0 + x1) / 2, y1 - 2.0 if row is south else y0 + 2.0)
            else:
                p.room_readers(zid)
            wide = kind in (K.LIBRARY, K.ROOM) and x1 - x0 > 10
            doors = 2 if kind is K.LIBRARY else 1
            for d in range(doors):
                p.door(
                    f"{zid}-door{d + 1 if doors > 1 else ''}",
                    OK.DOOR,
                    zid,
                    corridor,
                    width=2.0 if wide else 1.0,
                    at=(0.25 + 0.5 * d) if doors > 1 else (0.5 if wide else 0.2),
                    name=name,
                )


def ground_floor(p: Plan) -> None:
    """Level L0: wing A, wing B (hall block) and the grounds."""
    lv = "L0"
    safe = p.zone("L0-safe-area", "Campus safe area", lv, K.SAFE_AREA, rect(0, 0, 170, 120))
    del safe
    teaching_block(p, lv)
    # The cross corridor leads from the main corridor through the south row to wing B.
    p.zone("L0-cross-corridor", "Cross corridor", lv, K.CORRIDOR, rect(43, 70, 46, 82))
    p.line_readers("L0-cross-corridor", (44.5, 70), (44.5, 82))
    p.door("L0-cross-corridor-north", OK.DOOR, "L0-cross-corridor", "L0-corridor-a", width=2.0)

    # Wing B, single storey (the halls are double height).
    p.zone("L0-wing-b", "Hall block (wing B)", lv, K.BUILDING, rect(10, 30, 94, 70))
    corridor_b = Polygon(
        [(10, 56), (94, 56), (94, 59), (46, 59), (46, 70), (43, 70), (43, 59), (10, 59)]
    )
    p.zone("L0-corridor-b", "Hall corridor", lv, K.CORRIDOR, corridor_b)
    p.line_readers("L0-corridor-b", (10, 57.5), (94, 57.5))
    p.line_readers("L0-corridor-b", (44.5, 59), (44.5, 70))
    p.door(
        "L0-fire-doors-ab",
        OK.DOOR,
        "L0-cross-corridor",
        "L0-corridor-b",
        width=2.0,
        name="Fire doors A/B",
    )
    wing_b_north = [
        ("changing-boys", "Boys' changing", K.ROOM, 10, 22, {}),
        ("changing-girls", "Girls' changing", K.ROOM, 22, 34, {}),
        ("pe-store", "PE store", K.STORAGE, 34, 43, {}),
        ("wc-hall", "Hall toilets", K.RESTROOM, 46, 53, {}),
        ("drama-studio", "Drama studio", K.CLASSROOM, 53, 66, {"capacity": 30}),
        ("site-office", "Site office", K.OFFICE, 66, 78, {}),
        ("cleaners-store", "Cleaners' store", K.STORAGE, 78, 84, {}),
        ("boiler-room", "Boiler room", K.RESTRICTED, 84, 94, {"note": "gas boilers"}),
    ]
    for key, name, kind, x0, x1, props in wing_b_north:
        zid = f"L0-{key}"
        p.zone(zid, name, lv, kind, rect(x0, 59, x1, 70), **props)
        if kind is K.RESTROOM:
            p.reader(zid, (x0 + x1) / 2, 61.0)
        else:
            p.room_readers(zid)
        p.door(f"{zid}-door", OK.DOOR, zid, "L0-corridor-b", at=0.3, name=name)
    p.zone("L0-gym", "Sports hall", lv, K.GYM, rect(10, 30, 44, 56), capacity=120)
    p.room_readers("L0-gym", Z_HALL)
    p.zone("L0-cafeteria", "Dining hall", lv, K.CAFETERIA, rect(44, 30, 76, 56), capacity=200)
    p.room_readers("L0-cafeteria", Z_HALL)
    p.zone("L0-kitchen", "Kitchen", lv, K.STAFF_ONLY, rect(76, 38, 94, 56), staff_only=True)
    p.room_readers("L0-kitchen")
    p.zone("L0-kitchen-store", "Kitchen store", lv, K.STORAGE, rect(76, 30, 94, 38))
    p.room_readers("L0-kitchen-store")
    for i, at in enumerate((0.25, 0.75), start=1):
        p.door(
            f"L0-gym-door{i}",
            OK.DOOR,
            "L0-gym",
            "L0-corridor-b",
            width=1.8,
            at=at,
            name="Sports hall",
        )
        p.door(
            f"L0-cafeteria-door{i}",
            OK.DOOR,
            "L0-cafeteria",
            "L0-corridor-b",
            width=1.8,
            at=at,
            name="Dining hall",
        )
    p.door("L0-servery", OK.DOOR, "L0-kitchen", "L0-cafeteria", width=1.2, name="Servery")
    p.door("L0-kitchen-door", OK.DOOR, "L0-kitchen", "L0-corridor-b", at=0.8, name="Kitchen")
    p.door("L0-kitchen-store-door", OK.DOOR, "L0-kitchen-store", "L0-kitchen", name="Store")

    # The grounds.
    outdoor = [
        ("forecourt", "Front forecourt", K.OUTDOOR, rect(10, 97, 94, 112)),
        ("main-gate", "Main gate", K.EXIT, rect(42, 112, 52, 120)),
        ("west-path", "West path", K.OUTDOOR, rect(2, 10, 10, 112)),
        ("south-yard", "South yard", K.OUTDOOR, rect(10, 10, 94, 30)),
        ("east-path", "East path", K.OUTDOOR, rect(94, 8, 100, 64)),
        ("playground", "Playground", K.PLAYGROUND, rect(94, 64, 160, 112)),
        ("sports-field", "Sports field", K.OUTDOOR, rect(100, 8, 165, 64)),
        ("staff-gate", "Staff gate", K.EXIT, rect(160, 96, 170, 104)),
    ]
    for key, name, kind, poly in outdoor:
        p.zone(f"L0-{key}", name, lv, kind, poly)
    for key, name, poly in (
        ("muster-a", "Muster point A", rect(110, 40, 124, 54)),
        ("muster-b", "Muster point B", rect(140, 40, 154, 54)),
        ("muster-c", "Muster point C", rect(136, 92, 150, 106)),
    ):
        p.zone(f"L0-{key}", name, lv, K.MUSTER_POINT, poly)
        c = poly.centroid
        p.reader(f"L0-{key}", c.x, c.y, Z_OUTDOOR)
    # Outside the safe area: the footpath to the car park and the car park itself.
    p.zone("L0-car-park-path", "Car park footpath", lv, K.OUTDOOR, rect(170, 96, 178, 104))
    p.zone("L0-staff-car-park", "Staff car park", lv, K.PARKING, rect(178, 66, 218, 110))
    p.zone("L0-visitor-car-park", "Visitor car park", lv, K.PARKING, rect(178, 20, 218, 66))
    # The east path's third reader, by the boiler room's outer door, is the installer's
    # fix after the survey's error map: without it a badge on the path hears the boiler
    # room's readers through the wall loudest (README.md, "The site calibration").
    outdoor_readers = {
        "L0-forecourt": [(24, 104.5), (52, 104.5), (80, 104.5)],
        "L0-main-gate": [(47, 116)],
        "L0-west-path": [(6, 24), (6, 50), (6, 76), (6, 102)],
        "L0-south-yard": [(24, 20), (52, 20), (80, 20)],
        "L0-east-path": [(97, 22), (97, 50), (97, 62)],
        "L0-playground": [(110, 76), (140, 76), (110, 100), (127, 100)],
        "L0-sports-field": [(108, 16), (132, 16), (158, 16), (108, 58), (132, 30), (158, 58)],
        "L0-staff-gate": [(165, 100)],
        "L0-car-park-path": [(174, 100)],
        "L0-staff-car-park": [(188, 88), (208, 88)],
        "L0-visitor-car-park": [(188, 43), (208, 43)],
    }
    for zid, pts in outdoor_readers.items():
        for x, y in pts:
            p.reader(zid, x, y, Z_OUTDOOR)

    # Ways out of the buildings, and the gates.
    D = p.door
    D(
        "L0-main-entrance",
        OK.EXIT,
        "L0-entrance-hall",
        "L0-forecourt",
        width=2.4,
        name="Main entrance",
    )
    D("L0-school-office-hatch", OK.DOOR, "L0-school-office", "L0-entrance-hall", name="Reception")
    D("L0-corridor-a-east", OK.EXIT, "L0-corridor-a", "L0-playground", width=2.0, name="East doors")
    D(
        "L0-corridor-a-west",
        OK.EMERGENCY_EXIT,
        "L0-corridor-a",
        "L0-west-path",
        width=1.5,
        name="West fire exit",
    )
    D(
        "L0-stairs-west-exit",
        OK.EMERGENCY_EXIT,
        "L0-stairs-west",
        "L0-west-path",
        width=1.2,
        name="West stairs fire exit",
    )
    D(
        "L0-stairs-east-exit",
        OK.EMERGENCY_EXIT,
        "L0-stairs-east",
        "L0-playground",
        width=1.2,
        name="East stairs fire exit",
    )
    D(
        "L0-corridor-b-west",
        OK.EMERGENCY_EXIT,
        "L0-corridor-b",
        "L0-west-path",
        width=1.5,
        name="Hall corridor fire exit",
    )
    D(
        "L0-corridor-b-east",
        OK.EXIT,
        "L0-corridor-b",
        "L0-east-path",
        width=1.5,
        name="Hall corridor east doors",
    )
    D(
        "L0-gym-exit-south",
        OK.EMERGENCY_EXIT,
        "L0-gym",
        "L0-south-yard",
        width=1.8,
        name="Sports hall fire exit",
    )
    D(
        "L0-gym-exit-west",
        OK.EMERGENCY_EXIT,
        "L0-gym",
        "L0-west-path",
        width=1.8,
        name="Sports hall west fire exit",
    )
    D(
        "L0-cafeteria-exit",
        OK.EMERGENCY_EXIT,
        "L0-cafeteria",
        "L0-south-yard",
        width=1.8,
        name="Dining hall fire exit",
    )
    D("L0-deliveries", OK.EXIT, "L0-kitchen-store", "L0-south-yard", width=1.5, name="Deliveries")
    D("L0-boiler-room-outer", OK.DOOR, "L0-boiler-room", "L0-east-path", name="Boiler room")
    D("L0-main-gate-inner", OK.DOOR, "L0-main-gate", "L0-forecourt", width=6.0)
    D(
        "L0-main-gate-street",
        OK.EXIT,
        "L0-main-gate",
        None,
        width=6.0,
        name="Main gate",
        edge=((42, 120), (52, 120)),
    )
    D("L0-staff-gate-inner", OK.DOOR, "L0-staff-gate", "L0-playground", width=3.0)
    D(
        "L0-staff-gate-out",
        OK.EXIT,
        "L0-staff-gate",
        "L0-car-park-path",
        width=3.0,
        name="Staff gate",
    )
    D("L0-car-park-entry", OK.DOOR, "L0-car-park-path", "L0-staff-car-park", width=3.0)


def first_floor(p: Plan) -> None:
    """Level L1: wing A only (wing B is single storey)."""
    lv = "L1"
    # The safe area is per level like every zone: on the first floor it is the same
    # campus outline, so a student upstairs is on campus too.
    p.zone("L1-safe-area", "Campus safe area", lv, K.SAFE_AREA, rect(0, 0, 170, 120))
    teaching_block(p, lv)
    p.door("L1-prep-chem", OK.DOOR, "L1-science-prep", "L1-chemistry-lab", name="Prep room")


def build() -> Floorplan:
    """The Northfield floorplan."""
    p = Plan()
    ground_floor(p)
    first_floor(p)
    site = Site("northfield", "Northfield School", ORIGIN)
    levels = (Level("L0", 0, "Ground floor"), Level("L1", 1, "First floor"))
    return Floorplan(site, levels, tuple(p.zones), tuple(p.readers), tuple(p.openings))


def geojson_text(fp: Floorplan) -> str:
    """The file's text: the header indented, one feature per line (small, diff-friendly)."""
    doc = dump_floorplan(fp)
    head = json.dumps({k: v for k, v in doc.items() if k != "features"}, indent=1)
    lines = ",\n".join("  " + json.dumps(f, separators=(",", ":")) for f in doc["features"])
    return head[:-2] + ',\n "features": [\n' + lines + "\n ]\n}\n"


def main() -> None:
    """Write floorplan.geojson beside this script."""
    out = HERE / "floorplan.geojson"
    out.write_text(geojson_text(build()))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
