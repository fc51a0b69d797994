"""Sign-in: tokens (Bearer, over HTTP) exchanged for short-lived single-use tickets.

A browser cannot set headers on a WebSocket, and a token in a URL ends up in logs, so
the token goes once to `POST /auth/ticket` and the feed's first message carries the
ticket. Tickets live in memory (a restart signs everyone in again) for `ttl_s` and are
consumed on first use. Failed sign-ins are counted per remote address; past
`max_failures` within `window_s` the address is refused until the window passes.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field

from store.tokens import TokenInfo, find_token, get_token


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a ticket stands for until it is used or expires."""

    token_id: str
    expires_at: float


class RateLimiter:
    """Failed attempts per address in a sliding window."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, address: str, now: float) -> bool:
        """Whether this address has failed too often lately."""
        q = self._failures.get(address)
        if q is None:
            return False
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[address]
        return bool(q) and len(q) >= self.max_failures

    def fail(self, address: str, now: float) -> None:
        """Count one failure."""
        self._failures.setdefault(address, deque()).append(now)
        if len(self._failures) > 100_000:  # bound the table against address sprays
            self._failures.pop(next(iter(self._failures)))


@dataclass
class Authenticator:
    """Checks tokens against the store and hands out tickets."""

    conn: sqlite3.Connection
    ticket_ttl_s: float
    limiter: RateLimiter
    _tickets: dict[str, Ticket] = field(default_factory=dict)

    def check_token(self, token: str, now: float) -> TokenInfo | None:
        """The token's info when it is known, unrevoked and unexpired; else None."""
        if not token or len(token) > 200:
            return None
        info = find_token(self.conn, token)
        return info if info is not None and info.valid_at(now) else None

    def issue_ticket(self, info: TokenInfo, now: float) -> str:
        """A new single-use ticket for a valid token."""
        self._expire(now)
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = Ticket(info.id, now + self.ticket_ttl_s)
        return ticket

    def redeem(self, ticket: object, now: float) -> TokenInfo | None:
        """The token behind a ticket, consuming it; None when unknown, used or expired."""
        held = self._tickets.pop(ticket, None) if isinstance(ticket, str) else None
        if held is None or held.expires_at < now:
            return None
        info = get_token(self.conn, held.token_id)
        return info if info is not None and info.valid_at(time.time()) else None

    def _expire(self, now: float) -> None:
        for key in [k for k, t in self._tickets.items() if t.expires_at < now]:
            del self._tickets[key]
