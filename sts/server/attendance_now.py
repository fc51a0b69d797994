"""Attendance for the period running now, per group, with the evidence behind each mark.

The verdicts of engine/attendance.py are for lessons that ended. While a lesson runs a
mark is provisional, so it is said as such: `present` or `late` from the first arrival
in the room (the lateness threshold is the policy's), `not arrived yet` while the
student could still be on time, `missing so far` after that, `unknown` when the badge
went silent before the student could have arrived (a flat battery is not truancy).
Each mark carries what it rests on: first arrival, minutes in the room, the last exit,
when the badge went silent, and whether the student is in the room now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.attendance import AttendancePolicy, AttendanceRecord, judge, tracks_from_events
from engine.events import ZoneEvent
from engine.schedule import Occurrence, Timetable


@dataclass(frozen=True, slots=True)
class Mark:
    """One student's provisional mark in the running lesson."""

    tag: str
    mark: str  # present, late, not arrived yet, missing so far, unknown
    in_room_now: bool
    record: AttendanceRecord  # the judgement on the lesson so far (its evidence)


def provisional(
    record: AttendanceRecord, in_room_now: bool, now: float, policy: AttendancePolicy
) -> str:
    """The mark of a lesson still running (see the module docstring)."""
    late_at = record.start + policy.late_after_s
    if record.first_arrival is not None:
        return "late" if max(record.first_arrival, record.start) > late_at else "present"
    if record.badge_silent_at is not None and record.badge_silent_at <= late_at:
        return "unknown"
    return "not arrived yet" if now <= late_at else "missing so far"


def running_lessons(timetable: Timetable, groups: Iterable[str], now: float) -> list[Occurrence]:
    """The lesson each of `groups` has at `now` (groups without one are left out)."""
    out = []
    for group in sorted(groups):
        occ = timetable.lesson_at(group, now)
        if occ is not None:
            out.append(occ)
    return out


def marks_now(
    occ: Occurrence,
    members: Sequence[str],
    events: Iterable[ZoneEvent],
    in_room: Mapping[str, bool],
    now: float,
    policy: AttendancePolicy,
) -> list[Mark]:
    """Each member's provisional mark for the lesson `occ`, judged on its first minutes."""
    so_far = replace(occ, end=max(occ.start + 1.0, min(occ.end, now)))
    tracks = tracks_from_events(e for e in events if e.t <= now)
    out = []
    for tag in sorted(members):
        record = judge(so_far, tag, tracks.get(tag), policy)
        here = bool(in_room.get(tag, False))
        out.append(Mark(tag, provisional(record, here, now, policy), here, record))
    return out


def mark_record(mark: Mark, label: str) -> dict[str, Any]:
    """A mark as JSON for the page."""
    r = mark.record
    return {
        "tag": mark.tag,
        "label": label,
        "mark": mark.mark,
        "in_room_now": mark.in_room_now,
        "first_arrival": r.first_arrival,
        "minutes_in_room": r.minutes_in_room,
        "last_exit": r.last_exit,
        "badge_silent_at": r.badge_silent_at,
    }
