"""The audit log: every access to a student's data, appended to a hash chain.

Each record holds who (actor, role), did what (action) to whose data (subject: a
student id, a tag or `-`), with a short detail, and two hashes: `prev`, the hash of the
record before it (`GENESIS` for the first), and `hash`, SHA-256 over its own sequence
number, fields and `prev`. Editing a record breaks its own hash; deleting or reordering
records breaks the link of the record after; deleting the newest records is caught by
the head (last sequence and hash) kept in the `state` table. `verify` names the first
broken record. The chain proves tampering, not who tampered: a person who can rewrite
the whole file can rebuild it, which is why a copy of `sts audit verify`'s head hash
belongs somewhere else too (docs/privacy.md).

The actor's name is sealed at rest (store/crypto.py), bound to the record's sequence
number; the hashes cover the name itself, so verifying needs the data key, and a
rotation of the key (which reseals the name) leaves the chain intact. A sealed name
that no longer opens reads as `UNREADABLE`, which no hash matches: the record is
reported as edited.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

from store.crypto import SealError, open_body, seal_body
from store.db import get_state, set_state, transaction

GENESIS = "0" * 64
#: The actor of a record whose sealed name does not open (edited, or another key).
UNREADABLE = "<sealed name does not open>"
_HEAD_KEY = "audit_head"
#: Where the chain starts after retention removed its oldest records: "seq:prev hash".
_BASE_KEY = "audit_base"

#: The actions recorded (docs/privacy.md explains each).
ACTIONS = (
    "sign_in",
    "feed_subscribe",
    "token_issue",
    "consent_grant",
    "consent_withdraw",
    "consent_import",
    "consent_applied",
    "history_query",
    "student_export",
    "student_erase",
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit record."""

    seq: int
    at: float
    actor: str
    role: str
    action: str
    subject: str
    detail: str
    prev: str
    hash: str


def record_hash(
    seq: int, at: float, actor: str, role: str, action: str, subject: str, detail: str, prev: str
) -> str:
    """The hash a record with these fields must carry."""
    text = json.dumps([seq, at, actor, role, action, subject, detail, prev], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _append(
    conn: sqlite3.Connection,
    at: float,
    actor: str,
    role: str,
    action: str,
    subject: str,
    detail: str,
) -> AuditRecord:
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (1, GENESIS) if last is None else (int(last[0]) + 1, str(last[1]))
    digest = record_hash(seq, at, actor, role, action, subject, detail, prev)
    conn.execute(
        "INSERT INTO audit_log(seq, at, actor, role, action, subject, detail, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            at,
            seal_body(conn, actor, f"audit_log:{seq}"),
            role,
            action,
            subject,
            detail,
            prev,
            digest,
        ),
    )
    set_state(conn, _HEAD_KEY, f"{seq}:{digest}")
    return AuditRecord(seq, at, actor, role, action, subject, detail, prev, digest)


def append(
    conn: sqlite3.Connection,
    *,
    at: float,
    actor: str,
    role: str,
    action: str,
    subject: str = "-",
    detail: str = "",
) -> AuditRecord:
    """Append one record (inside the caller's transaction, or in its own)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if conn.in_transaction:
        return _append(conn, at, actor, role, action, subject, detail)
    with transaction(conn):
        return _append(conn, at, actor, role, action, subject, detail)


def records(conn: sqlite3.Connection, *, limit: int | None = None) -> list[AuditRecord]:
    """The records in stored order (by rowid, which an edit of `seq` does not change)."""
    sql = "SELECT seq, at, actor, role, action, subject, detail, prev, hash FROM audit_log"
    sql += " ORDER BY rowid"
    rows = conn.execute(sql).fetchall()
    out = [
        AuditRecord(
            int(r[0]),
            float(r[1]),
            _actor(conn, r[0], r[2]),
            str(r[3]),
            str(r[4]),
            str(r[5]),
            str(r[6]),
            str(r[7]),
            str(r[8]),
        )
        for r in rows
    ]
    return out if limit is None else out[-limit:]


def _actor(conn: sqlite3.Connection, seq: object, blob: bytes | str) -> str:
    try:
        return open_body(conn, blob, f"audit_log:{seq}")
    except (SealError, UnicodeDecodeError):
        return UNREADABLE


@dataclass(frozen=True, slots=True)
class Verdict:
    """The chain's state: intact, or the first broken record and why."""

    records: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """No break found."""
        return self.broken_seq is None


def verify(conn: sqlite3.Connection) -> Verdict:
    """Walk the chain; the first record whose hash, link or position is wrong."""
    rows = records(conn)
    base = get_state(conn, _BASE_KEY)
    prev, expected = GENESIS, 1
    if base:
        first_seq, prev = base.split(":", 1)
        expected = int(first_seq)
    for r in rows:
        if r.seq != expected:
            why = f"expected record {expected} here: a record was deleted or moved"
            return Verdict(len(rows), r.seq, why)
        if r.prev != prev:
            why = "its link to the record before does not match: one was deleted or reordered"
            return Verdict(len(rows), r.seq, why)
        if (
            record_hash(r.seq, r.at, r.actor, r.role, r.action, r.subject, r.detail, r.prev)
            != r.hash
        ):
            return Verdict(len(rows), r.seq, "its content does not match its hash: it was edited")
        prev, expected = r.hash, expected + 1
    head = get_state(conn, _HEAD_KEY)
    if head and head != (f"{rows[-1].seq}:{rows[-1].hash}" if rows else ""):
        last_seq = int(head.split(":", 1)[0])
        why = f"the log ends before record {last_seq}, the last one written: records were cut"
        return Verdict(len(rows), last_seq, why)
    return Verdict(len(rows))


def prune(conn: sqlite3.Connection, before_at: float) -> int:
    """Delete records older than `before_at` (retention), always keeping the newest, and
    re-anchor the chain at the first record kept (inside the caller's transaction)."""
    newest = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    if newest is None:
        return 0
    keep_from = conn.execute(
        "SELECT MIN(seq) FROM audit_log WHERE at >= ? OR seq = ?", (before_at, newest)
    ).fetchone()[0]
    first = conn.execute("SELECT seq, prev FROM audit_log WHERE seq = ?", (keep_from,)).fetchone()
    gone = conn.execute("DELETE FROM audit_log WHERE seq < ?", (keep_from,)).rowcount
    if gone:
        set_state(conn, _BASE_KEY, f"{first[0]}:{first[1]}")
    return gone
