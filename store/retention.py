"""Retention that really deletes: each kind of data past its deletion time, bytes and all.

`run(conn, keep_s, now)` deletes, per data kind, what is older than the policy allows
(`keep_s`: kind -> seconds). The database runs with `PRAGMA secure_delete=ON` (set by
`open_store`), so SQLite overwrites deleted rows with zeros in the page it writes; a
`wal_checkpoint(TRUNCATE)` afterwards copies those pages into the database file and
empties the WAL, so the old page images holding the deleted bytes are gone from both
files. Positions are not a kind here: the server keeps them in memory only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from store import audit, feed_log
from store.db import transaction

#: Every kind of data a retention policy must cover (docs/privacy.md describes each).
DATA_KINDS = (
    "events",
    "alerts",
    "records",
    "raw_readings",
    "positions",
    "consent",
    "feedback",
    "audit",
)

_FEED_KINDS = {"events": "event", "alerts": "alert", "records": "record"}


def _delete(conn: sqlite3.Connection, kind: str, cutoff: float) -> int:
    if kind in _FEED_KINDS:
        n = conn.execute(
            "DELETE FROM feed_log WHERE kind = ? AND at < ?", (_FEED_KINDS[kind], cutoff)
        ).rowcount
        if kind == "alerts":
            old = [
                alert_id
                for alert_id, body in feed_log.alert_rows(conn, ["resolved"])
                if (json.loads(body).get("resolved_at") or cutoff) < cutoff
            ]
            n += feed_log.delete_alerts(conn, old)
        return n
    if kind == "raw_readings":
        return conn.execute("DELETE FROM ingest_journal WHERE received_at < ?", (cutoff,)).rowcount
    if kind == "consent":
        return conn.execute(
            "DELETE FROM consent WHERE COALESCE(withdrawn_at, expires_at) < ?", (cutoff,)
        ).rowcount
    if kind == "feedback":
        return conn.execute(
            "DELETE FROM feedback WHERE state = 'closed' AND closed_at < ?", (cutoff,)
        ).rowcount
    if kind == "audit":
        return audit.prune(conn, cutoff)
    return 0  # positions: never stored


def run(conn: sqlite3.Connection, keep_s: Mapping[str, float], now: float) -> dict[str, int]:
    """Delete everything past its time, then checkpoint the WAL; rows deleted per kind."""
    with transaction(conn):
        deleted = {kind: _delete(conn, kind, now - keep_s[kind]) for kind in DATA_KINDS}
    checkpoint(conn)
    return deleted


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the WAL into the database and truncate it (deleted bytes leave the WAL)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
