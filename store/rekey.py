"""Key rotation while the store is in use: every sealed column re-encrypted in small batches.

`SEALED_COLUMNS` names every column that holds sealed text and how its row's
associated data is formed. `reseal_batch` rewrites up to `limit` rows of one column
that are not yet sealed with the new key, in one short transaction, so a running
server's ticks wait at most one batch. A row the server rewrote meanwhile (an alert's
new state, sealed with the new key already) is left alone: the update only applies
while the row still holds the body that was read. Plain values written before the
column was sealed are sealed on the way.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from geometry.errors import ConfigError
from store.crypto import MAGIC, Cipher, SealError, SealsBodies
from store.db import transaction


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of sealed text; `bound_sql` is the SQL of its row's associated data."""

    table: str
    column: str
    bound_sql: str


#: Every sealed column of the store (a new one must be added here to be rotated).
SEALED_COLUMNS = (
    SealedColumn("feed_log", "body", "'feed_log:' || uid"),
    SealedColumn("alerts", "body", "'alerts:' || id"),
    SealedColumn("feedback", "body", "'feedback:' || id"),
    SealedColumn("feedback", "answer", "'feedback:' || id || ':answer'"),
    SealedColumn("tokens", "name", "'tokens:' || id"),
    SealedColumn("audit_log", "actor", "'audit_log:' || seq"),
    SealedColumn("dead_letters", "body", "'dead_letters:' || target || ':' || uid"),
)


def reseal_batch(
    conn: sqlite3.Connection, col: SealedColumn, keys: SealsBodies, new: Cipher, limit: int
) -> int:
    """Reseal up to `limit` rows of `col` with `new` (opened with `keys`); rows rewritten."""
    done = 0
    with transaction(conn):
        rows = conn.execute(
            f"SELECT rowid, {col.bound_sql}, {col.column} FROM {col.table} "
            f"WHERE {col.column} != '' AND substr({col.column}, 1, ?) IS NOT ? LIMIT ?",
            (len(MAGIC) + len(new.key_id), MAGIC + new.key_id, limit),
        ).fetchall()
        for rowid, bound, blob in rows:
            try:
                text = keys.open(blob, str(bound))
            except SealError as exc:
                raise ConfigError(
                    f"{col.table} row {rowid}: {exc}; nothing more resealed"
                ) from None
            done += conn.execute(
                f"UPDATE {col.table} SET {col.column} = ? WHERE rowid = ? AND {col.column} = ?",
                (new.seal(text, str(bound)), rowid, blob),
            ).rowcount
    return done


def reseal_all(
    conn: sqlite3.Connection, keys: SealsBodies, new: Cipher, *, batch: int, pause_s: float
) -> int:
    """Reseal every column until a whole pass finds nothing left; rows rewritten."""
    total = 0
    while True:
        this_pass = 0
        for col in SEALED_COLUMNS:
            while n := reseal_batch(conn, col, keys, new, batch):
                this_pass += n
                time.sleep(pause_s)  # let the server's ticks in between batches
        total += this_pass
        if this_pass == 0:
            return total


def rows_under(conn: sqlite3.Connection, key: Cipher) -> int:
    """How many stored values are sealed with `key` (0 after it was rotated out)."""
    prefix = MAGIC + key.key_id
    return sum(
        conn.execute(
            f"SELECT COUNT(*) FROM {c.table} WHERE substr({c.column}, 1, ?) = ?",
            (len(prefix), prefix),
        ).fetchone()[0]
        for c in SEALED_COLUMNS
    )
