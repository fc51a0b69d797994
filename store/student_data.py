"""What the store holds about one student: found, exported, erased; zone history queries.

A student is found by id through the consent registry (which links the id to the
pseudonymous tag the rest of the store uses). Bodies are opened with the data key,
so filtering by zone or time happens here, after decryption, never in SQL on bodies.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from geometry.errors import InputError
from store import audit, consent, feed_log
from store.crypto import open_body

#: An export or query larger than this is refused (narrow the time range).
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class StudentRef:
    """A student id and the tags it has worn."""

    student_id: str
    tags: tuple[str, ...]


def find_student(conn: sqlite3.Connection, student_id: str) -> StudentRef:
    """The tags of a student on record; an unknown id is an InputError naming the fix."""
    sid = consent.check_id(student_id, "student id")
    tags = tuple(sorted({r.tag for r in consent.for_student(conn, sid)}))
    if not tags:
        raise InputError(
            "no student with that id in the consent registry; `sts consent list` shows them"
        )
    return StudentRef(sid, tags)


def _messages(
    conn: sqlite3.Connection, tags: tuple[str, ...], max_rows: int
) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(tags))
    count = conn.execute(f"SELECT COUNT(*) FROM feed_log WHERE tag IN ({marks})", tags)
    if int(count.fetchone()[0]) > max_rows:
        raise InputError(f"more than {max_rows} stored messages: too large to export at once")
    rows = conn.execute(
        f"SELECT seq, uid, body FROM feed_log WHERE tag IN ({marks}) ORDER BY seq", tags
    ).fetchall()
    opened = (open_body(conn, body, f"feed_log:{uid}") for _, uid, body in rows)
    return [{"seq": r[0], **json.loads(b)} for r, b in zip(rows, opened, strict=True)]


def export(
    conn: sqlite3.Connection, student_id: str, *, max_rows: int = MAX_ROWS
) -> dict[str, Any]:
    """Everything held about a student, as one JSON-ready document (refused past
    `max_rows` stored messages)."""
    ref = find_student(conn, student_id)
    alerts = [json.loads(b) for _, b in feed_log.alert_rows(conn)]
    return {
        "student_id": ref.student_id,
        "tags": list(ref.tags),
        "consent": [
            {
                "scope": r.scope,
                "tag": r.tag,
                "granted_at": r.granted_at,
                "expires_at": r.expires_at,
                "withdrawn_at": r.withdrawn_at,
                "source": r.source,
            }
            for r in consent.for_student(conn, ref.student_id)
        ],
        "messages": _messages(conn, ref.tags, max_rows),
        "alerts": [a for a in alerts if a.get("tag") in ref.tags],
        "accesses": [
            {"seq": r.seq, "at": r.at, "actor": r.actor, "role": r.role, "action": r.action}
            for r in audit.records(conn)
            if r.subject == ref.student_id or r.subject in ref.tags
        ],
        "not_held": "names (the roster, in the site folder) and live positions (memory only)",
    }


def erase(conn: sqlite3.Connection, student_id: str) -> int:
    """Delete the student's messages, alerts and consent (inside the caller's transaction).

    Without a consent row the running server closes the badge's gate at its next poll.
    The audit log keeps its records of accesses (the chain must stay whole)."""
    ref = find_student(conn, student_id)
    gone = sum(consent.purge_history(conn, tag) for tag in ref.tags)
    return (
        gone + conn.execute("DELETE FROM consent WHERE student_id = ?", (ref.student_id,)).rowcount
    )


def zone_events(
    conn: sqlite3.Connection, *, t1: float, t2: float, zone: str = "", tags: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Zone events between t1 and t2 (data time), in one zone and/or of some tags."""
    sql = "SELECT uid, tag, body FROM feed_log WHERE kind = 'event'"
    params: list[str] = []
    if tags:
        sql += f" AND tag IN ({','.join('?' * len(tags))})"
        params.extend(tags)
    rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
    if len(rows) > MAX_ROWS:
        raise InputError(f"more than {MAX_ROWS} events to search: narrow with --student")
    out = []
    for uid, _tag, body in rows:
        event = json.loads(open_body(conn, body, f"feed_log:{uid}"))["event"]
        if t1 <= float(event["t"]) <= t2 and (not zone or event.get("zone") == zone):
            out.append(event)
    return out
