"""Feedback and concerns sent from the dashboard over the feed (`{"type": "feedback"}`).

The dashboard's only channel that carries a body is its feed WebSocket (the server's
plain HTTP answers requests without bodies), so the form sends its text as a feed
message and gets `done` (with the feedback's id) or `error` back. Who may: the staff
roles that sign in to the dashboard (not integrators, which are systems); how often:
`feed.feedback_per_hour` messages per token, so a stuck key or a script cannot fill
the store. It is stored by store/feedback.py (sealed, kept under the retention policy)
and answered and closed by admins with `sts feedback`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from geometry.errors import InputError
from store import feedback
from store.db import transaction
from store.tokens import TokenInfo
from sts.server.auth import RateLimiter
from transports.feed_protocol import ProtocolError

#: Roles that may leave feedback from the dashboard.
FEEDBACK_ROLES = ("admin", "safety", "teacher", "auditor")
_HOUR_S = 3600.0


@dataclass
class FeedbackDesk:
    """Checks and stores feedback messages (see the module docstring)."""

    conn: sqlite3.Connection
    per_hour: int

    def __post_init__(self) -> None:
        self._sent = RateLimiter(self.per_hour, _HOUR_S)  # counts submissions per token

    def take(self, msg: dict[str, Any], info: TokenInfo, now: float) -> dict[str, Any]:
        """Store one feedback message; the `done` reply (a ProtocolError when refused)."""
        if info.role not in FEEDBACK_ROLES:
            raise ProtocolError("forbidden", f"a {info.role} token may not leave feedback")
        if self._sent.blocked(info.id, now):
            raise ProtocolError(
                "rate_limited", f"at most {self.per_hour} feedback messages an hour; try later"
            )
        author, text = msg.get("from", "staff"), msg.get("text")
        if not isinstance(author, str) or author not in feedback.FROM:
            raise ProtocolError("bad_field", f"from: one of {', '.join(feedback.FROM)}")
        if not isinstance(text, str):
            raise ProtocolError("bad_field", "text: the feedback, as a string")
        try:
            with transaction(self.conn):
                fid = feedback.submit(self.conn, author=author, text=text, at=now)
        except InputError:
            raise ProtocolError(
                "bad_field", f"text: 1 to {feedback.MAX_CHARS} characters"
            ) from None
        self._sent.fail(info.id, now)
        return {"type": "done", "ref": msg.get("id"), "action": "feedback", "feedback": fid}
