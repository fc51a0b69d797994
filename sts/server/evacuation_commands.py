"""Evacuation commands from the feed: start (live, drill, test), mark a student safe, end.

Like acknowledgements, they come from a signed-in person over /feed and go through the
hub, so their change records are stored and fanned out like any other (every open
dashboard sees the evacuation start). Who may: admin and safety start and end; they
and teachers (for their own groups) mark a student safe, always with a reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.rollcall import RollMode
from geometry.errors import StsError
from store.db import transaction
from store.tokens import TokenInfo
from sts.hub import Hub
from sts.server.feed import Feed
from transports.feed_protocol import ProtocolError

EVACUATION_TYPES = ("evacuate", "mark_safe", "end_evacuation")
LEAD_ROLES = ("admin", "safety")
MARK_ROLES = ("admin", "safety", "teacher")


@dataclass(frozen=True, slots=True)
class EvacuationCommand:
    """One evacuation command as a person sent it."""

    action: str  # one of EVACUATION_TYPES
    mode: str = ""  # evacuate: live, drill or test
    tag: str = ""  # mark_safe: the student
    note: str = ""  # the reason (required to mark safe)
    ref: Any = None

    @classmethod
    def parse(cls, msg: Mapping[str, Any]) -> EvacuationCommand:
        """From an `evacuate`, `mark_safe` or `end_evacuation` message, or ProtocolError."""
        action = str(msg["type"])
        note, mode, tag = msg.get("note", ""), msg.get("mode", "live"), msg.get("tag", "")
        if not isinstance(note, str) or len(note) > 2000:
            raise ProtocolError("bad_field", "'note' must be a string of at most 2000 characters")
        if action == "evacuate" and mode not in tuple(RollMode):
            raise ProtocolError("bad_field", "'mode' must be live, drill or test")
        if action == "mark_safe":
            if not isinstance(tag, str) or not tag or len(tag) > 64:
                raise ProtocolError("bad_field", "'tag' must be the badge of a student")
            if not note.strip():
                raise ProtocolError("bad_field", "marking a student safe needs a reason in 'note'")
        ref = msg.get("id")
        if ref is not None and not isinstance(ref, str | int):
            raise ProtocolError("bad_field", "'id' must be a string or an integer")
        return cls(action, str(mode), str(tag), note, ref)

    def check_role(self, info: TokenInfo, group_of: Mapping[str, str]) -> None:
        """ProtocolError `forbidden` unless this person may give this command."""
        roles = MARK_ROLES if self.action == "mark_safe" else LEAD_ROLES
        if info.role not in roles:
            raise ProtocolError("forbidden", f"a {info.role} token may not {self.action}")
        if info.role == "teacher" and group_of.get(self.tag, "") not in info.groups:
            raise ProtocolError("forbidden", "this student is not in one of your groups")


def run_evacuation_command(
    hub: Hub,
    feed: Feed,
    conn: sqlite3.Connection,
    msg: Mapping[str, Any],
    info: TokenInfo,
    t: float,
) -> dict[str, Any]:
    """Carry out one command at engine time `t`, store and send its records; the reply."""
    cmd = EvacuationCommand.parse(msg)
    cmd.check_role(info, feed.group_of)
    try:
        with transaction(conn):
            if cmd.action == "evacuate":
                hub.command("start_evacuation", t, cmd.mode, by=info.name, reason=cmd.note)
            elif cmd.action == "mark_safe":
                hub.command("mark_safe", cmd.tag, info.name, cmd.note, t)
            else:
                hub.command("end_evacuation", t, by=info.name, reason=cmd.note)
    except StsError as exc:
        feed.discard()
        raise ProtocolError("illegal_transition", str(exc)) from None
    feed.publish()
    return {"type": "done", "ref": cmd.ref, "action": cmd.action}
