"""The WAL is copied into the database by the Checkpointer, never inside the writer's commits."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from store import feed_log
from store.db import db_path, open_store, transaction
from store.wal_checkpoints import Checkpointer, defer_checkpoints


def wal_bytes(folder: Path) -> int:
    wal = Path(f"{db_path(folder)}-wal")
    return wal.stat().st_size if wal.exists() else 0


def write_pages(conn: sqlite3.Connection, first: int, rows: int) -> None:
    body = "x" * 2000  # about half a page a row
    with transaction(conn):
        for i in range(first, first + rows):
            feed_log.append(conn, at=float(i), kind="event", uid=f"u{i}", tag="", body=body)


def test_deferred_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    defer_checkpoints(conn)
    for start in range(0, 3000, 100):  # past SQLite's default of 1,000 pages
        write_pages(conn, start, 100)
    in_wal, _ = conn.execute("PRAGMA wal_checkpoint(NOOP)").fetchone()[1:]
    assert in_wal > 1000  # no commit copied the WAL
    checkpointer = Checkpointer(db_path(tmp_path))
    pages, copied = checkpointer.run()
    assert pages >= in_wal and copied == pages
    size = wal_bytes(tmp_path)
    write_pages(conn, 3000, 10)  # the next writer starts the WAL over from its beginning
    assert wal_bytes(tmp_path) == size
    assert len(feed_log.after(conn, 0, 5000)) == 3010
    checkpointer.close()


def test_close_waits_for_a_checkpoint_running_in_a_thread(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    defer_checkpoints(conn)
    write_pages(conn, 0, 200)
    checkpointer = Checkpointer(db_path(tmp_path))
    results: list[tuple[int, int]] = []
    worker = threading.Thread(target=lambda: results.append(checkpointer.run()))
    worker.start()
    checkpointer.close()
    worker.join()
    assert checkpointer.run() == (0, 0)  # closed: nothing more, no error
    assert len(results) == 1
