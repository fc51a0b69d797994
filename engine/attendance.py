"""Attendance from the timetable: present / late / absent per student per lesson, with evidence.

Zone events become intervals (enter/inside opens one, exit closes it), and each lesson
occurrence of a group is judged for each member from the intervals in its room. The
decisions, each one deliberate:

- **Effective time.** Time inside an evacuation window counts neither for nor against a
  student: lateness, minutes in the room and leaving early are all measured on the
  lesson's clock with the evacuation cut out. A student who was in class at 09:02, went
  out for a 09:05-09:35 evacuation and came back at 09:36 is neither late nor gone early.
  A lesson wholly inside an evacuation is `evacuated` for everyone.
- **Present / late / absent.** `absent` when the student spent less than
  `min_present_s` in the room (a walk-through is not attendance); otherwise `late` when
  the first arrival came more than `late_after_s` of effective time after the start,
  else `present`. Arriving before the bell counts from the bell.
- **Leaving early** is a flag, not a status: the last exit came more than `early_leave_s`
  of effective time before the end, and the student did not come back.
- **Badge silent.** A `stale` or `lost` event closes the student's open intervals at the
  moment the badge went quiet (the event's time minus its evidence age: the state
  machine reports silence a threshold after the last fix): after it we do not know where
  they are, so those minutes count for nothing (not as absence either). The record
  carries `badge_silent_at`. When the badge went silent before the student could have
  arrived (before the late threshold) and they were never seen in the room, the status
  is `unknown`, not `absent`: a flat battery is not truancy, and a person must check.
  A silent badge is never "left early".
- **Outside** (a state report: in no zone at all) closes every open interval.
- **Still open** intervals (no exit, badge alive) last until the data says otherwise:
  the state machine emits nothing while a student sits still.
- **Cross** events (passing through between two fixes) are zero-length and ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from engine.events import EventKind, ZoneEvent
from engine.schedule import Occurrence, Timetable


class AttendanceStatus(StrEnum):
    """The verdict for one student in one lesson."""

    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    UNKNOWN = "unknown"  # the badge was silent when it mattered: a person must check
    EVACUATED = "evacuated"  # the whole lesson fell inside an evacuation


@dataclass(frozen=True, slots=True)
class AttendancePolicy:
    """Thresholds, in seconds of effective (non-evacuation) lesson time."""

    late_after_s: float = 300.0
    min_present_s: float = 300.0
    early_leave_s: float = 300.0


@dataclass(frozen=True, slots=True)
class Interval:
    """One stay of one student in one zone: [start, end), end may be +inf (still there)."""

    tag: str
    zone: str
    start: float
    end: float
    closed_by: str  # "exit", "stale", "lost" or "open"


@dataclass(frozen=True, slots=True)
class Track:
    """Everything attendance needs about one student: stays and badge silences."""

    intervals: tuple[Interval, ...]
    silences: tuple[tuple[float, float], ...]  # [went silent, heard again or +inf)


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    """One row of the attendance table."""

    day: date
    period: str
    group: str
    room: str
    tag: str
    status: AttendanceStatus
    start: float
    end: float
    first_arrival: float | None
    minutes_in_room: float
    left_early: bool
    last_exit: float | None
    badge_silent_at: float | None
    evacuated_minutes: float


def tracks_from_events(events: Iterable[ZoneEvent]) -> dict[str, Track]:
    """Per tag, the zone intervals and badge silences implied by time-ordered events."""
    open_: dict[str, dict[str, float]] = {}
    done: dict[str, list[Interval]] = {}
    silent_since: dict[str, float] = {}
    silences: dict[str, list[tuple[float, float]]] = {}
    for ev in sorted(events, key=lambda e: e.t):  # stable: same-time events keep file order
        zones = open_.setdefault(ev.tag, {})
        closed = done.setdefault(ev.tag, [])
        if ev.kind in (EventKind.STALE, EventKind.LOST):
            # The state machine reports silence a threshold after the last fix and puts
            # that fix's age in the evidence: the badge went quiet at t - age.
            quiet = ev.t - (ev.evidence.age_s if ev.evidence is not None else 0.0)
            for zone, start in sorted(zones.items()):
                closed.append(Interval(ev.tag, zone, start, max(start, quiet), ev.kind.value))
            zones.clear()
            silent_since.setdefault(ev.tag, quiet)
            continue
        if ev.kind == EventKind.OUTSIDE:  # inside no zone at all: every stay ends
            for zone, start in sorted(zones.items()):
                closed.append(Interval(ev.tag, zone, start, ev.t, "exit"))
            zones.clear()
        aged = ev.evidence is not None and ev.evidence.age_s > 0
        if ev.kind == EventKind.EXIT and aged:
            # a zone removed under a silent badge (engine/zone_state.py): not a sign of life
            if ev.zone in zones:
                closed.append(Interval(ev.tag, ev.zone, zones.pop(ev.zone), ev.t, "exit"))
            continue
        if ev.tag in silent_since:
            silences.setdefault(ev.tag, []).append((silent_since.pop(ev.tag), ev.t))
        if ev.kind in (EventKind.ENTER, EventKind.INSIDE):
            zones.setdefault(ev.zone, ev.t)
        elif ev.kind == EventKind.EXIT and ev.zone in zones:
            closed.append(Interval(ev.tag, ev.zone, zones.pop(ev.zone), ev.t, "exit"))
    for tag, since in silent_since.items():
        silences.setdefault(tag, []).append((since, math.inf))
    out = {}
    for tag in sorted(done):
        stays = done[tag] + [
            Interval(tag, z, s, math.inf, "open") for z, s in sorted(open_[tag].items())
        ]
        stays.sort(key=lambda i: (i.start, i.zone))
        out[tag] = Track(tuple(stays), tuple(silences.get(tag, ())))
    return out


def _cut(a: float, b: float, windows: Sequence[tuple[float, float]]) -> float:
    """Length of [a, b) minus its overlap with the (sorted, disjoint) windows."""
    if b <= a:
        return 0.0
    length = b - a
    for w0, w1 in windows:
        length -= max(0.0, min(b, w1) - max(a, w0))
    return length


def _merge(windows: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(windows):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def judge(
    occ: Occurrence,
    tag: str,
    track: Track | None,
    policy: AttendancePolicy,
    evacuations: Sequence[tuple[float, float]] = (),
) -> AttendanceRecord:
    """The attendance record of one student for one lesson occurrence."""
    start, end, room = occ.start, occ.end, occ.lesson.room
    evac = _merge((max(a, start), min(b, end)) for a, b in evacuations if a < end and b > start)
    evac_s = sum(b - a for a, b in evac)
    stays = [] if track is None else [i for i in track.intervals if i.zone == room]
    stays = [i for i in stays if i.end > start and i.start < end]
    inside = sum(_cut(max(i.start, start), min(i.end, end), evac) for i in stays)
    first = min((max(i.start, start) for i in stays), default=None)
    silences = [] if track is None else [s for s in track.silences if s[0] < end and s[1] > start]
    silent_at = min((max(a, start) for a, _ in silences), default=None)

    def record(status: AttendanceStatus, left_early: bool = False) -> AttendanceRecord:
        last_exit = max((i.end for i in stays if i.closed_by == "exit"), default=None)
        return AttendanceRecord(
            day=occ.day,
            period=occ.period.id,
            group=occ.lesson.group,
            room=room,
            tag=tag,
            status=status,
            start=start,
            end=end,
            first_arrival=None if first is None else min(i.start for i in stays),
            minutes_in_room=round(inside / 60.0, 2),
            left_early=left_early,
            last_exit=last_exit,
            badge_silent_at=silent_at,
            evacuated_minutes=round(evac_s / 60.0, 2),
        )

    if _cut(start, end, evac) <= 0.0:
        return record(AttendanceStatus.EVACUATED)
    late_at = start + policy.late_after_s
    # Where the late threshold falls on the wall clock once evacuations are cut out.
    for a, b in evac:
        if a < late_at:
            late_at += b - a
    if inside < policy.min_present_s:
        if silent_at is not None and silent_at <= late_at:
            return record(AttendanceStatus.UNKNOWN)
        return record(AttendanceStatus.ABSENT)
    assert first is not None
    late = _cut(start, first, evac) > policy.late_after_s
    last = max(stays, key=lambda i: i.end)
    left_early = last.closed_by == "exit" and _cut(last.end, end, evac) > policy.early_leave_s
    status = AttendanceStatus.LATE if late else AttendanceStatus.PRESENT
    return record(status, left_early)


def attendance(
    timetable: Timetable,
    members: Mapping[str, Sequence[str]],
    events: Iterable[ZoneEvent],
    t0: float,
    t1: float,
    policy: AttendancePolicy | None = None,
    evacuations: Sequence[tuple[float, float]] = (),
) -> list[AttendanceRecord]:
    """Records for every lesson overlapping [t0, t1] and every member (tag) of its group.

    Ordered by lesson start, group, period, then tag: the same input gives the same table.
    """
    pol = policy or AttendancePolicy()
    tracks = tracks_from_events(events)
    out = []
    for occ in timetable.occurrences(t0, t1):
        for tag in sorted(members.get(occ.lesson.group, ())):
            out.append(judge(occ, tag, tracks.get(tag), pol, evacuations))
    return out
