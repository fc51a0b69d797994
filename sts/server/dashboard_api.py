"""The dashboard's HTTP reads: a snapshot to start from, the roll call, attendance now.

The feed streams changes; a page that opens mid-morning also needs the state they
apply to. `GET /api/snapshot` gives it in one consistent read (the handler runs between
two ticks): who the signed-in person is and may act as, the students they may see
with their names (or badge ids), where each is now, the open and recent alerts, and
the feed sequence it is valid at, from which the page subscribes. `GET /api/rollcall`
and `GET /api/attendance` are read on demand. Every request carries the person's token
in an `Authorization: Bearer` header (never in the URL); each role sees what the feed
would show it (teachers their own groups).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from engine.events import ZoneEvent
from engine.rollcall import RollCallReport, report_record
from engine.roster import Roster
from store import consent, feed_log
from store.tokens import TokenInfo
from sts.hub import Hub
from sts.server.attendance_now import mark_record, marks_now, running_lessons
from sts.server.auth import Authenticator
from sts.server.feed import Feed
from sts.server.feedback_desk import FEEDBACK_ROLES
from sts.server.http_routes import bearer, remote, respond
from sts.server.metrics import Metrics
from sts.server.sessions import ALERT_ROLES, view_of
from sts.server.whereabouts import whereabouts
from sts.timetable_toml import LoadedTimetable
from transports.feed_protocol import View, meta_of
from transports.json_codec import decode_event

#: Roles whose dashboards show students' names (teachers: of their own groups).
NAMED_ROLES = ("admin", "safety", "teacher")
#: How many resolved alerts the snapshot carries besides the open ones.
RECENT_RESOLVED = 20


@dataclass
class DashboardApi:
    """Answers GET /api/... (see the module docstring)."""

    auth: Authenticator
    metrics: Metrics
    conn: sqlite3.Connection
    hub: Hub
    feed: Feed
    now: Callable[[], float]
    roster: Roster
    timetable: LoadedTimetable | None
    site_name: str

    def __call__(self, connection: ServerConnection, request: Request, path: str) -> Response:
        routes: dict[str, Callable[[TokenInfo], dict[str, Any]]] = {
            "/api/snapshot": self.snapshot,
            "/api/rollcall": lambda info: {"evacuation": self.rollcall(info)},
            "/api/attendance": self.attendance,
        }
        handler = routes.get(path)
        if handler is None or request.method != "GET":
            return respond(404, {"error": "not_found", "message": f"no {request.method} {path}"})
        info = self._signed_in(connection, request)
        if info is None:
            return respond(
                401, {"error": "forbidden", "message": "unknown, expired or revoked token"}
            )
        return respond(200, handler(info))

    def _signed_in(self, connection: ServerConnection, request: Request) -> TokenInfo | None:
        now, address = time.time(), remote(connection)
        if self.auth.limiter.blocked(address, now):
            return None
        info = self.auth.check_token(bearer(request), now)
        if info is None or info.role == "gateway":
            self.auth.limiter.fail(address, now)
            self.metrics.sign_ins.labels("refused").inc()
            return None
        return info

    # ---- who may see whom -------------------------------------------------------------------

    def _visible_tags(self, view: View) -> list[str]:
        if not view.coordinates and view.role != "integrator":
            return []
        hidden = self.hub.engine.alert_only_tags
        return [
            e.tag
            for e in self.roster.entries
            if e.consent
            and e.tag not in hidden
            and (view.role != "teacher" or e.group in view.groups)
        ]

    def _label(self, view: View, tag: str, name: str) -> str:
        return name if view.role in NAMED_ROLES and name else tag

    def _people(self, view: View) -> list[dict[str, str]]:
        entries = self.roster.by_tag()
        return [
            {
                "tag": tag,
                "label": self._label(view, tag, entries[tag].name),
                "group": entries[tag].group,
            }
            for tag in self._visible_tags(view)
        ]

    # ---- the reads --------------------------------------------------------------------------

    def snapshot(self, info: TokenInfo) -> dict[str, Any]:
        """Everything the page starts from, valid at feed sequence `seq`."""
        view = view_of(info)
        tags = self._visible_tags(view)
        students = [w.record(view.coordinates) for w in whereabouts(self.hub.engine, tags)]
        return {
            "seq": self.feed.last_seq,
            "now": self._data_now(),
            "site": self.site_name,
            "timezone": self.timetable.timetable.calendar.timezone if self.timetable else "UTC",
            "role": info.role,
            "name": info.name,
            "groups": sorted(info.groups),
            "may": {
                "acknowledge": info.role in ALERT_ROLES,
                "evacuate": info.role in ("admin", "safety"),
                "mark_safe": info.role in ALERT_ROLES,
                "positions": view.coordinates,
                "feedback": info.role in FEEDBACK_ROLES,
            },
            "people": self._people(view),
            "students": students if view.coordinates else [],
            "alerts": self._alerts(view),
            "evacuation": self.rollcall(info),
        }

    def _data_now(self) -> float | None:
        """The engine's clock (data time), or None before any data: the page must not
        take the wall clock for the data's."""
        return self.now() if math.isfinite(self.hub.engine.clock) else None

    def _alerts(self, view: View) -> list[dict[str, Any]]:
        records = [json.loads(body) for body in feed_log.alert_bodies(self.conn)]
        shown = [
            view.redact({"type": "alert", "alert": r})["alert"]
            for r in records
            if view.may_see(meta_of({"type": "alert", "alert": r}), self.feed.group_of)
        ]
        open_ = [a for a in shown if a["state"] != "resolved"]
        resolved = sorted((a for a in shown if a["state"] == "resolved"), key=lambda a: a["t"])
        return open_ + resolved[-RECENT_RESOLVED:]

    def rollcall(self, info: TokenInfo) -> dict[str, Any] | None:
        """The running evacuation's roll call (None when none runs), as `info` may see it."""
        call = getattr(self.hub.engine.rules, "rollcall", None)
        if call is None or call.ended_at is not None or info.role not in ALERT_ROLES:
            return None
        report: RollCallReport = call.report(self.now())
        record: dict[str, Any] = report_record(report)
        visible = {p["tag"]: p for p in self._people(view_of(info))}
        missing = [m for m in record["missing"] if m["tag"] in visible]
        for m in missing:
            m["label"] = visible[m["tag"]]["label"]
            m["group"] = visible[m["tag"]]["group"]
        return record | {"missing": missing}

    def attendance(self, info: TokenInfo) -> dict[str, Any]:
        """The running lesson of each group the person may see, with provisional marks
        of the students whose guardians consented to attendance."""
        view = view_of(info)
        now = self.now()
        loaded = self.timetable
        if loaded is None or not view.coordinates:
            return {"now": now, "lessons": []}
        counted = consent.active_tags(self.conn, time.time(), "attendance")
        people = {p["tag"]: p for p in self._people(view) if p["tag"] in counted}
        members: dict[str, list[str]] = {}
        for tag, p in people.items():
            members.setdefault(p["group"], []).append(tag)
        where = {w.tag: {z for z, _ in w.zones} for w in whereabouts(self.hub.engine, people)}
        events = self._events()
        lessons = []
        for occ in running_lessons(loaded.timetable, members, now):
            room = occ.lesson.room
            in_room = {tag: room in where.get(tag, set()) for tag in members[occ.lesson.group]}
            marks = marks_now(occ, members[occ.lesson.group], events, in_room, now, loaded.policy)
            lessons.append(
                {
                    "group": occ.lesson.group,
                    "period": occ.period.id,
                    "period_name": occ.period.name,
                    "subject": occ.lesson.subject,
                    "room": room,
                    "start": occ.start,
                    "end": occ.end,
                    "marks": [mark_record(m, people[m.tag]["label"]) for m in marks],
                }
            )
        return {"now": now, "lessons": lessons}

    def _events(self) -> list[ZoneEvent]:
        bodies = feed_log.bodies_of_kind(self.conn, "event")
        return [decode_event(json.dumps(json.loads(b)["event"])) for b in bodies]
