"""The consent registry: a guardian's consent per student and scope, with dates and expiry.

One row per (student, scope). Scopes: `safety` (safety alerts may be raised about the
student) and `attendance` (attendance may be counted). The live service processes a
badge while either is active (the engine's consent gate follows `processed_tags`);
alerts about a badge with attendance consent only are not raised, and attendance
counts only badges with attendance consent. Consent is active from `granted_at` until
`expires_at` (if any) or its withdrawal. When no scope is left, withdrawal and expiry
purge what the store holds about the student (`purge_history`); when attendance is
left, its alerts (`purge_withdrawn`). The running server notices within a poll and
drops the badge's next readings. The registry keeps no names: the roster holds those.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from engine.roster import RosterEntry
from geometry.errors import InputError
from store import feed_log, ingest_journal

SCOPES = ("safety", "attendance")
#: The scope the live service's consent gate reads.
GATE_SCOPE = "safety"
MAX_ID_CHARS = 64


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """One student's consent in one scope."""

    student_id: str
    scope: str
    tag: str
    granted_at: float
    expires_at: float | None
    withdrawn_at: float | None
    source: str

    def active_at(self, now: float) -> bool:
        """Granted, started, not withdrawn and not expired at `now` (epoch s)."""
        if self.withdrawn_at is not None or self.granted_at > now:
            return False
        return self.expires_at is None or now < self.expires_at

    def status(self, now: float) -> str:
        """active, pending (starts later), expired or withdrawn."""
        if self.withdrawn_at is not None:
            return "withdrawn"
        if self.granted_at > now:
            return "pending"
        return "active" if self.active_at(now) else "expired"


_COLUMNS = "student_id, scope, tag, granted_at, expires_at, withdrawn_at, source"


def check_id(value: str, what: str) -> str:
    """A student id or tag as given on a command line or in a file: printable, bounded."""
    value = value.strip()
    if not value or len(value) > MAX_ID_CHARS or not value.isprintable():
        raise InputError(f"{what}: must be 1 to {MAX_ID_CHARS} printable characters; check the id")
    return value


def check_scope(scope: str) -> str:
    """One of SCOPES."""
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r}: unknown; use one of {', '.join(SCOPES)}")
    return scope


def _row(row: tuple[object, ...]) -> ConsentRow:
    sid, scope, tag, granted, expires, withdrawn, source = row
    return ConsentRow(
        str(sid),
        str(scope),
        str(tag),
        float(granted),  # type: ignore[arg-type]
        None if expires is None else float(expires),  # type: ignore[arg-type]
        None if withdrawn is None else float(withdrawn),  # type: ignore[arg-type]
        str(source),
    )


def grant(
    conn: sqlite3.Connection,
    *,
    student_id: str,
    tag: str,
    scope: str,
    granted_at: float,
    expires_at: float | None = None,
    source: str = "cli",
) -> ConsentRow:
    """Record (or renew) a consent; a later withdrawal is cleared by a new grant."""
    sid, tag = check_id(student_id, "student id"), check_id(tag, "tag")
    check_scope(scope)
    if expires_at is not None and expires_at <= granted_at:
        raise InputError("--expires must be after the date consent is granted")
    conn.execute(
        f"INSERT INTO consent({_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, ?) "
        "ON CONFLICT(student_id, scope) DO UPDATE SET tag = excluded.tag, "
        "granted_at = excluded.granted_at, expires_at = excluded.expires_at, "
        "withdrawn_at = NULL, source = excluded.source",
        (sid, scope, tag, granted_at, expires_at, source),
    )
    got = get(conn, sid, scope)
    assert got is not None
    return got


def withdraw(conn: sqlite3.Connection, student_id: str, scope: str, now: float) -> ConsentRow:
    """Withdraw a consent; an unknown student is an InputError naming the fix."""
    sid = check_id(student_id, "student id")
    check_scope(scope)
    row = get(conn, sid, scope)
    if row is None:
        raise InputError(
            f"no {scope} consent on record for that student id; `sts consent list` shows them"
        )
    if row.withdrawn_at is None:
        conn.execute(
            "UPDATE consent SET withdrawn_at = ? WHERE student_id = ? AND scope = ?",
            (now, sid, scope),
        )
    return get(conn, sid, scope) or row


