"""The server's side of the dashboard without a browser: provisional attendance marks and
the evacuation commands' checks."""

from __future__ import annotations

from datetime import date

import pytest

from engine.attendance import AttendancePolicy, AttendanceRecord, AttendanceStatus
from store.tokens import TokenInfo
from sts.server.attendance_now import provisional
from sts.server.evacuation_commands import EvacuationCommand
from transports.feed_protocol import ProtocolError

START = 1_000_000.0
POLICY = AttendancePolicy(late_after_s=300.0, min_present_s=600.0)


def record(first: float | None = None, silent: float | None = None) -> AttendanceRecord:
    return AttendanceRecord(
        day=date(2026, 11, 30), period="P1", group="Y7A", room="L0-classroom-1",
        tag="badge-0001", status=AttendanceStatus.ABSENT, start=START, end=START + 3600,
        first_arrival=first, minutes_in_room=0.0, left_early=False, last_exit=None,
        badge_silent_at=silent, evacuated_minutes=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("first", "silent", "now", "mark"),
    [
        (START - 60, None, START + 120, "present"),  # in before the bell, 2 min in
        (START + 400, None, START + 500, "late"),  # arrived after the late threshold
        (None, None, START + 120, "not arrived yet"),  # could still be on time
        (None, None, START + 900, "missing so far"),  # not an `absent` verdict yet
        (None, START + 60, START + 900, "unknown"),  # silent before they could arrive
    ],
)
def test_a_running_lesson_gets_provisional_marks(
    first: float | None, silent: float | None, now: float, mark: str
) -> None:
    assert provisional(record(first, silent), False, now, POLICY) == mark


def token(role: str, groups: tuple[str, ...] = ()) -> TokenInfo:
    return TokenInfo("t1", "Tess", role, groups, (), 0.0, None, None)


def test_evacuation_commands_are_checked_before_they_reach_the_engine() -> None:
    start = EvacuationCommand.parse({"type": "evacuate", "mode": "drill", "id": "r1"})
    assert (start.action, start.mode, start.ref) == ("evacuate", "drill", "r1")
    start.check_role(token("safety"), {})
    with pytest.raises(ProtocolError, match="may not evacuate"):
        start.check_role(token("teacher", ("Y7A",)), {})
    with pytest.raises(ProtocolError, match="live, drill or test"):
        EvacuationCommand.parse({"type": "evacuate", "mode": "panic"})
    with pytest.raises(ProtocolError, match="needs a reason"):
        EvacuationCommand.parse({"type": "mark_safe", "tag": "badge-0001", "note": " "})
    safe = EvacuationCommand.parse({"type": "mark_safe", "tag": "badge-0001", "note": "at gate"})
    safe.check_role(token("teacher", ("Y7A",)), {"badge-0001": "Y7A"})
    with pytest.raises(ProtocolError, match="not in one of your groups"):
        safe.check_role(token("teacher", ("Y7B",)), {"badge-0001": "Y7A"})
    with pytest.raises(ProtocolError, match="may not mark_safe"):
        safe.check_role(token("auditor"), {"badge-0001": "Y7A"})
