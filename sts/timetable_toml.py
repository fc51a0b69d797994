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
    calendar, school_weekdays = _calendar(probs, data)
    periods, period_ids = _periods(probs, data)
    context = _LessonContext(
        period_ids=period_ids,
        usable_period_ids=frozenset(p.id for p in periods),
        zone_ids=frozenset(z.id for z in floorplan.zones),
        groups=groups,
        school_weekdays=school_weekdays,
    )
    lessons = _lessons(probs, data, context)
    policy = _attendance_policy(probs, data)
    probs.raise_if_any("timetable")
    assert calendar is not None
    return LoadedTimetable(Timetable(calendar, tuple(periods), tuple(lessons)), policy, roster)


def _calendar(
    probs: Problems, data: Mapping[str, Any]
) -> tuple[SchoolCalendar | None, frozenset[int]]:
    """The [calendar] (None when it has a problem) and the weekdays lessons may fall on."""
    raw = data.get("calendar")
    if not isinstance(raw, dict):
        probs.add("calendar", "missing", 'add [calendar] with timezone = "Europe/London"')
        # Any weekday, so the lessons are still checked and reported in the same run.
        return None, frozenset(range(7))
    check_keys(
        probs,
        "calendar",
        raw,
        {"timezone", "weekdays", "day_start", "day_end", "terms", "holidays"},
    )
    tz = _time_zone(probs, raw.get("timezone"))
    weekdays = _weekdays(probs, raw.get("weekdays", ["mon", "tue", "wed", "thu", "fri"]))
    day = _school_day(probs, raw)
    terms = _date_ranges(probs, "calendar.terms", raw.get("terms", []))
    holidays = _date_ranges(probs, "calendar.holidays", raw.get("holidays", []))
    if tz is None or day is None:
        return None, weekdays
    start, end = day
    return SchoolCalendar(tz, weekdays, start, end, tuple(terms), tuple(holidays)), weekdays


def _time_zone(probs: Problems, tz: Any) -> str | None:
    """calendar.timezone if it is a known IANA name, else None (a problem)."""
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
        return None
    return tz


def _weekday(probs: Problems, key: str, name: str) -> int | None:
    """The weekday (Monday = 0) of a name such as "mon" or "Monday", or None (a problem)."""
    day = WEEKDAYS.get(name.lower()[:3])
    if day is None:
        probs.add(key, f"unknown weekday {name!r}", "use mon, tue, wed, thu, fri, sat, sun")
    return day


def _weekdays(probs: Problems, raw: Any) -> frozenset[int]:
    """calendar.weekdays: the school days of the week; unknown names are problems."""
    days = str_list(probs, "calendar.weekdays", raw) or []
    found = (_weekday(probs, "calendar.weekdays", d) for d in days)
    return frozenset(day for day in found if day is not None)


def _school_day(probs: Problems, raw: Mapping[str, Any]) -> tuple[int, int] | None:
    """The school day's (start, end) in minutes after midnight, or None (a problem)."""
    start = _clock(probs, "calendar.day_start", raw.get("day_start", "08:00"))
    end = _clock(probs, "calendar.day_end", raw.get("day_end", "16:00"))
    if start is None or end is None:
        return None
    if end <= start:
        probs.add(
            "calendar.day_end",
            f"the school day ends ({format_clock(end)}) before it starts ({format_clock(start)})",
            "make day_end later than day_start",
        )
        return None
    return start, end


def _periods(probs: Problems, data: Mapping[str, Any]) -> tuple[list[Period], frozenset[str]]:
    """The [periods] that are well formed, and the id of every period the file names."""
    raw = data.get("periods", {})
    if not isinstance(raw, dict) or not raw:
        probs.add(
            "periods",
            "missing or empty",
            'add [periods] with P1 = { start = "09:00", end = "10:00" }',
        )
        raw = {}
    found = (_period(probs, pid, spec) for pid, spec in raw.items())
    periods = [p for p in found if p is not None]
    _check_period_overlaps(probs, periods)
    # A lesson in a malformed period is not also an "unknown period": that period is reported.
    return periods, frozenset(raw)


