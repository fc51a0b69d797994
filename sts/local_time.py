"""School-local times given on the command line, as epoch seconds."""

from __future__ import annotations

from datetime import datetime

from engine.schedule import SchoolCalendar
from geometry.errors import InputError


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
