"""Feedback and concerns from students, parents and staff; answered and closed by admins.

The text and the answer are sealed at rest like every other body (store/crypto.py),
bound to the feedback's id. Closed feedback is deleted under the retention policy
(kind `feedback`); open feedback is kept until someone answers it.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from geometry.errors import InputError
from store.crypto import open_body, seal_body

FROM = ("student", "parent", "staff")
MAX_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Feedback:
    """One piece of feedback, opened."""

    id: str
    at: float
    author: str  # who it is from: student, parent or staff (no name is asked)
    text: str
    state: str  # open, answered, closed
    answer: str
    closed_at: float | None


def _check_text(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_CHARS:
        raise InputError(f"--text: 1 to {MAX_CHARS} characters; shorten or split it")
    return text


def submit(conn: sqlite3.Connection, *, author: str, text: str, at: float) -> str:
    """Store new feedback; its id."""
    if author not in FROM:
        raise InputError(f"--from {author!r}: one of {', '.join(FROM)}")
    fid = secrets.token_hex(4)
    conn.execute(
        "INSERT INTO feedback(id, at, author, body, state, answer) VALUES (?, ?, ?, ?, 'open', '')",
        (fid, at, author, seal_body(conn, _check_text(text), f"feedback:{fid}")),
    )
    return fid


def _get(conn: sqlite3.Connection, fid: str) -> Feedback:
    row = conn.execute(
        "SELECT id, at, author, body, state, answer, closed_at FROM feedback WHERE id = ?",
        (fid,),
    ).fetchone()
    if row is None:
        raise InputError("no feedback with that id; `sts feedback list` shows them")
    bound = f"feedback:{row[0]}"
    answer = open_body(conn, row[5], bound + ":answer") if row[5] else ""
    return Feedback(
        str(row[0]),
        float(row[1]),
        str(row[2]),
        open_body(conn, row[3], bound),
        str(row[4]),
        answer,
        None if row[6] is None else float(row[6]),
    )


def list_all(conn: sqlite3.Connection) -> list[Feedback]:
    """Every piece of feedback, oldest first."""
    ids = conn.execute("SELECT id FROM feedback ORDER BY at, id").fetchall()
    return [_get(conn, str(r[0])) for r in ids]


def answer(conn: sqlite3.Connection, fid: str, text: str) -> Feedback:
    """Answer feedback (it stays visible as answered until closed)."""
    _get(conn, fid)
    sealed = seal_body(conn, _check_text(text), f"feedback:{fid}:answer")
    conn.execute("UPDATE feedback SET answer = ?, state = 'answered' WHERE id = ?", (sealed, fid))
    return _get(conn, fid)


def close(conn: sqlite3.Connection, fid: str, at: float) -> Feedback:
    """Close feedback: from now on the retention policy's clock for it runs."""
    _get(conn, fid)
    conn.execute("UPDATE feedback SET state = 'closed', closed_at = ? WHERE id = ?", (at, fid))
    return _get(conn, fid)
