"""The privacy tables: the consent registry, feedback and the hash-chained audit log.

Kept apart from `db.SCHEMA` so the privacy modules own their tables; `open_store`
creates them with the rest.
"""

from __future__ import annotations

PRIVACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
    student_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    tag TEXT NOT NULL,
    granted_at REAL NOT NULL,
    expires_at REAL,
    withdrawn_at REAL,
    source TEXT NOT NULL,
    PRIMARY KEY (student_id, scope)
);
CREATE INDEX IF NOT EXISTS consent_tag ON consent(tag);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    author TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL,
    answer BLOB NOT NULL,
    closed_at REAL
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""
