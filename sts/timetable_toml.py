"""timetable.toml: the school calendar, periods, lessons and attendance policy, validated once.

The format is documented in docs/rules.md. `parse_timetable` takes an already-parsed
TOML document and does no I/O; `load_timetable` reads the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.attendance import AttendancePolicy
from engine.roster import Roster
from engine.schedule import (
    WEEKDAYS,
    DateRange,
    Lesson,
    Period,
    SchoolCalendar,
    Timetable,
    format_clock,
    parse_clock,
)
from geometry.model import Floorplan
from sts.toml_checks import (
    Problems,
    array_of_tables,
    check_group,
    check_keys,
    close_match,
    number,
    read_toml,
    resolve_path,
    str_list,
)


@dataclass(frozen=True, slots=True)
class LoadedTimetable:
    """A validated timetable, its attendance policy and the roster path it names."""

    timetable: Timetable
    policy: AttendancePolicy = field(default_factory=AttendancePolicy)
    roster: str | None = None


def _clock(probs: Problems, key: str, value: Any) -> int | None:
    try:
        return parse_clock(value)
    except ValueError as exc:
        probs.add(key, str(exc), 'write a 24-hour time such as "08:45"')
        return None


def _date_ranges(probs: Problems, key: str, raw: Any) -> list[DateRange]:
    if not isinstance(raw, list):
        probs.add(key, "must be an array of tables", f"write [[calendar.{key.split('.')[-1]}]]")
        return []
    out = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            probs.add(where, "must be a table", "write first = 2026-09-01 and last = 2026-12-18")
            continue
        check_keys(probs, where, item, {"name", "first", "last", "date"})
        first = item.get("date", item.get("first"))
        last = item.get("date", item.get("last", first))
        if not isinstance(first, date) or not isinstance(last, date):
            probs.add(
                where,
                "needs dates (first/last, or date)",
                "write first = 2026-09-01 (a bare TOML date)",
            )
            continue
        if last < first:
            probs.add(f"{where}.last", f"{last} is before {first}", "swap first and last")
            continue
        out.append(DateRange(first, last, str(item.get("name", ""))))
    return out


def parse_timetable(
    data: Mapping[str, Any],
    source: str,
    floorplan: Floorplan,
    groups: frozenset[str] | None = None,
) -> LoadedTimetable:
    """Validate a timetable document (a parsed TOML dict) against the floorplan and groups."""
    probs = Problems(source)
    check_keys(
        probs,
        "(top level)",
        data,
        {"version", "roster", "calendar", "periods", "lessons", "attendance"},
    )
    if data.get("version", 1) != 1:
        probs.add("version", f"unsupported version {data.get('version')!r}", "write version = 1")
    roster = data.get("roster")
    if roster is not None and not isinstance(roster, str):
        probs.add("roster", "must be a path string", 'write roster = "roster.csv"')
        roster = None

    cal_raw = data.get("calendar")
    school_weekdays: set[int] = set(range(7))
    calendar: SchoolCalendar | None = None
    if not isinstance(cal_raw, dict):
        probs.add("calendar", "missing", 'add [calendar] with timezone = "Europe/London"')
    else:
        check_keys(
            probs,
            "calendar",
            cal_raw,
            {"timezone", "weekdays", "day_start", "day_end", "terms", "holidays"},
        )
        tz = cal_raw.get("timezone")
        try:
            if not isinstance(tz, str):
                raise ZoneInfoNotFoundError
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            probs.add(
                "calendar.timezone",
                f"unknown time zone {tz!r}",
                'use an IANA name such as "Europe/London"',
            )
            tz = None
        weekdays: set[int] = set()
        for d in (
            str_list(
                probs,
                "calendar.weekdays",
                cal_raw.get("weekdays", ["mon", "tue", "wed", "thu", "fri"]),
            )
            or []
        ):
            if d.lower()[:3] not in WEEKDAYS:
                probs.add(
                    "calendar.weekdays",
                    f"unknown weekday {d!r}",
                    "use mon, tue, wed, thu, fri, sat, sun",
                )
            else:
                weekdays.add(WEEKDAYS[d.lower()[:3]])
        school_weekdays = weekdays
        start = _clock(probs, "calendar.day_start", cal_raw.get("day_start", "08:00"))
        end = _clock(probs, "calendar.day_end", cal_raw.get("day_end", "16:00"))
        if start is not None and end is not None and end <= start:
            probs.add(
                "calendar.day_end",
                f"the school day ends ({format_clock(end)}) "
                f"before it starts ({format_clock(start)})",
                "make day_end later than day_start",
            )
            start = end = None
        terms = _date_ranges(probs, "calendar.terms", cal_raw.get("terms", []))
        holidays = _date_ranges(probs, "calendar.holidays", cal_raw.get("holidays", []))
        if tz is not None and start is not None and end is not None:
            calendar = SchoolCalendar(
                tz, frozenset(weekdays), start, end, tuple(terms), tuple(holidays)
            )

    periods: list[Period] = []
    raw_periods = data.get("periods", {})
    if not isinstance(raw_periods, dict) or not raw_periods:
        probs.add(
            "periods",
            "missing or empty",
            'add [periods] with P1 = { start = "09:00", end = "10:00" }',
        )
        raw_periods = {}
    for pid, spec in raw_periods.items():
        key = f"periods.{pid}"
        if not isinstance(spec, dict):
            probs.add(key, "must be a table", f'write {pid} = {{ start = "09:00", end = "10:00" }}')
            continue
        check_keys(probs, key, spec, {"start", "end", "name"})
        s = _clock(probs, f"{key}.start", spec.get("start"))
        e = _clock(probs, f"{key}.end", spec.get("end"))
        if s is None or e is None:
            continue
        if e <= s:
            probs.add(
                f"{key}.end",
                f"the period ends ({format_clock(e)}) before it starts ({format_clock(s)})",
                "make end later than start",
            )
            continue
        periods.append(Period(pid, s, e, str(spec.get("name", pid))))
    ordered = sorted(periods, key=lambda p: p.start_min)
    for a, b in pairwise(ordered):
        if b.start_min < a.end_min:
            probs.add(
                f"periods.{b.id}.start",
                f"period {b.id} ({format_clock(b.start_min)}-{format_clock(b.end_min)}) overlaps "
                f"period {a.id} ({format_clock(a.start_min)}-{format_clock(a.end_min)})",
                f"start {b.id} at {format_clock(a.end_min)} or later, or end {a.id} earlier",
            )
    period_ids = {p.id for p in periods} | set(raw_periods)

    zone_ids = {z.id for z in floorplan.zones}
    lessons: list[Lesson] = []
    slots: dict[tuple[str, str, int], int] = {}  # (group, period, weekday) -> lesson index
    rooms: dict[tuple[str, str, int], tuple[int, str]] = {}  # (room, period, weekday) -> lesson
    for i, where, item in array_of_tables(probs, data, "lessons", "lesson"):
        check_keys(probs, where, item, {"group", "period", "room", "days", "subject"})
        group, period, room = item.get("group"), item.get("period"), item.get("room")
        good = True
        if not isinstance(group, str) or not group:
            probs.add(f"{where}.group", "missing", 'name the class, e.g. group = "Y7A"')
            good = False
        else:
            before = len(probs.lines)
            check_group(probs, f"{where}.group", group, groups)
            good = good and len(probs.lines) == before
        if not isinstance(period, str) or period not in period_ids:
            probs.add(
                f"{where}.period",
                f"unknown period {period!r}",
                f"use one of the [periods]: {', '.join(sorted(period_ids)) or 'none defined'}",
            )
            good = False
        if not isinstance(room, str) or room not in zone_ids:
            probs.add(
                f"{where}.room",
                f"unknown zone {room!r}{close_match(str(room), zone_ids)}",
                "use a zone id from the floorplan",
            )
            good = False
        days: set[int] = set()
        for d in str_list(probs, f"{where}.days", item.get("days", [])) or []:
            if d.lower()[:3] not in WEEKDAYS:
                probs.add(
                    f"{where}.days",
                    f"unknown weekday {d!r}",
                    "use mon, tue, wed, thu, fri, sat, sun",
                )
                good = False
            elif WEEKDAYS[d.lower()[:3]] not in school_weekdays:
                probs.add(
                    f"{where}.days",
                    f"{d!r} is not a school day in calendar.weekdays",
                    "remove it, or add it to calendar.weekdays",
                )
                good = False
            else:
                days.add(WEEKDAYS[d.lower()[:3]])
        if not good:
            continue
        assert isinstance(group, str) and isinstance(period, str) and isinstance(room, str)
        for wd in sorted(days) or list(range(7)):
            other = slots.get((group, period, wd))
            if other is not None:
                probs.add(
                    where,
                    f"group {group} already has lessons[{other}] in period {period} on that day",
                    "give the lessons distinct days, or remove one",
                )
                break
        for wd in sorted(days) or list(range(7)):
            booked = rooms.get((room, period, wd))
            if booked is not None and booked[1] != group:
                probs.add(
                    f"{where}.room",
                    f"{room} is already booked by group {booked[1]} (lessons[{booked[0]}]) "
                    f"in period {period} on that day",
                    "move one of the lessons to another room or period",
                )
                break
        for wd in sorted(days) or list(range(7)):
            slots.setdefault((group, period, wd), i)
            rooms.setdefault((room, period, wd), (i, group))
        if period in {p.id for p in periods}:
            lessons.append(
                Lesson(group, period, room, frozenset(days), str(item.get("subject", "")))
            )

    policy = AttendancePolicy()
    raw_att = data.get("attendance", {})
    if isinstance(raw_att, dict):
        check_keys(
            probs, "attendance", raw_att, {"late_after_min", "min_present_min", "early_leave_min"}
        )
        values = {}
        for k, field_name in (
            ("late_after_min", "late_after_s"),
            ("min_present_min", "min_present_s"),
            ("early_leave_min", "early_leave_s"),
        ):
            if k in raw_att:
                v = number(probs, f"attendance.{k}", raw_att[k])
                if v is not None:
                    values[field_name] = v * 60.0
        policy = AttendancePolicy(**values)
    else:
        probs.add("attendance", "must be a table", "write [attendance] with late_after_min = 5")

    probs.raise_if_any("timetable")
    assert calendar is not None
    return LoadedTimetable(Timetable(calendar, tuple(periods), tuple(lessons)), policy, roster)


def load_timetable(
    path: str | Path, floorplan: Floorplan, roster: Roster | None = None
) -> LoadedTimetable:
    """Read and validate a timetable file; a named roster path is resolved beside it."""
    data = read_toml(path)
    loaded = parse_timetable(data, str(path), floorplan, roster.groups if roster else None)
    return LoadedTimetable(loaded.timetable, loaded.policy, resolve_path(Path(path), loaded.roster))
