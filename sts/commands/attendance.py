"""`sts attendance`: zone events (events.jsonl) + timetable in, attendance table (CSV) out."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from datetime import datetime
from pathlib import Path

from engine.attendance import AttendanceRecord, attendance
from engine.events import EventKind, ZoneEvent
from engine.schedule import SchoolCalendar
from geometry.errors import InputError
from sts.output_files import write_replacing
from sts.rules_toml import Roster, load_timetable, read_roster
from transports.json_codec import decode_event

#: The attendance CSV columns, documented in docs/rules.md.
COLUMNS = (
    "date",
    "period",
    "group",
    "room",
    "student_id",
    "tag",
    "status",
    "first_arrival",
    "minutes_in_room",
    "left_early",
    "last_exit",
    "badge_silent_at",
    "evacuated_minutes",
)


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
    p.add_argument("--from", dest="t_from", help="first moment to report (ISO, local)")
    p.add_argument("--to", dest="t_to", help="last moment to report (ISO, local)")
    p.set_defaults(run=run)


def read_events(path: Path) -> list[ZoneEvent]:
    """Zone events from JSON lines (docs/events.md); bad lines are errors naming the line."""
    events = []
    problems = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                events.append(_event(line))
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"line {lineno}: {exc}")
                if len(problems) >= 20:
                    problems.append("(stopped after 20 problems)")
                    break
    if problems:
        head = (
            f"{path}: {len(problems)} bad line(s); each must be a JSON event as in docs/events.md"
        )
        raise InputError("\n  ".join([head, *problems]))
    return events


def _event(line: str) -> ZoneEvent:
    """One events.jsonl line, decoded by the JSON codec, with messages a person can act on."""
    try:
        return decode_event(line)
    except KeyError as exc:
        raise KeyError(f"missing {exc.args[0]!r}") from None
    except ValueError as exc:
        obj = json.loads(line) if line.lstrip().startswith("{") else None
        if isinstance(obj, dict) and obj.get("kind") not in {k.value for k in EventKind}:
            kinds = ", ".join(k.value for k in EventKind)
            raise ValueError(f"unknown kind {obj.get('kind')!r}; use one of {kinds}") from None
        raise ValueError(str(exc)) from None


def parse_local_time(cal: SchoolCalendar, text: str, what: str) -> float:
    """Epoch seconds of an ISO date-time; without an offset it is school-local time."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{what}: {text!r} is not an ISO date-time; write e.g. 2026-09-07T09:05"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=cal.tz)
    return dt.timestamp()


def _clock(cal: SchoolCalendar, t: float | None) -> str:
    if t is None or not math.isfinite(t):
        return ""
    return cal.local(t).strftime("%H:%M:%S")


def format_table(records: list[AttendanceRecord], roster: Roster, cal: SchoolCalendar) -> str:
    """The attendance CSV text (times are school-local HH:MM:SS)."""
    ids = {e.tag: e.student_id for e in roster.entries}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in records:
        w.writerow(
            [
                r.day.isoformat(),
                r.period,
                r.group,
                r.room,
                ids.get(r.tag, ""),
                r.tag,
                r.status.value,
                _clock(cal, r.first_arrival),
                f"{r.minutes_in_room:.2f}",
                "yes" if r.left_early else "no",
                _clock(cal, r.last_exit),
                _clock(cal, r.badge_silent_at),
                f"{r.evacuated_minutes:.2f}",
            ]
        )
    return buf.getvalue()


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
    events = read_events(args.events)
    evacuations = []
    for spec in args.evacuation:
        a, sep, b = spec.partition("/")
        t0, t1 = parse_local_time(cal, a, "--evacuation"), parse_local_time(cal, b, "--evacuation")
        if not sep or t1 <= t0:
            raise InputError(f"--evacuation {spec!r}: write START/END with END after START")
        evacuations.append((t0, t1))
    if args.t_from:
        t_from = parse_local_time(cal, args.t_from, "--from")
    elif events:
        t_from = min(e.t for e in events)
    else:
        raise InputError(f"{args.events}: no events; give --from and --to to report a window")
    if args.t_to:
        t_to = parse_local_time(cal, args.t_to, "--to")
    else:
        t_to = max((e.t for e in events), default=t_from)
    records = attendance(
        loaded.timetable, roster.members(), events, t_from, t_to, loaded.policy, evacuations
    )
    inputs = (args.floorplan, args.timetable, args.events, args.roster)
    write_replacing(args.out, format_table(records, roster, cal), inputs=inputs)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no lessons"
    print(f"attendance: {len(records)} row(s) ({summary}) -> {args.out}")
    return 0
