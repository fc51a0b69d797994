"""Sign-in tokens: random, stored only as a hash, with a role, groups, grants and expiry.

A token is shown once, when issued; the database keeps its SHA-256 (a token has 256
bits of randomness, so a plain hash is enough: there is nothing to brute-force), so a
copy of the data folder signs nobody in. The holder's name is sealed at rest
(store/crypto.py), bound to the token's id. Roles decide what the feed shows:

- admin, safety: everything; teacher: only the students of its groups;
- integrator: events and alerts without coordinates unless granted `coordinates`;
- auditor: change records only (who acknowledged, resolved, started an evacuation);
- gateway: may send readings to /ingest, sees nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass

from geometry.errors import InputError
from store.crypto import open_body, seal_body

ROLES = ("admin", "safety", "teacher", "integrator", "auditor", "gateway")
#: What a grant may add to a role's view.
GRANTS = ("coordinates",)
TOKEN_PREFIX = "sts_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a token stands for (never the token itself)."""

    id: str
    name: str
    role: str
    groups: tuple[str, ...]
    grants: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def valid_at(self, now: float) -> bool:
        """Not revoked and not expired at `now` (epoch s)."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def status(self, now: float) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.valid_at(now) else "expired"


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _row(conn: sqlite3.Connection, row: tuple[object, ...]) -> TokenInfo:
    tid, name, role, groups, grants, created, expires, revoked = row
    return TokenInfo(
        str(tid),
        open_body(conn, name, f"tokens:{tid}"),  # type: ignore[arg-type]
        str(role),
        tuple(json.loads(str(groups))),
        tuple(json.loads(str(grants))),
        float(created),  # type: ignore[arg-type]
        None if expires is None else float(expires),  # type: ignore[arg-type]
        None if revoked is None else float(revoked),  # type: ignore[arg-type]
    )


_COLUMNS = "id, name, role, groups, grants, created_at, expires_at, revoked_at"


def issue_token(
    conn: sqlite3.Connection,
    *,
    name: str,
    role: str,
    now: float,
    groups: tuple[str, ...] = (),
    grants: tuple[str, ...] = (),
    expires_at: float | None = None,
) -> tuple[str, TokenInfo]:
    """A new token (returned once, in clear) and what it stands for."""
    if role not in ROLES:
        raise InputError(f"--role {role!r}: unknown role; use one of {', '.join(ROLES)}")
    if not name.strip():
        raise InputError("--name must name the person or system the token is for")
    if role == "teacher" and not groups:
        raise InputError("a teacher token needs --groups (the groups it may see)")
    for g in grants:
        if g not in GRANTS:
            raise InputError(f"--grant {g!r}: unknown grant; use one of {', '.join(GRANTS)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(secrets.token_hex(4), name, role, groups, grants, now, expires_at, None)
    conn.execute(
        f"INSERT INTO tokens({_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.id,
            seal_body(conn, name, f"tokens:{info.id}"),
            role,
            json.dumps(list(groups)),
            json.dumps(list(grants)),
            now,
            expires_at,
            None,
            token_hash(token),
        ),
    )
    return token, info


def find_token(conn: sqlite3.Connection, token: str) -> TokenInfo | None:
    """What a token stands for, or None when no token has that hash."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM tokens WHERE hash = ?", (token_hash(token),)
    ).fetchone()
    return None if row is None else _row(conn, row)


def get_token(conn: sqlite3.Connection, token_id: str) -> TokenInfo | None:
    """A token by its id."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
    return None if row is None else _row(conn, row)


def list_tokens(conn: sqlite3.Connection) -> list[TokenInfo]:
    """Every token, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, id").fetchall()
    return [_row(conn, r) for r in rows]


def revoke_token(conn: sqlite3.Connection, token_id: str, now: float) -> TokenInfo:
    """Revoke a token by id; an unknown id is an InputError naming the fix."""
    info = get_token(conn, token_id)
    if info is None:
        raise InputError(f"no token with id {token_id!r}; `sts tokens list` shows the ids")
    if info.revoked_at is None:
        conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
    return get_token(conn, token_id) or info


def invalid_ids(conn: sqlite3.Connection, ids: set[str], now: float) -> set[str]:
    """Of these token ids, the ones revoked, expired or gone (the server polls this)."""
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT id FROM tokens WHERE id IN ({marks}) AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > ?)",
        (*ids, now),
    ).fetchall()
    return ids - {str(r[0]) for r in rows}
