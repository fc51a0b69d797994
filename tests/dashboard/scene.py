"""A few minutes of Period 1 at Northfield for the browser tests: classes, a late walker,
two Year 7s into the boiler room (critical alerts), and one more after a restart.

Students sit in their group's Period 1 room (from the timetable) from `T0` (09:02 on
the demo Monday, so they count as present); one Year 7B walks in late; badge-0001 and
badge-0002 walk from the hall corridor into the boiler room at `T0 + 20 s` and
`T0 + 45 s`. `after_restart` is badge-0003 doing the same two minutes later (data time).
Readings come from the plain radio of simulator/scripted_walks.py, cut into frames of
one second of data time.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.schedule import Timetable
from geometry.model import Floorplan
from simulator.scripted_walks import Leg, RadioModel, Walk, hear, plan_walk, sample_truth
from tests.serve.scenario import Scenario

#: Monday 2026-11-30, 09:02 Europe/London (UTC in winter), as epoch seconds.
T0 = 1_796_029_320.0
BOILER_ROOM = "L0-boiler-room"
CORRIDOR = "L0-corridor-b"
INTRUDERS = ("badge-0001", "badge-0002")
LATE = "badge-0013"
AFTER_RESTART = "badge-0003"
#: Who sits in class: a few of every group, on both levels.
SEATED = (
    "badge-0004", "badge-0005", "badge-0006",
    "badge-0009", "badge-0010", "badge-0011", "badge-0012",
    "badge-0017", "badge-0018", "badge-0019",
    "badge-0025", "badge-0026", "badge-0027",
    "badge-0031", "badge-0032", "badge-0033",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Frames:
    """Readings cut into numbered frames of rows [t, tag, reader, rssi]."""

    frames: tuple[tuple[int, list[list[object]]], ...]
    t0: float
    t1: float


def _room(timetable: Timetable, group: str, t: float) -> str:
    occ = timetable.lesson_at(group, t)
    assert occ is not None, f"{group} has no lesson at {t}"
    return occ.lesson.room


def _frames(floorplan: Floorplan, walks: list[Walk], t0: float, t1: float, first: int) -> Frames:
    truth = sample_truth(walks, [lv.id for lv in floorplan.levels], t0, t1, 1.0)
    readings = hear(truth, floorplan, RadioModel(), seed=11)
    readers = tuple(r.id for r in floorplan.readers)
    scenario = Scenario(readings, tuple(w.tag for w in walks), readers, t0, t1)
    numbered = tuple((first + k, rows) for k, (_, rows) in enumerate(scenario.frames()))
    return Frames(numbered, t0, t1)


def period_one(floorplan: Floorplan, timetable: Timetable, groups: dict[str, str]) -> Frames:
    """The first part: classes, the late walker and the two intruders (100 s)."""
    walks = [plan_walk(floorplan, tag, [Leg(T0, (_room(timetable, groups[tag], T0),))])
             for tag in SEATED]  # fmt: skip
    late_room = _room(timetable, groups[LATE], T0)
    walks.append(
        plan_walk(floorplan, LATE, [Leg(T0, ("L0-corridor-a",)), Leg(T0 + 5, (late_room,))])
    )
    for i, tag in enumerate(INTRUDERS):
        legs = [Leg(T0, (CORRIDOR,)), Leg(T0 + 20 + 25 * i, (BOILER_ROOM,))]
        walks.append(plan_walk(floorplan, tag, legs))
    return _frames(floorplan, walks, T0, T0 + 100, 0)


def after_restart(floorplan: Floorplan) -> Frames:
    """The second part: one more student into the boiler room, two minutes later (90 s)."""
    t0 = T0 + 220
    walks = [
        plan_walk(floorplan, AFTER_RESTART, [Leg(t0, (CORRIDOR,)), Leg(t0 + 10, (BOILER_ROOM,))])
    ]
    return _frames(floorplan, walks, t0, t0 + 90, 1000)
