"""attendance.csv out: one row per student per lesson with its evidence (docs/rules.md)."""

from __future__ import annotations

import csv
import io
import math

from engine.attendance import AttendanceRecord
from engine.roster import Roster
from engine.schedule import SchoolCalendar

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
