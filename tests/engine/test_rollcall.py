"""Roll call: live counts per muster point, unknown badges, marking safe by hand."""

from __future__ import annotations

import pytest

from engine.rollcall import RollCall, RollCallError, RollMode, RollStatus, Sighting
from tests.engine.small_world import at, ev

MUSTER = ("muster-1", "muster-2")


def rollcall(*sightings: Sighting) -> RollCall:
    return RollCall(RollMode.LIVE, at(10), MUSTER, ("campus",), sightings)


def on_campus(tag: str, zone: str = "room-a", silent: bool = False) -> Sighting:
    return Sighting(
        tag,
        frozenset({"campus", zone}),
        last_zone=zone,
        last_seen=at(9, 59),
        uncertainty_m=2.0,
        silent=silent,
    )


def test_live_counts_per_muster_point_and_missing_list() -> None:
    rc = rollcall(on_campus("s1"), on_campus("s2"), on_campus("s3", "wc"))
    rc.observe([ev(at(10, 1), "s1", "muster-1", "enter"), ev(at(10, 2), "s2", "muster-2", "enter")])
    r = rc.report(at(10, 3))
    assert (r.expected, r.accounted, r.unaccounted, r.unknown) == (3, 2, 1, 0)
    assert dict(r.per_muster_point) == {"muster-1": 1, "muster-2": 1}
    assert not r.all_accounted
    [missing] = r.missing
    assert (missing.tag, missing.last_zone, missing.last_seen, missing.uncertainty_m) == (
        "s3",
        "wc",
        at(9, 59),
        2.0,
    )


def test_leaving_a_muster_point_makes_a_student_unaccounted_again() -> None:
    rc = rollcall(on_campus("s1"))
    rc.observe([ev(at(10, 1), "s1", "muster-1", "enter")])
    assert rc.status("s1") == RollStatus.ACCOUNTED
    rc.observe([ev(at(10, 4), "s1", "muster-1", "exit"), ev(at(10, 4), "s1", "hall", "enter")])
    e = rc.entry("s1")
    assert (e.status, e.last_zone, e.last_seen) == (RollStatus.UNACCOUNTED, "hall", at(10, 4))


def test_stale_badge_is_unknown_and_never_all_accounted() -> None:
    rc = rollcall(on_campus("s1"), on_campus("s2"))
    rc.observe([ev(at(10, 1), "s1", "muster-1", "enter"), ev(at(10, 1), "s2", "muster-1", "enter")])
    assert rc.report(at(10, 2)).all_accounted
    # A badge going silent AT the muster point still makes the student unknown.
    rc.observe([ev(at(10, 3), "s2", "", "stale")])
    r = rc.report(at(10, 3))
    assert (r.accounted, r.unknown, r.all_accounted) == (1, 1, False)
    assert [(m.tag, m.status) for m in r.missing] == [("s2", RollStatus.UNKNOWN)]
    # Heard again at the muster point: accounted.
    rc.observe([ev(at(10, 4), "s2", "muster-1", "inside")])
    assert rc.report(at(10, 4)).all_accounted


def test_silent_when_evacuation_starts_is_unknown_and_unknown_listed_first() -> None:
    rc = rollcall(on_campus("a", "hall"), on_campus("z", "wc", silent=True))
    r = rc.report(at(10))
    assert [(m.tag, m.status) for m in r.missing] == [
        ("z", RollStatus.UNKNOWN),
        ("a", RollStatus.UNACCOUNTED),
    ]
    assert (r.unaccounted, r.unknown) == (1, 1)


def test_mark_safe_by_hand_overrides_unknown() -> None:
    rc = rollcall(on_campus("s1", silent=True))
    with pytest.raises(RollCallError, match="reason"):
        rc.mark_safe("s1", "Mr Lee", "  ", at(10, 1))
    rc.mark_safe("s1", "Mr Lee", "seen at the gate with a parent", at(10, 1))
    r = rc.report(at(10, 2))
    assert (r.marked_safe, r.unknown, r.all_accounted) == (1, 0, True)
    e = rc.entry("s1")
    assert (e.status, e.marked_by, e.reason) == (
        RollStatus.MARKED_SAFE,
        "Mr Lee",
        "seen at the gate with a parent",
    )


def test_student_arriving_on_campus_during_evacuation_is_expected() -> None:
    rc = rollcall()
    rc.observe([ev(at(10, 1), "late", "parking", "enter")])  # off campus: not expected
    assert rc.report(at(10, 1)).expected == 0
    rc.observe([ev(at(10, 2), "late", "campus", "enter")])
    r = rc.report(at(10, 2))
    assert (r.expected, r.unaccounted) == (1, 1)
    with pytest.raises(RollCallError, match="not on this roll call"):
        rc.status("nobody")


def test_roll_call_needs_a_muster_point() -> None:
    with pytest.raises(RollCallError, match="muster_point"):
        RollCall(RollMode.DRILL, 0.0, (), ("campus",))


def test_outside_report_and_removed_zone_exit() -> None:
    from engine.events import EventKind, ZoneEvent
    from tests.engine.small_world import evidence

    rc = rollcall(on_campus("s1"), on_campus("s2"))
    rc.observe([ev(at(10, 1), "s1", "muster-1", "enter"), ev(at(10, 1), "s2", "muster-1", "enter")])
    rc.observe([ev(at(10, 2), "s1", "", "outside")])
    assert rc.status("s1") == RollStatus.UNACCOUNTED
    rc.observe([ev(at(10, 3), "s2", "", "stale")])
    removed = ZoneEvent(at(10, 4), "s2", "muster-1", "L0", EventKind.EXIT, evidence=evidence(90.0))
    rc.observe([removed])
    assert rc.status("s2") == RollStatus.UNKNOWN  # still silent: the exit is no sign of life
    rc.forget("s2")
    assert rc.report(at(10, 5)).expected == 1


def test_report_record_is_json_ready() -> None:
    import json

    from engine.rollcall import report_record

    rc = rollcall(on_campus("s1"), on_campus("s2", silent=True))
    rc.observe([ev(at(10, 1), "s1", "muster-2", "enter")])
    rec = report_record(rc.report(at(10, 2)))
    assert json.loads(json.dumps(rec)) == rec
    assert (rec["all_accounted"], rec["accounted"], rec["unknown"]) == (False, 1, 1)
    assert rec["per_muster_point"] == {"muster-1": 0, "muster-2": 1}
    assert rec["missing"] == [
        {
            "tag": "s2",
            "status": "unknown",
            "last_zone": "room-a",
            "last_seen": at(9, 59),
            "uncertainty_m": 2.0,
        }
    ]
