"""Open the SQLite database of a data folder: WAL mode, the schema, one connection per user.

Why WAL with `synchronous=NORMAL`: a commit is durable against a killed process (the
pages are in the OS cache and the WAL is replayed on open) without an fsync per tick;
a power cut may lose the last commits, which a gateway then sends again (its frames
were not acknowledged). Each process (the server, `sts tokens`) opens its own connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geometry.errors import ConfigError
from store.crypto import SealedConnection
from store.keyring import load_keyring
from store.privacy_schema import PRIVACY_SCHEMA

#: The database file inside the data folder.
DB_NAME = "sts.sqlite3"

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    groups TEXT NOT NULL DEFAULT '[]',
    grants TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS feed_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    tag TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_log_at ON feed_log(at);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
    frame_id TEXT,
    received_at REAL NOT NULL,
    format TEXT NOT NULL,
    payload BLOB NOT NULL,
    UNIQUE (gateway, frame_id)
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    target TEXT NOT NULL,
    uid TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


def db_path(folder: Path) -> Path:
    """Where the database of a data folder lives."""
    return folder / DB_NAME


def open_store(folder: Path) -> sqlite3.Connection:
    """The data folder's database (created with its schema when new), in WAL mode."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"--data {folder}: cannot create the data folder ({exc.strerror}); "
            "give a folder you can write to"
        ) from None
    conn = sqlite3.connect(
        db_path(folder), isolation_level=None, check_same_thread=False, factory=SealedConnection
    )
    conn.cipher = load_keyring(folder)  # bodies with positions, names, notes are sealed
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are overwritten with zeros, not left in free space (store/retention.py).
    conn.execute("PRAGMA secure_delete=ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{db_path(folder)}: written by a newer STS (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade STS or use another --data folder"
        )
    conn.executescript(SCHEMA)
    conn.executescript(PRIVACY_SCHEMA)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one atomic unit of writes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_state(conn: sqlite3.Connection, key: str, default: str = "") -> str:
    """A small named value the server keeps across restarts."""
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Set a small named value (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO state(key, value) VALUES(?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