def _period(probs: Problems, pid: str, spec: Any) -> Period | None:
    """One period `pid = { start, end, name }`, or None (a problem)."""
    key = f"periods.{pid}"
    if not isinstance(spec, dict):
        probs.add(key, "must be a table", f'write {pid} = {{ start = "09:00", end = "10:00" }}')
        return None
    check_keys(probs, key, spec, {"start", "end", "name"})
    start = _clock(probs, f"{key}.start", spec.get("start"))
    end = _clock(probs, f"{key}.end", spec.get("end"))
    if start is None or end is None:
        return None
    if end <= start:
        probs.add(
            f"{key}.end",
            f"the period ends ({format_clock(end)}) before it starts ({format_clock(start)})",
            "make end later than start",
        )
        return None
    return Period(pid, start, end, str(spec.get("name", pid)))


def _check_period_overlaps(probs: Problems, periods: list[Period]) -> None:
    """Periods must not overlap: a lesson is looked up by the one period at a time."""
    ordered = sorted(periods, key=lambda p: p.start_min)
    for a, b in pairwise(ordered):
        if b.start_min < a.end_min:
            probs.add(
                f"periods.{b.id}.start",
                f"period {b.id} ({format_clock(b.start_min)}-{format_clock(b.end_min)}) overlaps "
                f"period {a.id} ({format_clock(a.start_min)}-{format_clock(a.end_min)})",
                f"start {b.id} at {format_clock(a.end_min)} or later, or end {a.id} earlier",
            )


@dataclass(frozen=True, slots=True)
class _LessonContext:
    """What a lesson is checked against: the periods, the floorplan, roster and calendar.

    `period_ids` holds every period the file names, `usable_period_ids` the well-formed
    ones; `groups` None means no roster, so group names are taken as given.
    """

    period_ids: frozenset[str]
    usable_period_ids: frozenset[str]
    zone_ids: frozenset[str]
    groups: frozenset[str] | None
    school_weekdays: frozenset[int]


def _lessons(probs: Problems, data: Mapping[str, Any], context: _LessonContext) -> list[Lesson]:
    """The [[lessons]] that are well formed, do not clash, and fall in a usable period."""
    lessons: list[Lesson] = []
    bookings = _Bookings()
    for i, where, item in array_of_tables(probs, data, "lessons", "lesson"):
        lesson = _lesson(probs, where, item, context)
        if lesson is None:
            continue
        bookings.check(probs, where, lesson)
        bookings.book(i, lesson)
        if lesson.period in context.usable_period_ids:
            lessons.append(lesson)
    return lessons


def _lesson(
    probs: Problems, where: str, item: Mapping[str, Any], context: _LessonContext
) -> Lesson | None:
    """One lesson table with a known group, period, room and school days, or None."""
    check_keys(probs, where, item, {"group", "period", "room", "days", "subject"})
    group, period, room = item.get("group"), item.get("period"), item.get("room")
    # Counting the problems of the next three checks says whether group, period and room
    # are usable; check_keys above only reports, an unknown key does not spoil the lesson.
    before = len(probs.lines)
    if not isinstance(group, str) or not group:
        probs.add(f"{where}.group", "missing", 'name the class, e.g. group = "Y7A"')
    else:
        check_group(probs, f"{where}.group", group, context.groups)
    if not isinstance(period, str) or period not in context.period_ids:
        probs.add(
            f"{where}.period",
            f"unknown period {period!r}",
            f"use one of the [periods]: {', '.join(sorted(context.period_ids)) or 'none defined'}",
        )
    if not isinstance(room, str) or room not in context.zone_ids:
        probs.add(
            f"{where}.room",
            f"unknown zone {room!r}{close_match(str(room), context.zone_ids)}",
            "use a zone id from the floorplan",
        )
    named_ok = len(probs.lines) == before
    days = _lesson_days(probs, f"{where}.days", item.get("days", []), context.school_weekdays)
    if not named_ok or days is None:
        return None
    assert isinstance(group, str) and isinstance(period, str) and isinstance(room, str)
    return Lesson(group, period, room, days, str(item.get("subject", "")))


