"""Northfield's rules, timetable and roster validate against its floorplan, and behave."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.attendance import AttendanceStatus, attendance
from engine.batches import PositionBatch
from engine.events import AlertState, EventKind, Evidence, Severity, ZoneEvent
from engine.roster import Roster
from engine.rules import RuleSet
from geometry.model import Floorplan, ZoneKind
from sts.roster_csv import read_roster
from sts.rules_toml import load_rules
from sts.timetable_toml import load_timetable

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"
LONDON = ZoneInfo("Europe/London")
TEACHING = {ZoneKind.CLASSROOM, ZoneKind.LAB, ZoneKind.GYM, ZoneKind.LIBRARY}


def at(h: int, m: int = 0, s: int = 0) -> float:
    """A Monday in the autumn term, London time."""
    return datetime(2026, 9, 7, h, m, s, tzinfo=LONDON).timestamp()


@pytest.fixture(scope="module")
def floorplan() -> Floorplan:
    from sts.floorplan_io import load_floorplan

    return load_floorplan(NORTHFIELD).floorplan


@pytest.fixture(scope="module")
def roster() -> Roster:
    return read_roster(NORTHFIELD / "roster.csv")


@pytest.fixture()
def ruleset(floorplan: Floorplan, roster: Roster) -> RuleSet:
    loaded = load_rules(NORTHFIELD / "rules.toml", floorplan, roster)
    assert loaded.timetable is not None
    timetable = load_timetable(loaded.timetable, floorplan, roster).timetable
    return RuleSet(loaded.config, floorplan, timetable=timetable, tag_groups=roster.tag_groups())


def test_roster_has_groups_staff_and_badges_without_consent(roster: Roster) -> None:
    assert len(roster.entries) >= 30
    assert {"Y7A", "Y7B", "Y8A", "Y9A", "Y10A", "staff"} <= roster.groups
    assert sum(not e.consent for e in roster.entries) >= 2
    assert all(e.tag.startswith("badge-") for e in roster.entries)


def test_rules_and_timetable_validate_against_the_floorplan(
    floorplan: Floorplan, roster: Roster
) -> None:
    loaded = load_rules(NORTHFIELD / "rules.toml", floorplan, roster)
    assert loaded.timetable == str(NORTHFIELD / "timetable.toml")
    tt = load_timetable(loaded.timetable, floorplan, roster)
    assert tt.roster == str(NORTHFIELD / "roster.csv")
    kinds = {z.id: z.kind for z in floorplan.zones}
    # Every lesson is in a teaching room, and every pupil group has a room every period.
    assert all(kinds[lesson.room] in TEACHING for lesson in tt.timetable.lessons)
    for group in roster.groups - {"staff"}:
        for period in tt.timetable.periods:
            assert tt.timetable.lesson_at(group, at(0) + 60 * (period.start_min + 1)) is not None
    # The safety-critical kinds the rules rely on exist in the plan.
    assert {ZoneKind.RESTRICTED, ZoneKind.SAFE_AREA, ZoneKind.MUSTER_POINT} <= set(kinds.values())
    assert len([k for k in kinds.values() if k == ZoneKind.MUSTER_POINT]) >= 2


def ev(t: float, tag: str, zone: str, kind: str) -> ZoneEvent:
    return ZoneEvent(
        t, tag, zone, "L0", EventKind(kind), evidence=Evidence(1.0, 2.0, "L0", 2.0, 0.0)
    )


def test_boiler_room_safe_area_and_staff_on_northfield(ruleset: RuleSet) -> None:
    campus = "L0-safe-area"  # morning break (11:00-11:20): no lesson checks
    out = ruleset.on_events(
        [
            ev(at(11, 1), "badge-0001", campus, "inside"),  # Y7A
            ev(at(11, 1), "badge-0018", campus, "inside"),  # Y8A
            ev(at(11, 2), "badge-0018", "L0-boiler-room", "enter"),
            ev(at(11, 2), "badge-0901", "L0-boiler-room", "enter"),  # staff: no rule names them
            ev(at(11, 3), "badge-0901", "L1-roof-access", "enter"),
            ev(at(11, 4), "badge-0001", campus, "exit"),
        ],
        None,
        at(11, 4),
    )
    assert [(a.rule, a.tag, a.zone, a.severity) for a in out] == [
        ("restricted-areas", "badge-0018", "L0-boiler-room", Severity.CRITICAL),
        ("staff-on-roof", "badge-0901", "L1-roof-access", Severity.WARNING),
    ]
    later = ruleset.on_tick(at(11, 6))
    assert [(a.rule, a.tag, a.t) for a in later] == [
        ("younger-stay-inside", "badge-0001", at(11, 5))
    ]
    assert "badge-0901" not in ruleset._tags  # staff: alert-only, nothing kept
    # The boiler-room alert stays open after the student leaves: only a person closes it.
    ruleset.on_events([ev(at(11, 7), "badge-0018", "L0-boiler-room", "exit")], None, at(11, 7))
    assert ruleset.book.get(out[0].id).state == AlertState.RAISED


def test_northfield_attendance_for_registration_and_period_1(
    floorplan: Floorplan, roster: Roster
) -> None:
    tt = load_timetable(NORTHFIELD / "timetable.toml", floorplan, roster).timetable
    events = [
        ev(at(8, 40), "badge-0001", "L0-classroom-1", "enter"),  # Y7A: REG and P1 in room 1
        ev(at(9, 12), "badge-0002", "L0-classroom-1", "enter"),  # late for P1, missed REG
    ]
    rows = attendance(tt, roster.members(), events, at(8, 45), at(9, 59))
    mine = {(r.period, r.tag): r.status for r in rows if r.group == "Y7A"}
    assert mine[("REG", "badge-0001")] == AttendanceStatus.PRESENT
    assert mine[("P1", "badge-0001")] == AttendanceStatus.PRESENT
    assert mine[("REG", "badge-0002")] == AttendanceStatus.ABSENT
    assert mine[("P1", "badge-0002")] == AttendanceStatus.LATE
    assert ("P1", "badge-0007") not in mine  # no consent: no row
    assert {r.group for r in rows} == {"Y7A", "Y7B", "Y8A", "Y9A", "Y10A"}


def test_engine_raises_the_boiler_room_alert_from_positions(
    floorplan: Floorplan, roster: Roster, ruleset: RuleSet
) -> None:
    from engine.engine import Engine

    engine = Engine(floorplan, roster=roster.entries, rules=ruleset)
    boiler = floorplan.zone("L0-boiler-room").polygon.representative_point()
    level = [lv.id for lv in floorplan.levels].index("L0")
    tags = ["badge-0018", "badge-0020"]  # badge-0020's consent was withdrawn
    alerts = []
    for i in range(12):
        t = at(11, 1, 5 * i)  # morning break: no lesson checks
        batch = PositionBatch.from_arrays(
            [t, t], [0, 1], [level, level], [boiler.x] * 2, [boiler.y] * 2, [1.0, 1.0]
        )
        alerts += engine.process_positions(batch, tags).alerts
    assert [(a.rule, a.tag, a.zone, a.state) for a in alerts] == [
        ("restricted-areas", "badge-0018", "L0-boiler-room", AlertState.RAISED)
    ]
    assert alerts[0].evidence is not None
    assert np.hypot(alerts[0].evidence.x - boiler.x, alerts[0].evidence.y - boiler.y) < 1e-6


def test_a_morning_through_the_engine_gives_attendance_and_alerts(
    floorplan: Floorplan, roster: Roster, ruleset: RuleSet
) -> None:
    """Fixes every 10 s from 08:40 to 10:20 for five badges, through the real state machine."""
    from engine.engine import Engine

    tt = load_timetable(NORTHFIELD / "timetable.toml", floorplan, roster).timetable
    plans = {
        "badge-0001": [(at(8, 40), "L0-classroom-1"), (at(10, 0, 30), "L1-chemistry-lab")],
        "badge-0002": [
            (at(8, 40), "L0-corridor-a"),
            (at(9, 12), "L0-classroom-1"),
            (at(10, 1), "L1-chemistry-lab"),
        ],
        "badge-0003": [
            (at(8, 40), "L0-classroom-1"),
            (at(9, 20), "L0-boiler-room"),
            (at(9, 25), "L0-classroom-1"),
        ],
        "badge-0004": [(at(8, 40), "L0-classroom-1"), (at(9, 30), "L0-wc-boys-a")],
        "badge-0901": [(at(8, 40), "L0-staff-room")],
    }
    tags = sorted(plans)
    levels = [lv.id for lv in floorplan.levels]
    engine = Engine(floorplan, roster=roster.entries, rules=ruleset)
    events, alerts = [], []
    t = at(8, 40)
    while t < at(10, 20):
        rows = []
        for i, tag in enumerate(tags):
            zone = floorplan.zone([z for ts, z in plans[tag] if ts <= t][-1])
            p = zone.polygon.representative_point()
            rows.append((t, i, levels.index(zone.level), p.x, p.y, 1.0))
        out = engine.process_positions(PositionBatch.from_arrays(*zip(*rows, strict=True)), tags)
        events += out.events
        alerts += out.alerts
        t += 10.0
    assert all(e.tag != "badge-0901" for e in events)  # staff: alert-only, no events out
    raised = {(a.rule, a.tag) for a in alerts if a.state == AlertState.RAISED}
    assert ("restricted-areas", "badge-0003") in raised
    assert ("restroom-dwell", "badge-0004") in raised
    assert ("not-in-class", "badge-0002") in raised  # in the corridor at 09:10
    rows_ = attendance(tt, roster.members(), events, at(8, 45), at(10, 19))
    got = {(r.period, r.tag): r for r in rows_ if r.tag in plans}
    assert got[("P1", "badge-0001")].status == AttendanceStatus.PRESENT
    assert got[("P1", "badge-0002")].status == AttendanceStatus.LATE
    assert got[("REG", "badge-0002")].status == AttendanceStatus.ABSENT
    assert got[("P1", "badge-0003")].status == AttendanceStatus.PRESENT
    assert 50 < got[("P1", "badge-0003")].minutes_in_room < 56  # five minutes in the boiler room
    assert got[("P1", "badge-0004")].left_early
    assert got[("P2", "badge-0001")].status == AttendanceStatus.PRESENT
    assert got[("P2", "badge-0003")].status == AttendanceStatus.ABSENT
