"""A small school built in code for rules, attendance and roll-call tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shapely.geometry import box

from engine.events import EventKind, Evidence, ZoneEvent
from engine.schedule import Lesson, Period, SchoolCalendar, Timetable
from geometry.model import Floorplan, Level, Site, Zone, ZoneKind

MONDAY = date(2026, 9, 7)


def at(h: int, m: int = 0, s: float = 0.0, day: date = MONDAY) -> float:
    """Epoch seconds of a UTC wall time on the test Monday."""
    return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC).timestamp() + s


def floorplan() -> Floorplan:
    """Safe area with two classrooms, a restroom, a corridor, a boiler room, a muster point;
    a parking lot and a second muster point outside it."""
    zones = (
        Zone("campus", "Campus", "L0", ZoneKind.SAFE_AREA, box(0, 0, 100, 60)),
        Zone("room-a", "Room A", "L0", ZoneKind.CLASSROOM, box(0, 0, 10, 10)),
        Zone("room-b", "Room B", "L0", ZoneKind.CLASSROOM, box(10, 0, 20, 10)),
        Zone("wc", "Restroom", "L0", ZoneKind.RESTROOM, box(20, 0, 25, 10)),
        Zone("hall", "Corridor", "L0", ZoneKind.CORRIDOR, box(0, 10, 40, 14)),
        Zone("boiler", "Boiler room", "L0", ZoneKind.RESTRICTED, box(25, 0, 30, 10)),
        Zone("roof", "Roof access", "L1", ZoneKind.RESTRICTED, box(25, 0, 30, 10)),
        Zone("muster-1", "Muster 1", "L0", ZoneKind.MUSTER_POINT, box(60, 40, 70, 50)),
        Zone("muster-2", "Muster 2", "L0", ZoneKind.MUSTER_POINT, box(120, 40, 130, 50)),
        Zone("parking", "Parking", "L0", ZoneKind.PARKING, box(110, 0, 150, 30)),
    )
    return Floorplan(
        Site("test", "Test school"),
        (Level("L0", 0, "Ground"), Level("L1", 1, "First")),
        zones,
    )


def timetable() -> Timetable:
    """UTC calendar; P1 09:00-10:00, P2 10:00-11:00; group 7A in room-a then room-b."""
    cal = SchoolCalendar("UTC", day_start_min=8 * 60 + 30, day_end_min=15 * 60)
    periods = (Period("P1", 9 * 60, 10 * 60), Period("P2", 10 * 60, 11 * 60))
    lessons = (
        Lesson("7A", "P1", "room-a"),
        Lesson("7A", "P2", "room-b"),
        Lesson("8B", "P1", "room-b"),
    )
    return Timetable(cal, periods, lessons)


def evidence(age: float = 0.0, unc: float = 1.5) -> Evidence:
    return Evidence(x=5.0, y=5.0, level="L0", uncertainty_m=unc, age_s=age)


def ev(t: float, tag: str, zone: str, kind: str, *, unc: float = 1.5) -> ZoneEvent:
    """A zone event with evidence, as the state machine would emit it."""
    k = EventKind(kind)
    ed = None if k in (EventKind.STALE, EventKind.LOST) else evidence(0.0, unc)
    return ZoneEvent(t=t, tag=tag, zone=zone, level="L0", kind=k, evidence=ed)


TAG_GROUPS = {
    "s1": "7A",
    "s2": "7A",
    "s3": "7A",
    "s4": "7A",
    "b1": "8B",
    "staff1": "staff",
}
