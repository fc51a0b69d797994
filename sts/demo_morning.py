"""The scripted Northfield morning behind `make demo`: who walks where, and when.

Every badge of the roster (consented or not: the consent gate must drop the others)
arrives through the main gate, goes to registration and then follows its group's
timetable. Three students do what the rules are there for: one goes into the boiler
room, one (a Year 7) walks out to the staff car park, beyond the safe area, and one
stays in the toilets too long; one arrives late. Staff move between their rooms.
The script is deterministic: the same seed gives the same morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from engine.roster import Roster
from engine.schedule import Timetable
from geometry.model import Floorplan
from simulator.scripted_walks import Leg, Walk, plan_walk

#: A Monday in the autumn term of the sample calendar.
DEMO_DAY = date(2026, 11, 30)
START_MIN = 8 * 60 + 25  # 08:25, local time
END_MIN = 10 * 60 + 10  # 10:10

ENTRANCE = "L0-main-gate"
BOILER_ROOM = "L0-boiler-room"
CAR_PARK = "L0-staff-car-park"
STAFF_ROOMS = ("L0-staff-room", "L0-school-office", "L1-staff-workroom")


@dataclass(frozen=True, slots=True)
class Scene:
    """Who does what unusual thing in the demo morning (tags of the roster)."""

    late: str
    boiler_room: str
    leaves_safe_area: str
    long_toilet: str


@dataclass(frozen=True, slots=True)
class Morning:
    """The walks, the time span (epoch seconds) and the scene."""

    walks: tuple[Walk, ...]
    t0: float
    t1: float
    scene: Scene


def _restroom_near(floorplan: Floorplan, room: str) -> str:
    level = floorplan.zone(room).level
    rooms = [z for z in floorplan.zones_on(level) if z.kind == "restroom"]
    here = floorplan.zone(room).polygon.centroid
    return min(rooms, key=lambda z: z.polygon.centroid.distance(here)).id


def plan_morning(
    floorplan: Floorplan, timetable: Timetable, roster: Roster, seed: int = 2026
) -> Morning:
    """The walks of every badge from 08:25 to 10:10 on the demo day."""
    rng = np.random.default_rng(seed)
    cal = timetable.calendar
    t0, t1 = cal.epoch(DEMO_DAY, START_MIN), cal.epoch(DEMO_DAY, END_MIN)
    occurrences = timetable.occurrences(t0, t1)
    students = [e for e in roster.entries if e.group != "staff"]
    y7 = [e.tag for e in students if e.group.startswith("Y7") and e.consent]
    others = [e.tag for e in students if not e.group.startswith("Y7") and e.consent]
    scene = Scene(late=others[0], boiler_room=others[1], leaves_safe_area=y7[2], long_toilet=y7[4])
    walks = []
    for entry in roster.entries:
        if entry.group == "staff":
            walks.append(_staff_walk(floorplan, entry.tag, t0, rng))
            continue
        lessons = [o for o in occurrences if o.lesson.group == entry.group]
        legs = [Leg(t0, (ENTRANCE,))]
        arrive = t0 + 60 + float(rng.uniform(0, 9 * 60))
        first = 0
        if entry.tag == scene.late:
            # Misses registration and walks into period 1 eight minutes after the bell.
            first, arrive = 1, lessons[1].start + 8 * 60
        for i, occ in enumerate(lessons):
            if i < first:
                continue
            # Classes are dismissed at the bell: the walk to the next room starts then.
            start = arrive if i == first else occ.start + float(rng.uniform(0, 60))
            legs.append(Leg(start, (occ.lesson.room,), float(rng.uniform(1.0, 1.4))))
            if i == 1:
                legs += _incident(floorplan, scene, entry.tag, occ.lesson.room, occ.start)
        walks.append(plan_walk(floorplan, entry.tag, legs, wait=True))
    return Morning(tuple(walks), t0, t1, scene)


def _incident(floorplan: Floorplan, scene: Scene, tag: str, room: str, start: float) -> list[Leg]:
    """The detours of the scene's students during the first period."""
    if tag == scene.boiler_room:
        return [Leg(start + 20 * 60, (BOILER_ROOM,)), Leg(start + 24 * 60, (room,))]
    if tag == scene.leaves_safe_area:
        return [Leg(start + 30 * 60, (CAR_PARK,)), Leg(start + 40 * 60, (room,))]
    if tag == scene.long_toilet:
        toilet = _restroom_near(floorplan, room)
        return [Leg(start + 15 * 60, (toilet,)), Leg(start + 29 * 60, (room,))]
    return []


def _staff_walk(floorplan: Floorplan, tag: str, t0: float, rng: np.random.Generator) -> Walk:
    """A staff member going between staff rooms every twenty minutes or so."""
    legs = [Leg(t0, (ENTRANCE,))]
    t = t0 + float(rng.uniform(60, 300))
    for k in range(5):
        legs.append(Leg(t, (STAFF_ROOMS[(k + int(rng.integers(0, 3))) % 3],)))
        t += float(rng.uniform(15 * 60, 25 * 60))
    return plan_walk(floorplan, tag, legs, wait=True)
