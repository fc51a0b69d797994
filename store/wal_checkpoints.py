"""Checkpoints of the write-ahead log, off the writing connection's path.

By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages:
that commit copies the pages into the database file and syncs it, tens of
milliseconds inside whichever tick or gateway frame happened to commit then. The
server turns that off on its writing connection (`defer_checkpoints`) and a
`Checkpointer`, a second connection used from a worker thread, copies the WAL in the
background (SQLite releases the GIL while it works). A PASSIVE checkpoint never waits
for the writer, and durability is the same (WAL, `synchronous=NORMAL`: store/db.py).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def defer_checkpoints(conn: sqlite3.Connection) -> None:
    """No checkpoint inside this connection's commits (a Checkpointer does them)."""
    conn.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    """Its own connection to a database in WAL mode; `run()` may be called from a thread."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()  # a checkpoint running in a thread ends before close
        self.closed = False

    def run(self) -> tuple[int, int]:
        """Copy what the WAL holds into the database; (pages in the WAL, pages copied)."""
        with self._lock:
            if self.closed:
                return 0, 0
            row = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        _busy, in_wal, copied = row
        return int(in_wal), int(copied)

    def close(self) -> None:
        """Close its connection (after a checkpoint in progress)."""
        with self._lock:
            self.closed = True
            self.conn.close()
