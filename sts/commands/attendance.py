"""`sts attendance`: zone events (events.jsonl) + timetable in, attendance table (CSV) out.

Only students whose guardians consented to attendance are counted: those with an
active `attendance` consent in the registry of `--data DIR` when it has one, else
those the roster's consent column grants (the registry's first import).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.attendance import attendance
from engine.events import ZoneEvent
from engine.roster import Roster
from geometry.errors import InputError
from geometry.model import Floorplan
from store import consent
from store.db import db_path, open_store
from sts.attendance_csv import format_table
from sts.data_option import add_data_option
from sts.events_jsonl import read_events
from sts.local_time import parse_local_time
from sts.output_files import write_replacing
from sts.roster_csv import read_roster
from sts.timetable_toml import load_timetable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `attendance` sub-command."""
    p = subparsers.add_parser(
        "attendance",
        help="attendance per student per lesson from zone events and the timetable",
        description=(
            "Read the zone events that `sts track` wrote (events.jsonl) and the timetable, "
            "and write one row per student per lesson: present, late, absent, unknown or "
            "evacuated, with the evidence (first arrival, minutes in the room, leaving "
            "early, badge silent). Formats in docs/rules.md."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--timetable", required=True, type=Path, help="timetable.toml")
    p.add_argument("--events", required=True, type=Path, help="events.jsonl from `sts track`")
    p.add_argument("--out", required=True, type=Path, help="attendance.csv to write")
    p.add_argument(
        "--roster",
        type=Path,
        help="roster.csv (default: the `roster` named in the timetable, beside it)",
    )
    p.add_argument(
        "--evacuation",
        action="append",
        default=[],
        metavar="START/END",
        help="an evacuation window in school-local ISO time, e.g. "
        "2026-09-07T09:05/2026-09-07T09:35 (repeatable); its minutes count for nobody",
    )
    add_data_option(p, "data folder whose consent registry says who may be counted")
    p.add_argument("--from", dest="t_from", help="first moment to report (ISO, local)")
    p.add_argument("--to", dest="t_to", help="last moment to report (ISO, local)")
    p.set_defaults(run=run)


def known_events(
    events: list[ZoneEvent], path: Path, roster: Roster, floorplan: Floorplan
) -> list[ZoneEvent]:
    """The events of roster tags in known zones; the rest counted on stderr. None: refused."""
    if not events:
        raise InputError(
            f"{path}: holds no events, and attendance from no data proves nothing. "
            "Fix: give the events.jsonl that `sts track` wrote for that day"
        )
    tags = roster.tags
    zones = {z.id for z in floorplan.zones} | {""}  # "": stale and lost events
    kept = [e for e in events if e.tag in tags and e.zone in zones]
    unknown_tags = sum(e.tag not in tags for e in events)
    unknown_zones = sum(e.tag in tags and e.zone not in zones for e in events)
    if unknown_tags or unknown_zones:
        print(
            f"sts attendance: {path}: left out {unknown_tags} events of tags not on the roster "
            f"and {unknown_zones} events of zones not in the floorplan",
            file=sys.stderr,
        )
    if not kept:
        raise InputError(
            f"{path}: none of its events is of a roster tag in a known zone. "
            "Fix: give the roster and floorplan the events were made with"
        )
    return kept


def counted_members(roster: Roster, data: Path, now: float) -> dict[str, list[str]]:
    """Group -> the tags attendance may count (see the module docstring)."""
    if not db_path(data).is_file():
        return roster.members()
    conn = open_store(data)
    try:
        if consent.is_empty(conn):
            return roster.members()
        counted = consent.active_tags(conn, now, "attendance")
    finally:
        conn.close()
    everyone = roster.members(consented_only=False)
    return {group: [t for t in tags if t in counted] for group, tags in everyone.items()}


def run(args: argparse.Namespace) -> int:
    """Compute attendance and write the CSV."""
    from sts.floorplan_io import load_floorplan

    floorplan = load_floorplan(args.floorplan).floorplan
    first = load_timetable(args.timetable, floorplan)
    roster_path = args.roster or first.roster
    if roster_path is None:
        raise InputError(
            f"{args.timetable}: no roster: pass --roster roster.csv or add "
            'roster = "roster.csv" to the timetable'
        )
    roster = read_roster(roster_path)
    # Validate again now that the groups are known: a lesson for a group nobody is in is
    # a typo, and the error should say so.
    loaded = load_timetable(args.timetable, floorplan, roster)
    cal = loaded.timetable.calendar
    events = known_events(read_events(args.events), args.events, roster, floorplan)
    evacuations = []
    for spec in args.evacuation:
        a, sep, b = spec.partition("/")
        t0, t1 = parse_local_time(cal, a, "--evacuation"), parse_local_time(cal, b, "--evacuation")
        if not sep or t1 <= t0:
            raise InputError(f"--evacuation {spec!r}: write START/END with END after START")
        evacuations.append((t0, t1))
    t_from = (
        parse_local_time(cal, args.t_from, "--from") if args.t_from else min(e.t for e in events)
    )
    if args.t_to:
        t_to = parse_local_time(cal, args.t_to, "--to")
    else:
        t_to = max((e.t for e in events), default=t_from)
    records = attendance(
        loaded.timetable,
        counted_members(roster, args.data, time.time()),
        events,
        t_from,
        t_to,
        loaded.policy,
        evacuations,
    )
    inputs = (args.floorplan, args.timetable, args.events, args.roster)
    write_replacing(args.out, format_table(records, roster, cal), inputs=inputs)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no lessons"
    print(f"attendance: {len(records)} row(s) ({summary}) -> {args.out}")
    return 0
