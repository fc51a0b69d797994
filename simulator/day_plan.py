"""Each person's day as a list of visits: where to go, from when, and why.

Students arrive before the first bell (late ones later), follow their group's lessons
(from the campus timetable; a campus without one gets lessons spread over its
classrooms), spend breaks outdoors or in the dining hall, and leave after the last
lesson. On top of that, at the scenario's rates: restroom visits during lessons (a few
of them long), visits to restricted zones, walks beyond the safe area and visits to
staff-only rooms, each followed by the way back. Staff move between staff rooms, offices
and classrooms. All of it is drawn from the person's own random stream, so one person's
plan never depends on another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.schedule import Timetable
from geometry.model import ZoneKind
from simulator.population import Person
from simulator.scenario import BehaviourSpec, SurveySpec
from simulator.walk_graph import WalkGraph

OUTSIDE = -1  # not on any walkable zone: off campus, beyond the entrance


@dataclass(frozen=True, slots=True)
class Visit:
    """From epoch `t`, go to walkable zone `zone` (OUTSIDE: leave the campus)."""

    t: float
    zone: int
    reason: str


@dataclass(frozen=True, slots=True)
class Slot:
    """One lesson of a group: epoch start and end, and its room (a walkable zone)."""

    start: float
    end: float
    room: int


#: Default bell times (minutes after midnight) for a campus without a timetable.
DEFAULT_PERIODS = (
    (9 * 60, 10 * 60),
    (10 * 60, 11 * 60),
    (11 * 60 + 20, 12 * 60 + 20),
    (13 * 60 + 10, 14 * 60 + 10),
    (14 * 60 + 10, 15 * 60 + 10),
)


@dataclass(frozen=True, slots=True)
class Places:
    """The zones a plan picks from, by purpose (walkable zone numbers)."""

    teaching: tuple[int, ...]
    restrooms: tuple[int, ...]
    restricted: tuple[int, ...]
    beyond_safe_area: tuple[int, ...]
    breaks: tuple[int, ...]
    staff_rooms: tuple[int, ...]
    staff_only: tuple[int, ...] = ()

    @classmethod
    def of(cls, graph: WalkGraph) -> Places:
        """Classify the reachable zones of a walk graph."""

        def kinds(*k: ZoneKind) -> tuple[int, ...]:
            return tuple(z for z in graph.zones_of_kind(*k) if z in graph.reachable)

        safe = [z.polygon for z in graph.floorplan.zones if z.kind == ZoneKind.SAFE_AREA]
        beyond = tuple(
            i
            for i in graph.reachable
            if safe
            and graph.zones[i].kind not in (ZoneKind.EXIT,)
            and not any(s.contains(graph.zones[i].polygon.representative_point()) for s in safe)
        )
        breaks = kinds(ZoneKind.PLAYGROUND, ZoneKind.CAFETERIA, ZoneKind.OUTDOOR)
        breaks = tuple(z for z in breaks if z not in beyond)
        teaching = kinds(ZoneKind.CLASSROOM, ZoneKind.LAB, ZoneKind.LIBRARY, ZoneKind.GYM)
        return cls(
            teaching=teaching,
            restrooms=kinds(ZoneKind.RESTROOM),
            restricted=kinds(ZoneKind.RESTRICTED),
            beyond_safe_area=tuple(sorted(beyond)),
            breaks=breaks or teaching,
            staff_rooms=kinds(ZoneKind.OFFICE, ZoneKind.STAFF_ONLY) or teaching,
            staff_only=kinds(ZoneKind.STAFF_ONLY),
        )


def group_slots(
    graph: WalkGraph,
    timetable: Timetable | None,
    groups: Sequence[str],
    day_epoch: float,
    places: Places,
) -> dict[str, list[Slot]]:
    """Lessons of every group on the day (`day_epoch`: local midnight as epoch seconds)."""
    out: dict[str, list[Slot]] = {g: [] for g in groups}
    if timetable is not None:
        for occ in timetable.occurrences(day_epoch, day_epoch + 86_400 - 1):
            room = graph.zone_number.get(occ.lesson.room)
            if occ.lesson.group in out and room is not None:
                out[occ.lesson.group].append(Slot(occ.start, occ.end, room))
        return out
    rooms = places.teaching or tuple(sorted(graph.reachable))
    for g, group in enumerate(groups):
        for p, (a, b) in enumerate(DEFAULT_PERIODS):
            room = rooms[(g + 3 * p) % len(rooms)]
            out[group].append(Slot(day_epoch + a * 60, day_epoch + b * 60, room))
    return out


def _nearest(graph: WalkGraph, zone: int, options: Sequence[int]) -> int:
    return min(options, key=lambda z: (graph.distance(zone, z), z))


def student_plan(
    person: Person,
    slots: Sequence[Slot],
    places: Places,
    graph: WalkGraph,
    behaviour: BehaviourSpec,
    rng: np.random.Generator,
) -> list[Visit]:
    """A student's visits for the day, in time order."""
    if not slots:
        return []
    arrive = slots[0].start - float(rng.uniform(5 * 60, 30 * 60)) + person.late_s
    visits = [Visit(arrive, slots[0].room, "arrive")]
    for prev, slot in zip([None, *slots[:-1]], slots, strict=True):
        if prev is not None:
            if slot.start - prev.end >= 10 * 60:
                zone = places.breaks[int(rng.integers(len(places.breaks)))]
                visits.append(Visit(prev.end + float(rng.uniform(0, 60)), zone, "break"))
                visits.append(Visit(slot.start - float(rng.uniform(60, 240)), slot.room, "lesson"))
            else:
                visits.append(Visit(prev.end + float(rng.uniform(0, 60)), slot.room, "lesson"))
        visits += _lesson_extras(slot, places, graph, behaviour, rng)
    visits += _day_extras(slots, places, graph, behaviour, rng)
    visits.append(Visit(slots[-1].end + float(rng.uniform(0, 300)), OUTSIDE, "leave"))
    return sorted((v for v in visits if v.t >= arrive), key=lambda v: v.t)


