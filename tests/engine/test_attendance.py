"""Attendance per lesson: on time, late, absent, leaving early, silent badges, evacuations."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.attendance import (
    AttendancePolicy,
    AttendanceRecord,
    AttendanceStatus,
    Interval,
    attendance,
    tracks_from_events,
)
from engine.events import EventKind, ZoneEvent
from tests.engine.small_world import at, ev, evidence, timetable

P, L, A, U, E = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.LATE,
    AttendanceStatus.ABSENT,
    AttendanceStatus.UNKNOWN,
    AttendanceStatus.EVACUATED,
)
MEMBERS = {"7A": ["s1"]}


def p1(
    events: list[ZoneEvent], evacuations: Sequence[tuple[float, float]] = ()
) -> AttendanceRecord:
    """The record of s1 (group 7A, room-a) for period 1, 09:00-10:00."""
    records = attendance(
        timetable(), MEMBERS, events, at(9), at(9, 59), AttendancePolicy(), evacuations
    )
    [rec] = [r for r in records if r.period == "P1"]
    return rec


def test_intervals_from_enter_exit_and_open_stays() -> None:
    tracks = tracks_from_events(
        [
            ev(at(9), "s1", "room-a", "enter"),
            ev(at(9, 30), "s1", "room-a", "exit"),
            ev(at(9, 31), "s1", "hall", "inside"),
            ev(at(9, 40), "s1", "", "stale"),
        ]
    )
    assert tracks["s1"].intervals == (
        Interval("s1", "room-a", at(9), at(9, 30), "exit"),
        Interval("s1", "hall", at(9, 31), at(9, 40), "stale"),
    )
    assert tracks["s1"].silences == ((at(9, 40), math.inf),)
    still = tracks_from_events([ev(at(9), "s2", "room-a", "enter")])["s2"].intervals
    assert still == (Interval("s2", "room-a", at(9), math.inf, "open"),)


def test_on_time_is_present_with_evidence() -> None:
    rec = p1([ev(at(8, 55), "s1", "room-a", "enter")])
    assert rec.status == P and rec.first_arrival == at(8, 55)
    assert rec.minutes_in_room == 60.0 and not rec.left_early and rec.room == "room-a"


def test_arrive_late() -> None:
    rec = p1([ev(at(9, 12), "s1", "room-a", "enter")])
    assert (rec.status, rec.first_arrival, rec.minutes_in_room) == (L, at(9, 12), 48.0)
    # Within the 5-minute threshold: present.
    assert p1([ev(at(9, 4), "s1", "room-a", "enter")]).status == P


def test_absent_and_walk_through_is_absent() -> None:
    assert p1([]).status == A
    rec = p1([ev(at(9, 20), "s1", "room-a", "enter"), ev(at(9, 22), "s1", "room-a", "exit")])
    assert (rec.status, rec.minutes_in_room) == (A, 2.0)


def test_leave_early() -> None:
    rec = p1([ev(at(9), "s1", "room-a", "inside"), ev(at(9, 40), "s1", "room-a", "exit")])
    assert (rec.status, rec.left_early, rec.last_exit, rec.minutes_in_room) == (
        P,
        True,
        at(9, 40),
        40.0,
    )
    # A short trip out and back is not leaving early.
    back = p1(
        [
            ev(at(9), "s1", "room-a", "inside"),
            ev(at(9, 20), "s1", "room-a", "exit"),
            ev(at(9, 25), "s1", "room-a", "enter"),
        ]
    )
    assert (back.status, back.left_early, back.minutes_in_room) == (P, False, 55.0)
    # Leaving 3 minutes before the bell is within the tolerance.
    assert not p1(
        [ev(at(9), "s1", "room-a", "inside"), ev(at(9, 57), "s1", "room-a", "exit")]
    ).left_early


def test_badge_lost_mid_period_counts_known_time_only_and_is_not_leaving_early() -> None:
    rec = p1(
        [
            ev(at(9), "s1", "room-a", "inside"),
            ev(at(9, 30), "s1", "", "stale"),
            ev(at(9, 35), "s1", "", "lost"),
        ]
    )
    assert (rec.status, rec.minutes_in_room, rec.left_early, rec.badge_silent_at) == (
        P,
        30.0,
        False,
        at(9, 30),
    )


def test_badge_silent_from_the_start_is_unknown_not_absent() -> None:
    rec = p1([ev(at(8, 40), "s1", "hall", "inside"), ev(at(8, 50), "s1", "", "lost")])
    assert (rec.status, rec.badge_silent_at) == (U, at(9))
    # Silent only after the late threshold, never seen in the room: absent.
    later = p1([ev(at(8, 40), "s1", "hall", "inside"), ev(at(9, 20), "s1", "", "stale")])
    assert later.status == A
    # Heard again and arriving: judged on what was seen.
    back = p1([ev(at(8, 50), "s1", "", "stale"), ev(at(9, 2), "s1", "room-a", "enter")])
    assert (back.status, back.badge_silent_at) == (P, at(9))


def test_evacuation_during_a_period_is_cut_out() -> None:
    evac = [(at(9, 5), at(9, 35))]
    events = [
        ev(at(9, 2), "s1", "room-a", "enter"),
        ev(at(9, 5), "s1", "room-a", "exit"),
        ev(at(9, 36), "s1", "room-a", "enter"),
    ]
    rec = p1(events, evac)
    assert (rec.status, rec.left_early, rec.evacuated_minutes) == (P, False, 30.0)
    assert rec.minutes_in_room == 27.0  # 09:02-09:05 and 09:36-10:00
    # Arriving right after an evacuation that started at the bell is on time: 09:00-09:30
    # does not count, 09:32 is 2 effective minutes in.
    early = p1([ev(at(9, 32), "s1", "room-a", "enter")], [(at(9), at(9, 30))])
    assert early.status == P
    # A lesson wholly inside an evacuation.
    assert p1([], [(at(8, 50), at(10, 10))]).status == E


def test_attendance_table_order_and_window() -> None:
    members = {"7A": ["s2", "s1"], "8B": ["b1"]}
    events = [ev(at(9), "s1", "room-a", "inside"), ev(at(9), "b1", "room-b", "inside")]
    rows = attendance(timetable(), members, events, at(9, 30), at(10, 30))
    assert [(r.period, r.group, r.tag, r.status) for r in rows] == [
        ("P1", "7A", "s1", P),
        ("P1", "7A", "s2", A),
        ("P1", "8B", "b1", P),
        ("P2", "7A", "s1", A),
        ("P2", "7A", "s2", A),
    ]
    assert rows == attendance(timetable(), members, list(reversed(events)), at(9, 30), at(10, 30))


@settings(max_examples=150)
@given(
    moves=st.lists(
        st.tuples(st.integers(0, 90), st.sampled_from(["enter", "exit", "stale"])), max_size=12
    ),
    evac=st.one_of(st.none(), st.tuples(st.integers(0, 80), st.integers(1, 40))),
)
def test_attendance_invariants(moves: list[tuple[int, str]], evac: tuple[int, int] | None) -> None:
    events = [
        ev(at(8, 45) + 60 * m, "s1", "" if k == "stale" else "room-a", k) for m, k in sorted(moves)
    ]
    windows = (
        [] if evac is None else [(at(8, 45) + 60 * evac[0], at(8, 45) + 60 * (evac[0] + evac[1]))]
    )
    rec = p1(events, windows)
    lesson_min = 60.0 - rec.evacuated_minutes
    assert 0.0 <= rec.minutes_in_room <= lesson_min + 1e-9
    if rec.status in (P, L):
        assert rec.minutes_in_room >= 5.0 and rec.first_arrival is not None
    if rec.status == E:
        assert lesson_min == 0.0
    if rec.left_early:
        assert rec.status in (P, L) and rec.last_exit is not None


def test_silence_starts_at_the_last_fix_and_outside_ends_every_stay() -> None:
    stale = ZoneEvent(at(9, 30, 30), "s1", "", "L0", EventKind.STALE, evidence=evidence(30.0))
    rec = p1([ev(at(9), "s1", "room-a", "inside"), stale])
    assert (rec.minutes_in_room, rec.badge_silent_at) == (30.0, at(9, 30))
    out = p1([ev(at(9), "s1", "room-a", "inside"), ev(at(9, 20), "s1", "", "outside")])
    assert (out.minutes_in_room, out.left_early) == (20.0, True)
    # A zone removed under a silent badge closes the stay but is not a sign of life.
    removed = ZoneEvent(at(9, 40), "s1", "room-a", "L0", EventKind.EXIT, evidence=evidence(600.0))
    gone = p1([ev(at(9), "s1", "room-a", "inside"), ev(at(9, 10), "s1", "", "stale"), removed])
    assert gone.minutes_in_room == 10.0
    assert tracks_from_events([ev(at(9, 10), "s1", "", "stale"), removed])["s1"].silences == (
        (at(9, 10), math.inf),
    )
