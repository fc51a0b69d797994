"""The walk graph of a floorplan: where people can go, through which doors, how fast.

Nodes are *ports*: the midpoint of every door or exit, the midpoint of the shared edge
of two open zones that touch without a door (a path meeting a yard), the centre of a
zone nested in another open zone (a muster point on the sports field), and one port per
level of every stairwell or lift stacked over another. Inside a zone people walk in
straight lines between its ports; in a zone that is not convex (an L-shaped corridor)
only where the line stays inside it, turning at a waypoint 1.5 m inside each inward
corner, so nobody walks through the rooms beside a corridor's bend.

Every port that is a real door or a stairwell is a *passage* with a capacity: people
pass at most `flow x width` per second (doors 1.3 persons/s/m, stairs 1.0, the
usual engineering figures), so a crowd queues at doors and stairs during an
evacuation while a lesson change barely notices. Routes are shortest paths
(Dijkstra over ports) between zone centres, cached per pair of zones.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from shapely.geometry import LineString, Point, Polygon

from geometry.errors import InputError
from geometry.model import Floorplan, Opening, Zone, ZoneKind

#: Zones that contain others and are never walked to as such.
CONTAINER_KINDS = frozenset({ZoneKind.BUILDING, ZoneKind.SAFE_AREA})
#: Zones without walls: two of them that touch are walkable across their shared edge.
OPEN_KINDS = frozenset(
    {ZoneKind.OUTDOOR, ZoneKind.PLAYGROUND, ZoneKind.PARKING, ZoneKind.MUSTER_POINT, ZoneKind.EXIT}
)
VERTICAL_KINDS = frozenset({ZoneKind.STAIRS, ZoneKind.ELEVATOR})
#: Zones nobody walks through on the way elsewhere (locked, or not a way through).
NO_THROUGH_KINDS = frozenset(
    {
        ZoneKind.RESTRICTED,
        ZoneKind.STAFF_ONLY,
        ZoneKind.STORAGE,
        ZoneKind.RESTROOM,
        ZoneKind.PARKING,
    }
)


@dataclass(frozen=True, slots=True)
class Flow:
    """Capacities and times of movement (SFPE-style figures, persons per second per metre)."""

    door_pps_per_m: float = 1.3
    stairs_pps_per_m: float = 1.0
    climb_s: float = 12.0  # one storey on the stairs, whoever climbs
    exit_offset_m: float = 2.0  # how far outside an exit a person stands when out


@dataclass(frozen=True, slots=True)
class Port:
    """A node of the graph: a point on a level, a passage when `capacity_pps` > 0."""

    id: str
    level: int
    x: float
    y: float
    zones: tuple[int, ...]  # walkable zones this port belongs to (numbers of WalkGraph.zones)
    capacity_pps: float = 0.0  # 0: no queue (open edges between outdoor zones)
    exit: bool = False  # an exit or emergency exit of a building


@dataclass(frozen=True, slots=True)
class Step:
    """One straight walk: to port `port` (or a spot when -1) at (x, y, level), ending in `zone`."""

    port: int
    x: float
    y: float
    level: int
    zone: int
    climb: bool = False  # a stair or lift between levels, not a walk


class WalkGraph:
    """Ports, the walkable zones they join, and shortest routes between zones."""

    def __init__(self, floorplan: Floorplan, flow: Flow | None = None) -> None:
        self.floorplan = floorplan
        self.flow = flow or Flow()
        self.level_ids = tuple(lv.id for lv in floorplan.levels)
        self.zones: tuple[Zone, ...] = tuple(
            z for z in floorplan.zones if z.kind not in CONTAINER_KINDS
        )
        self.zone_number = {z.id: i for i, z in enumerate(self.zones)}
        self.no_through = frozenset(
            i for i, z in enumerate(self.zones) if z.kind in NO_THROUGH_KINDS
        )
        self.ports: list[Port] = []
        self._edges: dict[int, list[tuple[int, float, int]]] = {}  # to, metres, zone crossed
        self._zone_ports: list[list[int]] = [[] for _ in self.zones]
        self._routes: dict[tuple[int, int], tuple[int, ...]] = {}
        self._build()

    # ---- building ----------------------------------------------------------------------------

    def _level(self, level_id: str) -> int:
        return self.level_ids.index(level_id)

    def _add_port(self, port: Port) -> int:
        number = len(self.ports)
        self.ports.append(port)
        self._edges[number] = []
        for z in port.zones:
            self._zone_ports[z].append(number)
        return number

    def _build(self) -> None:
        for opening in self.floorplan.openings:
            self._add_opening(opening)
        self._add_open_edges()
        self._add_stairs()
        for zone in range(len(self.zones)):
            self._add_corners(zone)
        for zone in range(len(self.zones)):
            self._join_inside(zone)

    def _join_inside(self, zone: int) -> None:
        """Edges between the ports of one zone: every pair in a convex zone; in another,
        the pairs a straight walk joins without leaving it (via the corner waypoints), and
        a straight edge where that leaves a pair apart (a shape the corners do not route)."""
        polygon = self.zones[zone].polygon
        convex = _convex(polygon)
        inside = polygon.buffer(0.05)
        ports = self._zone_ports[zone]
        group = {p: p for p in ports}  # union-find over the pairs joined inside

        def root(p: int) -> int:
            while group[p] != p:
                p = group[p]
            return p

        apart = []
        for a, b in itertools.combinations(ports, 2):
            pa, pb = self.ports[a], self.ports[b]
            if convex or inside.covers(LineString([(pa.x, pa.y), (pb.x, pb.y)])):
                self._join(a, b, zone)
                group[root(a)] = root(b)
            else:
                apart.append((a, b))
        for a, b in apart:
            if root(a) != root(b):
                self._join(a, b, zone)
                group[root(a)] = root(b)

    def _join(self, a: int, b: int, zone: int) -> None:
        pa, pb = self.ports[a], self.ports[b]
        metres = float(np.hypot(pa.x - pb.x, pa.y - pb.y))
        self._edges[a].append((b, metres, zone))
        self._edges[b].append((a, metres, zone))

    def _add_corners(self, zone: int) -> None:
        """A waypoint 1.5 m inside each inward corner of a non-convex zone with square
        corners (an L-shaped corridor), so a walk through the zone turns the corner
        instead of cutting through the rooms beside it."""
        z = self.zones[zone]
        polygon = z.polygon
        if _convex(polygon):
            return
        placed: set[tuple[float, float]] = set()
        for vx, vy in list(polygon.exterior.coords)[:-1]:
            # An inward corner of a square-cornered shape: exactly one of the four
            # diagonal neighbours lies outside the zone.
            outside = [
                (dx, dy)
                for dx in (-1, 1)
                for dy in (-1, 1)
                if not polygon.contains(Point(vx + 0.1 * dx, vy + 0.1 * dy))
            ]
            if len(outside) != 1:
                continue
            dx, dy = outside[0]
            spot = (round(vx - 1.5 * dx, 2), round(vy - 1.5 * dy, 2))
            if spot in placed or not polygon.contains(Point(*spot)):
                continue
            placed.add(spot)
            port = Port(f"{z.id}@corner{len(placed)}", self._level(z.level), *spot, (zone,))
            self._add_port(port)

    def _add_opening(self, opening: Opening) -> None:
        zones = [self.zone_number[z] for z in opening.zones if z in self.zone_number]
        if not zones:
            return
        mid = opening.segment.interpolate(0.5, normalized=True)
        level = self._level(opening.level)
        outside = len(zones) == 1 and opening.kind != "door"
        if outside:
            beyond = self._zone_beyond(opening, self.zones[zones[0]])
            if beyond is not None:
                zones.append(beyond)
        width = max(float(opening.segment.length), 0.8)
        self._add_port(
            Port(
                opening.id,
                level,
                float(mid.x),
                float(mid.y),
                tuple(zones),
                self.flow.door_pps_per_m * width,
                exit=opening.kind != "door",
            )
        )

    def _zone_beyond(self, opening: Opening, inside: Zone) -> int | None:
        """The walkable zone just outside a one-sided exit (None: open ground, no zone)."""
        point = self.outside_point(opening, inside)
        for number, zone in enumerate(self.zones):
            if (
                zone.level == opening.level
                and zone.id != inside.id
                and zone.polygon.contains(point)
            ):
                return number
        return None

    def outside_point(self, opening: Opening, inside: Zone) -> Point:
        """A point `exit_offset_m` beyond an exit, on the side away from `inside`."""
        (x0, y0), (x1, y1) = opening.segment.coords[0], opening.segment.coords[-1]
        mid = opening.segment.interpolate(0.5, normalized=True)
        nx, ny = y1 - y0, x0 - x1
        norm = float(np.hypot(nx, ny)) or 1.0
        step = self.flow.exit_offset_m / norm
        a = Point(mid.x + nx * step, mid.y + ny * step)
        b = Point(mid.x - nx * step, mid.y - ny * step)
        return b if inside.polygon.contains(a) else a

    def _add_open_edges(self) -> None:
        open_zones = [(i, z) for i, z in enumerate(self.zones) if z.kind in OPEN_KINDS]
        for (i, a), (j, b) in itertools.combinations(open_zones, 2):
            if a.level != b.level:
                continue
            level = self._level(a.level)
            if a.polygon.contains(b.polygon) or b.polygon.contains(a.polygon):
                inner = b if a.polygon.contains(b.polygon) else a
                c = inner.polygon.representative_point()
                self._add_port(Port(f"{a.id}~{b.id}", level, c.x, c.y, (i, j)))
                continue
            shared = a.polygon.boundary.intersection(b.polygon.boundary)
            if shared.length >= 1.0:
                mid = (
                    shared.interpolate(0.5, normalized=True)
                    if shared.geom_type == "LineString"
                    else shared.centroid
                )
                self._add_port(Port(f"{a.id}~{b.id}", level, float(mid.x), float(mid.y), (i, j)))

    def _add_stairs(self) -> None:
        vertical = [(i, z) for i, z in enumerate(self.zones) if z.kind in VERTICAL_KINDS]
        for (i, a), (j, b) in itertools.combinations(vertical, 2):
            if a.level == b.level or not a.polygon.intersects(b.polygon):
                continue
            width = self._stair_width(a.polygon)
            ports = []
            for number, zone in ((i, a), (j, b)):
                c = zone.polygon.representative_point()
                cap = self.flow.stairs_pps_per_m * width
                ports.append(
                    self._add_port(
                        Port(f"{zone.id}^", self._level(zone.level), c.x, c.y, (number,), cap)
                    )
                )
            self._edges[ports[0]].append((ports[1], self.flow.climb_s, i))
            self._edges[ports[1]].append((ports[0], self.flow.climb_s, j))

    @staticmethod
    def _stair_width(polygon: Polygon) -> float:
        x0, y0, x1, y1 = polygon.bounds
        return max(min(x1 - x0, y1 - y0) / 2.0, 1.0)  # two flights side by side

    # ---- queries -----------------------------------------------------------------------------

    def walks_inside(self) -> list[tuple[int, Port, Port]]:
        """Every straight walk inside one zone the graph allows (stairs between levels
        are not walks): (zone, from, to)."""
        return [
            (zone, self.ports[a], self.ports[b])
            for a, edges in self._edges.items()
            for b, _metres, zone in edges
            if a < b and zone >= 0 and self.ports[a].level == self.ports[b].level
        ]

    def zone_level(self, zone: int) -> int:
        """The level number of a walkable zone."""
        return self._level(self.zones[zone].level)

    def zones_of_kind(self, *kinds: ZoneKind | str) -> list[int]:
        """Numbers of the walkable zones of these kinds, in plan order."""
        wanted = {ZoneKind(k) for k in kinds}
        return [i for i, z in enumerate(self.zones) if z.kind in wanted]

    @cached_property
    def reachable(self) -> frozenset[int]:
        """Zones that have at least one port (the others cannot be walked to)."""
        return frozenset(i for i, ports in enumerate(self._zone_ports) if ports)

    def centre(self, zone: int) -> tuple[float, float]:
        """A point inside the zone (its representative point)."""
        p = self.zones[zone].polygon.representative_point()
        return float(p.x), float(p.y)

    def random_spot(self, zone: int, rng: np.random.Generator) -> tuple[float, float]:
        """A random point inside a zone, at least 0.5 m from its walls where it can be."""
        polygon = self.zones[zone].polygon
        inner = polygon.buffer(-0.5)
        shape = inner if not inner.is_empty else polygon
        x0, y0, x1, y1 = shape.bounds
        for _ in range(30):
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if shape.contains(Point(x, y)):
                return float(x), float(y)
        return self.centre(zone)

    def gathering_spot(
        self, zone: int, rng: np.random.Generator, spread_m: float = 1.5
    ) -> tuple[float, float]:
        """A point near the zone's centre (people gather round a muster sign), inside it."""
        polygon = self.zones[zone].polygon
        cx, cy = self.centre(zone)
        for _ in range(30):
            x, y = cx + rng.normal(0, spread_m), cy + rng.normal(0, spread_m)
            if polygon.contains(Point(x, y)):
                return float(x), float(y)
        return cx, cy

    def route(self, start: int, goal: int) -> tuple[int, ...]:
        """Ports from zone `start` to zone `goal` on the shortest way (empty: same zone)."""
        key = (start, goal)
        if start == goal:
            return ()
        if key not in self._routes:
            # Through closed zones only when there is no other way (a store behind a kitchen).
            self._routes[key] = self._shortest(start, goal, True) or self._shortest(
                start, goal, False
            )
            if not self._routes[key]:
                raise InputError(
                    f"walk graph: no way from zone {self.zones[start].id!r} to "
                    f"{self.zones[goal].id!r} through the plan's doors; add a door between them"
                )
        return self._routes[key]

    def _shortest(self, start: int, goal: int, closed: bool) -> tuple[int, ...]:
        """Ports of the shortest way (empty: none); `closed`: never through a closed zone."""
        sx, sy = self.centre(start)
        gx, gy = self.centre(goal)
        goal_ports = set(self._zone_ports[goal])
        best: dict[int, float] = {}
        came: dict[int, int] = {}
        heap: list[tuple[float, int, int]] = []
        for p in self._zone_ports[start]:
            d = float(np.hypot(self.ports[p].x - sx, self.ports[p].y - sy))
            best[p] = d
            heapq.heappush(heap, (d, p, -1))
        done: set[int] = set()
        found, found_cost = -1, float("inf")
        while heap:
            cost, p, prev = heapq.heappop(heap)
            if p in done or cost > best.get(p, float("inf")):
                continue
            done.add(p)
            if prev >= 0:
                came[p] = prev
            if p in goal_ports:
                total = cost + float(np.hypot(self.ports[p].x - gx, self.ports[p].y - gy))
                if total < found_cost:
                    found, found_cost = p, total
            if cost >= found_cost:
                break
            for q, w, via in self._edges[p]:
                if closed and via in self.no_through and via not in (start, goal):
                    continue
                if cost + w < best.get(q, float("inf")):
                    best[q] = cost + w
                    heapq.heappush(heap, (cost + w, q, p))
        if found < 0:
            return ()
        path = [found]
        while path[-1] in came:
            path.append(came[path[-1]])
        return tuple(reversed(path))

    def steps(self, start: int, goal: int, spot: tuple[float, float]) -> list[Step]:
        """The straight walks from zone `start` to `spot` inside zone `goal`."""
        out: list[Step] = []
        zone = start
        for p in self.route(start, goal):
            port = self.ports[p]
            climb = bool(out) and out[-1].port >= 0 and self.ports[out[-1].port].level != port.level
            nxt = self._next_zone(port, zone, goal)
            out.append(Step(p, port.x, port.y, port.level, nxt, climb))
            zone = nxt
        out.append(Step(-1, spot[0], spot[1], self.zone_level(goal), goal))
        return out

    def _next_zone(self, port: Port, zone: int, goal: int) -> int:
        """The zone a port leads into when coming from `zone` (stair ports keep the zone)."""
        if goal in port.zones and zone != goal:
            return goal
        others = [z for z in port.zones if z != zone]
        return others[0] if others else port.zones[0]

    def distance(self, start: int, goal: int) -> float:
        """Length of the route between two zone centres (climbs counted as metres)."""
        points = [self.centre(start)] + [
            (self.ports[p].x, self.ports[p].y) for p in self.route(start, goal)
        ]
        points.append(self.centre(goal))
        return float(sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(points)))


def _convex(polygon: Polygon) -> bool:
    """Whether a zone is convex: a straight walk between two of its points stays in it."""
    return bool(polygon.convex_hull.area - polygon.area < 1e-6)
