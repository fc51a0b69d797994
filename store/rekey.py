"""Key rotation: every sealed body re-encrypted under a new key, in one transaction."""

from __future__ import annotations

import sqlite3

from store.crypto import Cipher
from store.db import transaction


def reseal_all(conn: sqlite3.Connection, old: Cipher, new: Cipher) -> int:
    """Open every feed message and alert with `old`, seal with `new`; rows rewritten."""
    n = 0
    with transaction(conn):
        for table, key in (("feed_log", "uid"), ("alerts", "id")):
            rows = conn.execute(f"SELECT rowid, {key}, body FROM {table}").fetchall()
            for rowid, row_key, body in rows:
                bound = f"{table}:{row_key}"
                text = old.open(body, bound)
                conn.execute(
                    f"UPDATE {table} SET body = ? WHERE rowid = ?", (new.seal(text, bound), rowid)
                )
                n += 1
    return n
