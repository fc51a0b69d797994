"""Role checks for the CLI's access to student data: a staff token, its role, then audit.

`sts student` and `sts history` read or delete personal data outside the server, so
they take a token (`--token`, or `STS_TOKEN` so it stays out of shell history) and
check it against the data folder's tokens like the server does: forged, expired and
revoked tokens and roles without the right are refused with a clear message.
"""

from __future__ import annotations

import os
import sqlite3
import time

from geometry.errors import InputError
from store import audit
from store.tokens import TokenInfo, find_token

ENV_TOKEN = "STS_TOKEN"


def token_text(given: str | None) -> str:
    """The token from --token or STS_TOKEN."""
    token = given or os.environ.get(ENV_TOKEN, "")
    if not token:
        raise InputError(f"give a staff token with --token or {ENV_TOKEN} (`sts tokens issue`)")
    return token


def require_role(
    conn: sqlite3.Connection, given: str | None, roles: tuple[str, ...], what: str
) -> TokenInfo:
    """The token's holder when its role may do `what`; an InputError otherwise."""
    token = token_text(given)
    info = find_token(conn, token) if len(token) <= 200 else None
    if info is None or not info.valid_at(time.time()):
        raise InputError(f"{what}: unknown, expired or revoked token; ask an admin for one")
    if info.role not in roles:
        raise InputError(
            f"{what}: a {info.role} token may not do this; it needs one of {', '.join(roles)}"
        )
    return info


def audited(
    conn: sqlite3.Connection, who: TokenInfo, action: str, subject: str, detail: str
) -> None:
    """Append an audit record of `who` doing `action` to `subject`'s data now."""
    audit.append(
        conn,
        at=time.time(),
        actor=who.name,
        role=who.role,
        action=action,
        subject=subject,
        detail=detail,
    )
