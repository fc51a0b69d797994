"""Audit records for the server's accesses: sign-ins and feed subscriptions.

The server is single-threaded (asyncio): a hook runs between ticks, never inside a
tick's transaction, so each record is its own small transaction.
"""

from __future__ import annotations

import sqlite3

from store.tokens import TokenInfo
from sts.access import audited


def audit_access(conn: sqlite3.Connection, info: TokenInfo, action: str, detail: str = "") -> None:
    """Append who (the token's name and role) did `action` now."""
    audited(conn, info, action, "-", f"token {info.id}" + (f"; {detail[:200]}" if detail else ""))
