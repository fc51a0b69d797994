"""Gateway frames kept from the moment they are acknowledged until the engine has run them.

A frame is journaled (and committed) before the gateway gets its acknowledgement; the
tick that feeds its readings to the engine marks it processed in the same transaction
that stores the tick's alerts. After a crash, the frames after the mark are run again,
so nothing acknowledged is lost; a gateway that resends a frame it saw no
acknowledgement for (same gateway, same frame id) is told it is a duplicate.

Frames are kept in the ingest wire format's columns form (transports/ingest_codec.py).
When a badge's consent ends, `purge_tag` rewrites every frame that holds its readings
without them (the frame, its id and the other badges' readings stay), so the raw
readings go with the rest of its history rather than an hour later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from store.db import get_state, set_state
from transports.ingest_codec import decode_frame, encode_columns

_MARK = "ingest_processed"


@dataclass(frozen=True, slots=True)
class JournaledFrame:
    """One stored gateway frame."""

    id: int
    gateway: str
    received_at: float
    format: str
    payload: bytes


def append(
    conn: sqlite3.Connection,
    *,
    gateway: str,
    frame_id: str | None,
    received_at: float,
    format: str,
    payload: bytes,
) -> int | None:
    """Journal a frame; its id, or None when this gateway already sent this frame id."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO ingest_journal(gateway, frame_id, received_at, format, payload) "
        "VALUES (?, ?, ?, ?, ?)",
        (gateway, frame_id, received_at, format, payload),
    )
    return None if cur.rowcount == 0 else cur.lastrowid


def contains(conn: sqlite3.Connection, gateway: str, frame_id: str | None) -> bool:
    """Whether this gateway already sent a frame with this id."""
    if frame_id is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM ingest_journal WHERE gateway = ? AND frame_id = ?", (gateway, frame_id)
    ).fetchone()
    return row is not None


def processed_mark(conn: sqlite3.Connection) -> int:
    """The id of the last frame the engine has processed."""
    return int(get_state(conn, _MARK, "0"))


def mark_processed(conn: sqlite3.Connection, frame_id: int) -> None:
    """Frames up to this id have been processed (inside the tick's transaction)."""
    if frame_id > processed_mark(conn):
        set_state(conn, _MARK, str(frame_id))


def unprocessed(conn: sqlite3.Connection) -> list[JournaledFrame]:
    """Frames acknowledged but not yet processed (run again after a restart)."""
    rows = conn.execute(
        "SELECT id, gateway, received_at, format, payload FROM ingest_journal "
        "WHERE id > ? ORDER BY id",
        (processed_mark(conn),),
    ).fetchall()
    return [JournaledFrame(int(r[0]), str(r[1]), float(r[2]), str(r[3]), bytes(r[4])) for r in rows]


def prune(conn: sqlite3.Connection, before_at: float) -> int:
    """Forget processed frames received before `before_at` (kept a while for duplicates)."""
    return conn.execute(
        "DELETE FROM ingest_journal WHERE id <= ? AND received_at < ?",
        (processed_mark(conn), before_at),
    ).rowcount


def purge_tag(conn: sqlite3.Connection, tag: str) -> int:
    """Rewrite every journaled frame holding `tag`'s readings without them (inside the
    caller's transaction); how many frames were rewritten."""
    rows = conn.execute(
        "SELECT id, payload FROM ingest_journal WHERE instr(payload, ?) > 0",
        (tag.encode("utf-8"),),
    ).fetchall()
    rewritten = 0
    for journal_id, payload in rows:
        frame = decode_frame(bytes(payload), max_rows=len(payload))
        if tag not in frame.tag_ids:
            continue  # the bytes occur inside another value, not as this tag
        keep = frame.tag != frame.tag_ids.index(tag)
        without = encode_columns(
            frame.frame_id,
            frame.t[keep],
            [frame.tag_ids[c] for c in frame.tag[keep].tolist()],
            [frame.reader_ids[c] for c in frame.reader[keep].tolist()],
            frame.rssi[keep],
        )
        conn.execute("UPDATE ingest_journal SET payload = ? WHERE id = ?", (without, journal_id))
        rewritten += 1
    return rewritten