def _lesson_days(
    probs: Problems, key: str, raw: Any, school_weekdays: frozenset[int]
) -> frozenset[int] | None:
    """A lesson's weekdays (empty: every day), each a school day; None when a name is bad.

    `days` that is not a list of strings is reported but leaves the lesson on every day,
    so its clashes are still checked.
    """
    days: set[int] = set()
    good = True
    for name in str_list(probs, key, raw) or []:
        day = _weekday(probs, key, name)
        if day is None:
            good = False
        elif day not in school_weekdays:
            probs.add(
                key,
                f"{name!r} is not a school day in calendar.weekdays",
                "remove it, or add it to calendar.weekdays",
            )
            good = False
        else:
            days.add(day)
    return frozenset(days) if good else None


class _Bookings:
    """Who is booked where: a group has one lesson, a room one group, per period and weekday."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, int], int] = {}  # (group, period, weekday) -> lesson
        self.rooms: dict[tuple[str, str, int], tuple[int, str]] = {}  # (room, ...) -> lesson

    def check(self, probs: Problems, where: str, lesson: Lesson) -> None:
        """Report the first weekday a lesson clashes with one booked before it, per clash kind."""
        for wd in _weekdays_of(lesson):
            other = self.groups.get((lesson.group, lesson.period, wd))
            if other is not None:
                probs.add(
                    where,
                    f"group {lesson.group} already has lessons[{other}] in period "
                    f"{lesson.period} on that day",
                    "give the lessons distinct days, or remove one",
                )
                break
        for wd in _weekdays_of(lesson):
            booked = self.rooms.get((lesson.room, lesson.period, wd))
            # One group in its room twice is the clash above, not a room double-booking.
            if booked is not None and booked[1] != lesson.group:
                probs.add(
                    f"{where}.room",
                    f"{lesson.room} is already booked by group {booked[1]} (lessons[{booked[0]}]) "
                    f"in period {lesson.period} on that day",
                    "move one of the lessons to another room or period",
                )
                break

    def book(self, index: int, lesson: Lesson) -> None:
        """Book lesson number `index`; the first booking of a slot is the one named in clashes."""
        for wd in _weekdays_of(lesson):
            self.groups.setdefault((lesson.group, lesson.period, wd), index)
            self.rooms.setdefault((lesson.room, lesson.period, wd), (index, lesson.group))


def _weekdays_of(lesson: Lesson) -> list[int]:
    """The weekdays (Monday = 0) a lesson runs on, in order."""
    return [wd for wd in range(7) if lesson.on(wd)]


def _attendance_policy(probs: Problems, data: Mapping[str, Any]) -> AttendancePolicy:
    """The [attendance] thresholds in seconds; unset or malformed ones keep their default."""
    raw = data.get("attendance", {})
    if not isinstance(raw, dict):
        probs.add("attendance", "must be a table", "write [attendance] with late_after_min = 5")
        return AttendancePolicy()
    check_keys(probs, "attendance", raw, {"late_after_min", "min_present_min", "early_leave_min"})
    values = {}
    for key, field_name in (
        ("late_after_min", "late_after_s"),
        ("min_present_min", "min_present_s"),
        ("early_leave_min", "early_leave_s"),
    ):
        if key in raw:
            minutes = number(probs, f"attendance.{key}", raw[key])
            if minutes is not None:
                values[field_name] = minutes * 60.0
    return AttendancePolicy(**values)


def load_timetable(
    path: str | Path, floorplan: Floorplan, roster: Roster | None = None
) -> LoadedTimetable:
    """Read and validate a timetable file; a named roster path is resolved beside it."""
    data = read_toml(path)
    loaded = parse_timetable(data, str(path), floorplan, roster.groups if roster else None)
    return LoadedTimetable(loaded.timetable, loaded.policy, resolve_path(Path(path), loaded.roster))
