"""Every Engine command returns an EngineOutput, and every state change is a ChangeRecord."""

from __future__ import annotations

from dataclasses import replace

from shapely.geometry import box

from engine.engine import Engine, EngineOutput
from engine.events import AlertState, Severity
from engine.records import ChangeKind
from engine.rules import Rule, RulesConfig, RuleSet, RuleType
from geometry.model import Zone, ZoneKind
from tests.engine.test_engine import TAGS, plan, positions


def engine_with(*rules: Rule) -> Engine:
    base = plan()
    extra = (
        Zone("campus", "Campus", "L0", ZoneKind.SAFE_AREA, box(0, 0, 60, 20)),
        Zone("muster", "Muster point", "L0", ZoneKind.MUSTER_POINT, box(0, 0, 4, 4)),
    )
    fp = replace(base, zones=base.zones + extra)
    return Engine(fp, rules=RuleSet(RulesConfig(rules=rules), fp))


def kinds(out: EngineOutput) -> list[tuple[str, str, str, str]]:
    return [(r.kind.value, r.actor, r.subject, r.reason) for r in out.records]


def boiler_rule(severity: Severity = Severity.CRITICAL) -> Rule:
    return Rule("boiler-room", RuleType.RESTRICTED_ZONE, severity, zones=frozenset({"boiler"}))


def test_acknowledge_and_resolve_return_the_alert_and_a_record() -> None:
    eng = engine_with(boiler_rule())
    raised = eng.process_positions(positions(), TAGS).alerts
    assert [(a.tag, a.state) for a in raised] == [("a", AlertState.RAISED)]
    ack = eng.acknowledge(raised[0].id, "Ms Day", 200.0, note="on my way")
    assert [a.state for a in ack.alerts] == [AlertState.ACKNOWLEDGED]
    assert kinds(ack) == [("alert_acknowledged", "Ms Day", raised[0].id, "on my way")]
    done = eng.resolve(raised[0].id, "Ms Day", 260.0, reason="sent back to class")
    assert [a.state for a in done.alerts] == [AlertState.RESOLVED]
    assert kinds(done) == [("alert_resolved", "Ms Day", raised[0].id, "sent back to class")]
    assert done.records[0].t == 260.0


def test_an_alert_the_system_resolves_is_recorded_as_the_systems_change() -> None:
    hall = Rule("no-hall", RuleType.RESTRICTED_ZONE, Severity.WARNING, zones=frozenset({"hall"}))
    eng = engine_with(hall)
    out = eng.process_positions(positions(), TAGS)
    resolved = [a for a in out.alerts if a.state is AlertState.RESOLVED]
    assert resolved, "walk c leaves the hall: its warning resolves by itself"
    system = [r for r in out.records if r.kind is ChangeKind.ALERT_RESOLVED]
    assert {r.subject for r in system} == {a.id for a in resolved}
    assert {r.actor for r in system} == {"system"}


def test_zone_edits_are_records_with_actor_and_reason() -> None:
    eng = engine_with(boiler_rule())
    eng.process_positions(positions(20.0), TAGS)
    fence = Zone("fence", "Incident fence", "L0", ZoneKind.RESTRICTED, box(0, 0, 15, 15))
    added = eng.add_zone(fence, by="Mr Lee", reason="glass on the floor")
    assert kinds(added) == [("zone_added", "Mr Lee", "fence", "glass on the floor")]
    assert added.events, "students inside the new zone are told at once"
    smaller = Zone("fence", "Incident fence", "L0", ZoneKind.RESTRICTED, box(0, 0, 2, 2))
    assert kinds(eng.update_zone(smaller, by="Mr Lee"))[0][:3] == (
        "zone_changed",
        "Mr Lee",
        "fence",
    )
    assert kinds(eng.remove_zone("fence"))[0][:3] == ("zone_removed", "system", "fence")


def test_consent_changes_are_records() -> None:
    eng = engine_with(boiler_rule())
    eng.process_positions(positions(20.0), TAGS)
    out = eng.withdraw_consent("b", by="office", reason="guardian letter")
    assert kinds(out) == [("consent_withdrawn", "office", "b", "guardian letter")]
    assert out.records[0].t == eng.zones.now


def test_evacuation_commands_carry_records_and_the_roll_call() -> None:
    muster = Rule("muster", RuleType.MUSTER_OVERDUE, Severity.CRITICAL, after_s=300.0)
    eng = engine_with(muster)
    eng.process_positions(positions(20.0), TAGS)
    started = eng.start_evacuation(30.0, "drill", by="Head", reason="termly drill")
    assert kinds(started) == [("evacuation_started", "Head", "drill", "termly drill")]
    assert started.rollcall is not None and started.rollcall.mode.value == "drill"
    ended = eng.end_evacuation(90.0, by="Head")
    assert ended.records[0].kind is ChangeKind.EVACUATION_ENDED
    assert ended.rollcall is not None
    counts = dict(ended.records[0].details)
    assert counts["expected"] == ended.rollcall.expected
    assert counts["unaccounted"] + counts["unknown"] + counts["accounted"] <= counts["expected"]
