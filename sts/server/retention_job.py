"""The server's retention job: the written policy applied every `run_every`.

Runs between ticks on the event loop (the store has one connection), deletes what is
past its time with secure deletion and truncates the WAL (store/retention.py). Logs
counts per data kind only.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

from store import retention
from sts.retention_policy import RetentionPolicy

log = logging.getLogger("sts.serve.retention")


async def retention_forever(conn: sqlite3.Connection, policy: RetentionPolicy) -> None:
    """Apply the policy now, then every `policy.run_every_s`, until cancelled."""
    while True:
        deleted = retention.run(conn, policy.keep_s, time.time())
        if any(deleted.values()):
            log.info("retention: deleted %s", ", ".join(f"{k} {n}" for k, n in deleted.items()))
        await asyncio.sleep(policy.run_every_s)
