"""Calendars, bell periods and timetables read in the school's own time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.schedule import (
    DateRange,
    Lesson,
    Period,
    SchoolCalendar,
    Timetable,
    format_clock,
    parse_clock,
)

LONDON = ZoneInfo("Europe/London")


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    """Epoch seconds of a London wall time."""
    return datetime(y, mo, d, h, mi, tzinfo=LONDON).timestamp()


def calendar() -> SchoolCalendar:
    return SchoolCalendar(
        timezone="Europe/London",
        day_start_min=8 * 60 + 30,
        day_end_min=15 * 60 + 30,
        terms=(DateRange(date(2026, 9, 2), date(2026, 12, 18), "autumn"),),
        holidays=(DateRange(date(2026, 10, 26), date(2026, 10, 30), "half term"),),
    )


def timetable() -> Timetable:
    periods = (
        Period("P1", 9 * 60, 10 * 60),
        Period("P2", 10 * 60, 11 * 60),
        Period("P3", 11 * 60 + 15, 12 * 60 + 15),
    )
    lessons = (
        Lesson("7A", "P1", "room-101"),
        Lesson("7A", "P2", "lab-1", days=frozenset({0, 2})),
        Lesson("7A", "P2", "room-102", days=frozenset({1, 3, 4})),
        Lesson("8B", "P1", "room-102"),
    )
    return Timetable(calendar(), periods, lessons)


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("8:05", 485), ("23:59", 1439), ("24:00", 1440)]
)
def test_parse_clock_accepts_times_of_day(text: str, minutes: int) -> None:
    assert parse_clock(text) == minutes
    if minutes < 1440:
        assert parse_clock(format_clock(minutes)) == minutes


@pytest.mark.parametrize("text", ["25:00", "24:01", "12:60", "noon", "9", "", "-1:00"])
def test_parse_clock_rejects_impossible_times(text: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|time of day"):
        parse_clock(text)


def test_school_days_follow_weekdays_terms_and_holidays() -> None:
    cal = calendar()
    assert cal.is_school_day(date(2026, 9, 7))  # a Monday in term
    assert not cal.is_school_day(date(2026, 9, 5))  # Saturday
    assert not cal.is_school_day(date(2026, 8, 31))  # before term
    assert not cal.is_school_day(date(2026, 10, 28))  # half term
    assert cal.is_school_day(date(2026, 11, 2))  # back after half term


def test_school_hours_are_local_time_across_daylight_saving() -> None:
    cal = calendar()
    # 08:45 local on either side of the October clock change (BST -> GMT on 25 Oct 2026).
    assert cal.in_school_hours(at(2026, 10, 23, 8, 45))
    assert cal.in_school_hours(at(2026, 11, 2, 8, 45))
    assert not cal.in_school_hours(at(2026, 11, 2, 8, 15))
    assert not cal.in_school_hours(at(2026, 11, 2, 15, 30))  # end is exclusive
    # The same UTC clock reading is 08:45 in BST and 07:45 in GMT: hours differ.
    utc_0745 = datetime(2026, 11, 2, 7, 45, tzinfo=ZoneInfo("UTC")).timestamp()
    assert not cal.in_school_hours(utc_0745)
    assert cal.epoch(date(2026, 11, 2), 9 * 60) == at(2026, 11, 2, 9)


def test_period_and_lesson_at() -> None:
    tt = timetable()
    wednesday, thursday = (2026, 9, 9), (2026, 9, 10)
    p = tt.period_at(at(*wednesday, 10, 30))
    assert p is not None and p.id == "P2"
    assert tt.period_at(at(*wednesday, 11, 5)) is None  # break
    assert tt.period_at(at(2026, 9, 12, 9, 30)) is None  # Saturday
    wed = tt.lesson_at("7A", at(*wednesday, 10, 30))
    thu = tt.lesson_at("7A", at(*thursday, 10, 30))
    assert wed is not None and wed.lesson.room == "lab-1"
    assert thu is not None and thu.lesson.room == "room-102"
    assert wed.start == at(*wednesday, 10) and wed.end == at(*wednesday, 11)
    assert tt.lesson_at("8B", at(*wednesday, 10, 30)) is None  # 8B has no P2 lesson
    assert tt.lesson_at("9C", at(*wednesday, 9, 30)) is None


def test_occurrences_overlapping_a_window_in_order() -> None:
    tt = timetable()
    occ = tt.occurrences(at(2026, 9, 9, 9, 30), at(2026, 9, 9, 10, 10))
    assert [(o.lesson.group, o.period.id, o.lesson.room) for o in occ] == [
        ("7A", "P1", "room-101"),
        ("8B", "P1", "room-102"),
        ("7A", "P2", "lab-1"),
    ]
    # A holiday week has none.
    assert tt.occurrences(at(2026, 10, 26, 0), at(2026, 10, 30, 23)) == []


def test_overlapping_periods_and_unknown_period_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        Timetable(calendar(), (Period("A", 540, 600), Period("B", 590, 650)))
    with pytest.raises(ValueError, match="unknown period"):
        Timetable(calendar(), (Period("A", 540, 600),), (Lesson("7A", "Z", "r"),))
    with pytest.raises(ValueError, match="before it ends"):
        Period("X", 600, 600)
    with pytest.raises(ValueError, match="before it starts"):
        DateRange(date(2026, 1, 2), date(2026, 1, 1))


@settings(max_examples=200)
@given(
    tz=st.sampled_from(["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    minute=st.integers(6 * 60, 20 * 60),
)
def test_epoch_is_the_local_wall_time_on_every_day(tz: str, day: date, minute: int) -> None:
    # Bells ring at local wall time all year: converting back gives the same date and minute.
    cal = SchoolCalendar(tz)
    lt = cal.local(cal.epoch(day, minute))
    assert lt.date() == day and lt.hour * 60 + lt.minute == minute and lt.second == 0