def get(conn: sqlite3.Connection, student_id: str, scope: str) -> ConsentRow | None:
    """One student's consent in one scope."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM consent WHERE student_id = ? AND scope = ?",
        (student_id, scope),
    ).fetchone()
    return None if row is None else _row(row)


def for_student(conn: sqlite3.Connection, student_id: str) -> list[ConsentRow]:
    """Every scope of one student."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM consent WHERE student_id = ? ORDER BY scope", (student_id,)
    ).fetchall()
    return [_row(r) for r in rows]


def list_all(conn: sqlite3.Connection) -> list[ConsentRow]:
    """Every consent row, by student then scope."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM consent ORDER BY student_id, scope").fetchall()
    return [_row(r) for r in rows]


def active_tags(conn: sqlite3.Connection, now: float, scope: str = GATE_SCOPE) -> set[str]:
    """The tags whose consent in `scope` is active at `now`."""
    rows = conn.execute(
        "SELECT tag FROM consent WHERE scope = ? AND withdrawn_at IS NULL "
        "AND granted_at <= ? AND (expires_at IS NULL OR expires_at > ?)",
        (scope, now, now),
    ).fetchall()
    return {str(r[0]) for r in rows}


def next_change_at(conn: sqlite3.Connection, now: float) -> float | None:
    """The next time after `now` a consent starts or expires by itself (None: none due)."""
    row = conn.execute(
        "SELECT MIN(at) FROM (SELECT granted_at AS at FROM consent WHERE granted_at > ? "
        "UNION ALL SELECT expires_at FROM consent WHERE expires_at > ?)",
        (now, now),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def inactive_tags(conn: sqlite3.Connection, now: float, scope: str = GATE_SCOPE) -> set[str]:
    """The tags with a consent row in `scope` that is withdrawn or expired at `now`."""
    return {r.tag for r in list_all(conn) if r.scope == scope and not r.active_at(now)} - (
        active_tags(conn, now, scope)
    )


def processed_tags(conn: sqlite3.Connection, now: float) -> set[str]:
    """The tags the live service may process: an active consent in any scope."""
    return set().union(*(active_tags(conn, now, scope) for scope in SCOPES))


def attendance_only_tags(conn: sqlite3.Connection, now: float) -> set[str]:
    """Processed for attendance, without safety consent: no safety alert about them."""
    return active_tags(conn, now, "attendance") - active_tags(conn, now, GATE_SCOPE)


def stopped_tags(conn: sqlite3.Connection, now: float) -> set[str]:
    """Tags on record whose every consent is withdrawn or expired at `now`."""
    return {r.tag for r in list_all(conn)} - processed_tags(conn, now)


def purge_withdrawn(conn: sqlite3.Connection, tag: str, now: float) -> int:
    """After a withdrawal: everything about a badge no consent covers any more, or only
    its alerts when attendance consent remains (the events are its attendance); rows."""
    if tag not in processed_tags(conn, now):
        return purge_history(conn, tag)
    if tag in attendance_only_tags(conn, now):
        return purge_alerts(conn, tag)
    return 0


def is_empty(conn: sqlite3.Connection) -> bool:
    """No consent recorded yet (the roster's consent column is then the initial import)."""
    return conn.execute("SELECT 1 FROM consent LIMIT 1").fetchone() is None


def seed_from_roster(conn: sqlite3.Connection, entries: Iterable[RosterEntry], now: float) -> int:
    """The roster's `granted` consents as safety and attendance consents; how many students."""
    n = 0
    for e in entries:
        if e.consent:
            for scope in SCOPES:
                grant(
                    conn,
                    student_id=e.student_id,
                    tag=e.tag,
                    scope=scope,
                    granted_at=now,
                    source="roster",
                )
            n += 1
    return n


def purge_history(conn: sqlite3.Connection, tag: str) -> int:
    """Delete what the store holds about a badge (feed messages, alerts, its raw readings
    in the ingest journal); rows removed or rewritten. The caller checkpoints the WAL
    afterwards (store/retention.py `checkpoint`) so no old page image keeps them."""
    gone = conn.execute("DELETE FROM feed_log WHERE tag = ?", (tag,)).rowcount
    return gone + purge_alerts(conn, tag) + ingest_journal.purge_tag(conn, tag)


def purge_alerts(conn: sqlite3.Connection, tag: str) -> int:
    """Delete a badge's alerts and their messages; rows removed."""
    gone = conn.execute("DELETE FROM feed_log WHERE tag = ? AND kind = 'alert'", (tag,)).rowcount
    about = [i for i, body in feed_log.alert_rows(conn) if json.loads(body).get("tag") == tag]
    return gone + feed_log.delete_alerts(conn, about)
