"""`sts rollcall`: replay zone events, start an evacuation, print the roll call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.alerts import alert_record
from engine.rollcall import RollCallReport, RollMode, report_record
from engine.rules import RuleSet
from geometry.errors import InputError
from sts.events_jsonl import read_events
from sts.local_time import parse_local_time
from sts.roster_csv import read_roster
from sts.rules_toml import load_rules
from sts.timetable_toml import load_timetable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rollcall` sub-command."""
    p = subparsers.add_parser(
        "rollcall",
        help="roll call of an evacuation (live, drill or test) from recorded zone events",
        description=(
            "Replay events.jsonl (from `sts track`) through the rules, start an evacuation "
            "at --start and report, at --at, who is accounted for at which muster point and "
            "who is not (with last known zone, time and uncertainty). A badge that is stale "
            "or lost counts as unknown, and the roll call is never complete while anyone "
            "is unknown. See docs/rules.md."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--rules", required=True, type=Path, help="rules.toml (names the timetable)")
    p.add_argument("--roster", required=True, type=Path, help="roster.csv")
    p.add_argument("--events", required=True, type=Path, help="events.jsonl from `sts track`")
    p.add_argument("--start", required=True, help="evacuation start, school-local ISO time")
    p.add_argument("--at", dest="at_", help="report time (default: the last event)")
    p.add_argument("--mode", choices=[m.value for m in RollMode], default=RollMode.DRILL.value)
    p.add_argument(
        "--mark-safe",
        action="append",
        default=[],
        metavar="TAG:BY:REASON",
        help="staff vouch for a student at the report time (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.set_defaults(run=run)


def format_report(report: RollCallReport) -> str:
    """The roll call as text: counts, per muster point, and the missing list."""
    if report.no_data:
        verdict = "NO DATA: nobody was on campus in the events when the evacuation started"
    else:
        verdict = "ALL ACCOUNTED" if report.all_accounted else "NOT ALL ACCOUNTED"
    lines = [
        f"roll call ({report.mode.value}): {verdict}",
        f"  expected {report.expected}, accounted {report.accounted}, "
        f"marked safe {report.marked_safe}, unaccounted {report.unaccounted}, "
        f"unknown {report.unknown}",
    ]
    for zone, n in report.per_muster_point.items():
        lines.append(f"  at {zone}: {n}")
    for e in report.missing:
        seen = "never" if e.last_seen is None else f"{report.t - e.last_seen:.0f} s ago"
        unc = "" if e.uncertainty_m is None else f" +/- {e.uncertainty_m:.1f} m"
        lines.append(f"  {e.status.value:<11} {e.tag}: last in {e.last_zone or '?'} ({seen}{unc})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Replay, evacuate, report. Exit 0 when all accounted, 1 when not."""
    from sts.floorplan_io import load_floorplan

    floorplan = load_floorplan(args.floorplan).floorplan
    roster = read_roster(args.roster)
    loaded = load_rules(args.rules, floorplan, roster)
    if loaded.timetable is None:
        raise InputError(f'{args.rules}: names no timetable; add timetable = "timetable.toml"')
    timetable = load_timetable(loaded.timetable, floorplan, roster).timetable
    rules = RuleSet(loaded.config, floorplan, timetable=timetable, tag_groups=roster.tag_groups())
    consented = set(roster.tag_groups())
    read = read_events(args.events)
    if not read:
        raise InputError(
            f"{args.events}: holds no events, and a roll call from no data proves nothing. "
            "Fix: give the events.jsonl that `sts track` wrote for that day"
        )
    events = sorted((e for e in read if e.tag in consented), key=lambda e: e.t)
    if len(events) < len(read):
        print(
            f"sts rollcall: {len(read) - len(events)} events of tags without consent or not on "
            "the roster were left out",
            file=sys.stderr,
        )
    cal = timetable.calendar
    start = parse_local_time(cal, args.start, "--start")
    end = (
        parse_local_time(cal, args.at_, "--at")
        if args.at_
        else max((e.t for e in events), default=start)
    )
    if end < start:
        raise InputError("--at is before --start; the report must come after the evacuation starts")
    before = [e for e in events if e.t <= start]
    after = [e for e in events if start < e.t <= end]
    alerts = rules.on_events(before, None, start)
    rules.start_evacuation(start, args.mode)
    alerts += rules.on_events(after, None, end)
    for spec in args.mark_safe:
        tag, by, reason = [*spec.split(":", 2), "", ""][:3]
        if not reason:
            raise InputError(f"--mark-safe {spec!r}: write TAG:BY:REASON")
        alerts += rules.mark_safe(tag, by, reason, end)
    assert rules.rollcall is not None
    report = rules.rollcall.report(end)
    if args.json:
        doc = {
            "report": report_record(report),
            "muster_alerts": [
                alert_record(a) for a in alerts if a.details.get("type") == "muster_overdue"
            ],
        }
        print(json.dumps(doc, sort_keys=True))
    else:
        print(format_report(report))
    return 0 if report.all_accounted else 1
