"""The feed's resume buffer and the alerts' latest values.

Every durable feed message (event, alert change, change record) is appended here with
a global sequence number before any subscriber sees it; a client that comes back
asks for what followed its last sequence (or a time) and gets exactly that, as long as
it is within the horizon. Each message has a unique id (`uid`): appending a uid that is
already there does nothing, so a message produced twice (a restart replaying the
ingest journal) is delivered once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from store.crypto import open_body, seal_body


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One stored message: its sequence, time written (epoch s), kind, student tag, body."""

    seq: int
    at: float
    kind: str
    tag: str
    body: str  # the message as stable JSON, without its seq


def append(
    conn: sqlite3.Connection, *, at: float, kind: str, uid: str, tag: str, body: str
) -> int | None:
    """Store one message; its sequence number, or None when its uid is already stored."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO feed_log(at, kind, uid, tag, body) VALUES (?, ?, ?, ?, ?)",
        (at, kind, uid, tag, seal_body(conn, body, f"feed_log:{uid}")),
    )
    return None if cur.rowcount == 0 else cur.lastrowid


def after(conn: sqlite3.Connection, seq: int, limit: int) -> list[LoggedMessage]:
    """Up to `limit` messages with a sequence above `seq`, in order."""
    rows = conn.execute(
        "SELECT seq, at, kind, tag, body, uid FROM feed_log WHERE seq > ? ORDER BY seq LIMIT ?",
        (seq, limit),
    ).fetchall()
    return [
        LoggedMessage(r[0], r[1], r[2], r[3], open_body(conn, r[4], f"feed_log:{r[5]}"))
        for r in rows
    ]


def seq_before_time(conn: sqlite3.Connection, at: float) -> int:
    """The last sequence written before `at` (resume from a time starts after it)."""
    row = conn.execute("SELECT MAX(seq) FROM feed_log WHERE at < ?", (at,)).fetchone()
    if row[0] is not None:
        return int(row[0])
    first = conn.execute("SELECT MIN(seq) FROM feed_log").fetchone()[0]
    return 0 if first is None else int(first) - 1


def bounds(conn: sqlite3.Connection) -> tuple[int, int]:
    """(oldest sequence kept, newest sequence written); (0, last) when none is kept."""
    oldest, newest = conn.execute("SELECT MIN(seq), MAX(seq) FROM feed_log").fetchone()
    if newest is None:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'feed_log'").fetchone()
        last = 0 if row is None else int(row[0])
        return last + 1, last
    return int(oldest), int(newest)


def prune(conn: sqlite3.Connection, *, before_at: float, keep_at_most: int) -> int:
    """Drop messages older than the horizon or beyond the count kept; returns how many."""
    cur = conn.execute("DELETE FROM feed_log WHERE at < ?", (before_at,))
    gone = cur.rowcount
    newest = conn.execute("SELECT MAX(seq) FROM feed_log").fetchone()[0]
    if newest is not None:
        gone += conn.execute(
            "DELETE FROM feed_log WHERE seq <= ?", (int(newest) - keep_at_most,)
        ).rowcount
    return gone


def put_alert(conn: sqlite3.Connection, alert_id: str, state: str, body: str) -> None:
    """Keep an alert's latest value (restored into the engine after a restart)."""
    conn.execute(
        "INSERT INTO alerts(id, state, body) VALUES (?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body",
        (alert_id, state, seal_body(conn, body, f"alerts:{alert_id}")),
    )


def alert_bodies(conn: sqlite3.Connection, states: Iterable[str] | None = None) -> list[str]:
    """The latest value of every alert (in these states), oldest id first."""
    return [body for _, body in alert_rows(conn, states)]


def alert_rows(
    conn: sqlite3.Connection, states: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """(id, latest value) of every alert (in these states), oldest id first."""
    if states is None:
        rows = conn.execute("SELECT id, body FROM alerts ORDER BY rowid").fetchall()
    else:
        wanted = list(states)
        marks = ",".join("?" * len(wanted))
        rows = conn.execute(
            f"SELECT id, body FROM alerts WHERE state IN ({marks}) ORDER BY rowid", wanted
        ).fetchall()
    return [(str(r[0]), open_body(conn, r[1], f"alerts:{r[0]}")) for r in rows]


def delete_alerts(conn: sqlite3.Connection, ids: Iterable[str]) -> int:
    """Delete alerts by id; how many."""
    return sum(conn.execute("DELETE FROM alerts WHERE id = ?", (i,)).rowcount for i in ids)


def bodies_of_kind(conn: sqlite3.Connection, kind: str) -> list[str]:
    """The stored bodies of one kind of message (e.g. every event kept), in order."""
    rows = conn.execute(
        "SELECT uid, body FROM feed_log WHERE kind = ? ORDER BY seq", (kind,)
    ).fetchall()
    return [open_body(conn, body, f"feed_log:{uid}") for uid, body in rows]