def _away_and_back(
    t: float,
    zone: int,
    minutes: tuple[float, float],
    room: int,
    reason: str,
    rng: np.random.Generator,
) -> list[Visit]:
    stay = float(rng.uniform(*minutes)) * 60
    return [Visit(t, zone, reason), Visit(t + stay, room, "back")]


def _lesson_extras(
    slot: Slot, places: Places, graph: WalkGraph, behaviour: BehaviourSpec, rng: np.random.Generator
) -> list[Visit]:
    """Restroom visits during one lesson (a Poisson number at the scenario's rate)."""
    out: list[Visit] = []
    hours = (slot.end - slot.start) / 3600
    if not places.restrooms or slot.end - slot.start < 25 * 60:
        return out
    for _ in range(int(rng.poisson(behaviour.restroom_per_hour * hours))):
        t = float(rng.uniform(slot.start + 5 * 60, slot.end - 22 * 60))
        minutes = (
            (12.0, 20.0) if rng.random() < behaviour.long_restroom_rate else behaviour.restroom_min
        )
        toilet = _nearest(graph, slot.room, places.restrooms)
        out += _away_and_back(t, toilet, minutes, slot.room, "restroom", rng)
    return out


def _day_extras(
    slots: Sequence[Slot],
    places: Places,
    graph: WalkGraph,
    behaviour: BehaviourSpec,
    rng: np.random.Generator,
) -> list[Visit]:
    """Visits to restricted zones, beyond the safe area and to staff-only zones, during
    lessons. Staff-only visits come last: at their default rate of 0 they draw nothing, so
    a scenario without them is the same day as before they existed."""
    out: list[Visit] = []
    for rate, zones, minutes, reason in (
        (behaviour.restricted_per_day, places.restricted, behaviour.restricted_min, "restricted"),
        (
            behaviour.leave_safe_area_per_day,
            places.beyond_safe_area,
            behaviour.leave_min,
            "beyond_safe_area",
        ),
        (behaviour.staff_only_per_day, places.staff_only, behaviour.staff_only_min, "staff_only"),
    ):
        if not zones:
            continue
        for _ in range(int(rng.poisson(rate))):
            slot = slots[int(rng.integers(len(slots)))]
            if slot.end - slot.start < 25 * 60:
                continue
            t = float(rng.uniform(slot.start + 5 * 60, slot.end - 22 * 60))
            zone = zones[int(rng.integers(len(zones)))]
            out += _away_and_back(t, zone, minutes, slot.room, reason, rng)
    return out


def staff_plan(start: float, end: float, places: Places, rng: np.random.Generator) -> list[Visit]:
    """A staff member's day: arrive, then a room every 15-25 minutes, then leave."""
    rooms = places.staff_rooms + places.teaching
    t = start - float(rng.uniform(10 * 60, 40 * 60))
    visits = []
    reason = "arrive"
    while t < end:
        visits.append(Visit(t, rooms[int(rng.integers(len(rooms)))], reason))
        reason = "staff"
        t += float(rng.uniform(15 * 60, 25 * 60))
    visits.append(Visit(end + float(rng.uniform(0, 1800)), OUTSIDE, "leave"))
    return visits


def survey_plan(
    start: float, zones: Sequence[int], spec: SurveySpec, graph: WalkGraph, speed_mps: float
) -> list[Visit]:
    """A surveyor's walk: `stops_per_zone` spots in each zone in turn, then leave.

    Each visit is timed for the walk to it (the route between zone centres, or across the
    zone to the next spot in it, at the surveyor's speed, plus `walk_allowance_s` for
    doors and stairs), so every stop stands about `stop_s`.
    """
    visits = []
    t, here = start, zones[0] if zones else OUTSIDE
    for zone in zones:
        x0, y0, x1, y1 = graph.zones[zone].polygon.bounds
        across = float(np.hypot(x1 - x0, y1 - y0)) / speed_mps
        t += graph.distance(here, zone) / speed_mps if zone != here else 0.0
        for _ in range(spec.stops_per_zone):
            visits.append(Visit(t, zone, "survey"))
            t += spec.stop_s + across + spec.walk_allowance_s
        here = zone
    visits.append(Visit(t, OUTSIDE, "leave"))
    return visits
