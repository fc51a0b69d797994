"""What the webhook senders keep: each target's cursor in the feed log, and dead letters.

A target's cursor is the last feed sequence it has finished with (delivered, or given
up on and dead-lettered), so a restarted server goes on where it stopped. A dead letter
is a message a target never accepted, with the number of attempts and the last error:
nothing is dropped without a row here. Its body (an alert may name staff, carry
notes and coordinates) is sealed at rest like the feed log's (store/crypto.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from store.crypto import open_body, seal_body
from store.db import get_state, set_state


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message a target did not accept."""

    at: float
    target: str
    uid: str
    attempts: int
    error: str
    body: str


def _key(target: str) -> str:
    return f"webhook_cursor:{target}"


def cursor(conn: sqlite3.Connection, target: str) -> int | None:
    """The last sequence `target` finished with; None for a target never run."""
    value = get_state(conn, _key(target))
    return int(value) if value else None


def set_cursor(conn: sqlite3.Connection, target: str, seq: int) -> None:
    """Move a target's cursor (inside the caller's transaction)."""
    set_state(conn, _key(target), str(seq))


def add_dead_letter(conn: sqlite3.Connection, letter: DeadLetter) -> None:
    """Record a message given up on (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO dead_letters(at, target, uid, attempts, error, body) VALUES (?,?,?,?,?,?)",
        (
            letter.at,
            letter.target,
            letter.uid,
            letter.attempts,
            letter.error,
            seal_body(conn, letter.body, f"dead_letters:{letter.target}:{letter.uid}"),
        ),
    )


def dead_letters(conn: sqlite3.Connection, target: str | None = None) -> list[DeadLetter]:
    """Dead letters, oldest first (of one target, or all)."""
    sql = "SELECT at, target, uid, attempts, error, body FROM dead_letters"
    args: tuple[str, ...] = ()
    if target is not None:
        sql, args = sql + " WHERE target = ?", (target,)
    rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [
        DeadLetter(at, name, uid, tries, error, open_body(conn, body, f"dead_letters:{name}:{uid}"))
        for at, name, uid, tries, error, body in rows
    ]
