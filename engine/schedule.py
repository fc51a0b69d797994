"""School time: calendars (time zone, weekdays, terms, holidays), bell periods and timetables.

Pure: time comes in as epoch seconds (UTC) and is read in the school's own time zone
through `zoneinfo`, so a lesson at 09:00 stays at 09:00 local across daylight saving.
Validation with file/key messages happens at the edge (`sts/timetable_toml.py`); the
constructors here only guard the invariants that the code below relies on.

A local wall time that does not exist (the spring-forward gap) or exists twice (the
autumn fold) is read with `fold=0`, i.e. the earlier offset; schools do not ring bells
at 01:30 on a Sunday, so this is documented rather than configurable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

#: Weekday names as written in TOML, Monday = 0 as in `datetime.weekday()`.
WEEKDAYS: dict[str, int] = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_clock(text: str) -> int:
    """Minutes since local midnight of an "HH:MM" string; "24:00" is the end of the day.

    Raises ValueError with a message that says what a valid time looks like.
    """
    m = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f'{text!r} is not a time; write it as HH:MM, e.g. "08:45"')
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes != 0):
        raise ValueError(
            f"{text!r} is not a time of day; use 00:00 to 23:59 (or 24:00 for midnight)"
        )
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    """The "HH:MM" form of minutes since midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class DateRange:
    """Inclusive range of local dates (a term, or a holiday of one or more days)."""

    first: date
    last: date
    name: str = ""

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"date range {self.name!r} ends ({self.last}) before it starts")

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.first <= d <= self.last


@dataclass(frozen=True, slots=True)
class SchoolCalendar:
    """Which local days are school days and when the school day runs."""

    timezone: str
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    day_start_min: int = 8 * 60
    day_end_min: int = 16 * 60
    terms: tuple[DateRange, ...] = ()  # empty: every weekday is in term
    holidays: tuple[DateRange, ...] = ()

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fails early (ZoneInfoNotFoundError) on a bad name
        if not 0 <= self.day_start_min < self.day_end_min <= 24 * 60:
            raise ValueError("the school day must start before it ends, within one day")

    @property
    def tz(self) -> ZoneInfo:
        """The school's time zone."""
        return ZoneInfo(self.timezone)

    def local(self, t: float) -> datetime:
        """The local wall-clock datetime of epoch seconds t."""
        return datetime.fromtimestamp(t, tz=self.tz)

    def epoch(self, d: date, minute: int) -> float:
        """Epoch seconds of local date d at `minute` minutes after midnight."""
        midnight = datetime(d.year, d.month, d.day, tzinfo=self.tz)
        # Add wall minutes in local time, then convert: 09:00 stays 09:00 across DST.
        wall = (midnight.replace(tzinfo=None) + timedelta(minutes=minute)).replace(tzinfo=self.tz)
        return wall.timestamp()

    def is_school_day(self, d: date) -> bool:
        """True when d is a teaching weekday inside a term and not a holiday."""
        if d.weekday() not in self.weekdays:
            return False
        if self.terms and not any(d in term for term in self.terms):
            return False
        return not any(d in hol for hol in self.holidays)

    def in_school_hours(self, t: float) -> bool:
        """True when epoch t falls on a school day between the day's start and end."""
        lt = self.local(t)
        if not self.is_school_day(lt.date()):
            return False
        minute = lt.hour * 60 + lt.minute + lt.second / 60.0
        return self.day_start_min <= minute < self.day_end_min

    def school_days(self, t0: float, t1: float) -> list[date]:
        """The school days whose local date lies between epoch t0 and t1 (inclusive)."""
        d, last = self.local(t0).date(), self.local(t1).date()
        days = []
        while d <= last:
            if self.is_school_day(d):
                days.append(d)
            d += timedelta(days=1)
        return days


@dataclass(frozen=True, slots=True)
class Period:
    """One slot of the bell schedule, in minutes since local midnight."""

    id: str
    start_min: int
    end_min: int
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < self.end_min <= 24 * 60:
            raise ValueError(f"period {self.id!r} must start before it ends, within one day")


@dataclass(frozen=True, slots=True)
class Lesson:
    """Group `group` is taught in zone `room` during period `period` on `days` (empty: all)."""

    group: str
    period: str
    room: str
    days: frozenset[int] = frozenset()
    subject: str = ""

    def on(self, weekday: int) -> bool:
        """True when this lesson runs on that weekday (Monday = 0)."""
        return not self.days or weekday in self.days


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A lesson on one concrete date, with its start and end as epoch seconds."""

    day: date
    period: Period
    lesson: Lesson
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Timetable:
    """A calendar, its bell periods, and the lessons of every group."""

    calendar: SchoolCalendar
    periods: tuple[Period, ...]
    lessons: tuple[Lesson, ...] = ()

    def __post_init__(self) -> None:
        ordered = sorted(self.periods, key=lambda p: p.start_min)
        for a, b in pairwise(ordered):
            if b.start_min < a.end_min:
                raise ValueError(f"periods {a.id!r} and {b.id!r} overlap")
        ids = {p.id for p in self.periods}
        for lesson in self.lessons:
            if lesson.period not in ids:
                raise ValueError(
                    f"lesson of {lesson.group!r} names unknown period {lesson.period!r}"
                )

    @property
    def groups(self) -> frozenset[str]:
        """Every group that has at least one lesson."""
        return frozenset(lesson.group for lesson in self.lessons)

    def period(self, period_id: str) -> Period:
        """The period with this id (KeyError when there is none)."""
        for p in self.periods:
            if p.id == period_id:
                return p
        raise KeyError(period_id)

    def period_at(self, t: float) -> Period | None:
        """The period running at epoch t on a school day, or None (break, evening, holiday)."""
        lt = self.calendar.local(t)
        if not self.calendar.is_school_day(lt.date()):
            return None
        minute = lt.hour * 60 + lt.minute + lt.second / 60.0
        for p in self.periods:
            if p.start_min <= minute < p.end_min:
                return p
        return None

    def lesson_at(self, group: str, t: float) -> Occurrence | None:
        """Where `group` is timetabled at epoch t, as a concrete occurrence, or None."""
        p = self.period_at(t)
        if p is None:
            return None
        day = self.calendar.local(t).date()
        for lesson in self.lessons:
            if lesson.group == group and lesson.period == p.id and lesson.on(day.weekday()):
                return self._occurrence(day, p, lesson)
        return None

    def occurrences(self, t0: float, t1: float) -> list[Occurrence]:
        """Every lesson occurrence that overlaps [t0, t1], ordered by start, group, period."""
        out = []
        for day in self.calendar.school_days(t0, t1):
            for lesson in self.lessons:
                if not lesson.on(day.weekday()):
                    continue
                occ = self._occurrence(day, self.period(lesson.period), lesson)
                if occ.end > t0 and occ.start <= t1:
                    out.append(occ)
        out.sort(key=lambda o: (o.start, o.lesson.group, o.period.id))
        return out

    def _occurrence(self, day: date, p: Period, lesson: Lesson) -> Occurrence:
        cal = self.calendar
        return Occurrence(day, p, lesson, cal.epoch(day, p.start_min), cal.epoch(day, p.end_min))
