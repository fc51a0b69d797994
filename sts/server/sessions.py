"""The two WebSocket endpoints: /feed (subscribers) and /ingest (gateways).

Nothing a client sends can take the server or another client down: every message is
decoded and checked before it is used, a bad one gets an `error` message (counted in
/metrics) and the connection goes on; only a broken sign-in or a message over the
size limit ends the connection, with a close code that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from engine.alerts import AlertError, IllegalAlertTransitionError, UnknownAlertError
from store import feed_log, ingest_journal
from store.db import transaction
from store.tokens import TokenInfo
from sts.hub import Hub
from sts.serve_config import FeedLimits, IngestLimits
from sts.server.audit_hooks import audit_access
from sts.server.auth import Authenticator
from sts.server.evacuation_commands import EVACUATION_TYPES, run_evacuation_command
from sts.server.feed import Feed
from sts.server.feed_clients import FeedClient
from sts.server.feedback_desk import FeedbackDesk
from sts.server.http_routes import remote
from sts.server.ingest import IngestDesk
from sts.server.metrics import Metrics
from transports.feed_protocol import (
    AlertCommand,
    CloseCode,
    Filters,
    ProtocolError,
    Resume,
    Subscription,
    View,
    decode,
    encode,
    error_message,
)
from transports.ingest_codec import FrameError, decode_frame

log = logging.getLogger("sts.serve.sessions")

#: Roles that may acknowledge and resolve alerts (teachers: their groups' only).
ALERT_ROLES = ("admin", "safety", "teacher")
SIGN_IN_TIMEOUT_S = 10.0


def view_of(info: TokenInfo) -> View:
    """What a token's holder may see."""
    return View(info.role, frozenset(info.groups), frozenset(info.grants))


def count_vanished(metrics: Metrics, endpoint: str, exc: ConnectionClosed) -> None:
    """Count a connection that ended without a close frame (the peer vanished)."""
    if exc.rcvd is None:
        metrics.vanished.labels(endpoint).inc()


@dataclass
class FeedEndpoint:
    """Runs /feed connections."""

    feed: Feed
    hub: Hub
    auth: Authenticator
    limits: FeedLimits
    metrics: Metrics
    command_time: Callable[[], float]
    conn: Any  # sqlite3.Connection
    feedback: FeedbackDesk = field(init=False)

    def __post_init__(self) -> None:
        self.feedback = FeedbackDesk(self.conn, self.limits.feedback_per_hour)

    async def session(self, ws: ServerConnection) -> None:
        """Sign in, then subscribe / ack / resolve / heartbeat until the connection ends."""
        if ws.subprotocol is None:
            await ws.close(int(CloseCode.PROTOCOL_ERROR), "use subprotocol sts.v1.json or msgpack")
            return
        binary = ws.subprotocol == "sts.v1.msgpack"
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:  # a small kernel buffer makes a stalled reader visible sooner
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
        info = await self._sign_in(ws, binary)
        if info is None:
            return
        client = FeedClient(
            ws,
            self.feed,
            view=view_of(info),
            token_id=info.id,
            max_queue=self.limits.max_queue,
            binary=binary,
        )
        client.token_name = info.name  # type: ignore[attr-defined]
        oldest, newest = feed_log.bounds(self.conn)
        client.cursor = newest
        client.send_control(
            {
                "type": "welcome",
                "protocol": "sts.v1",
                "role": info.role,
                "name": info.name,
                "seq": newest,
                "oldest_seq": oldest,
                "heartbeat_s": self.limits.heartbeat_s,
            }
        )
        self.feed.clients.add(client)
        self.metrics.clients.labels(info.role).inc()
        client.writer = asyncio.get_running_loop().create_task(client.run_writer())
        try:
            async for raw in ws:
                client.last_heard = time.monotonic()
                self._handle(client, raw, info)
        except ConnectionClosed as exc:
            count_vanished(self.metrics, "/feed", exc)
        finally:
            self.feed.clients.discard(client)
            self.metrics.clients.labels(info.role).dec()
            client.closing = True
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.writer

    async def _sign_in(self, ws: ServerConnection, binary: bool) -> TokenInfo | None:
        address = remote(ws)
        now = time.time()
        if self.auth.limiter.blocked(address, now):
            self.metrics.sign_ins.labels("rate_limited").inc()
            await ws.close(int(CloseCode.RATE_LIMITED), "too many failed sign-ins; wait")
            return None
        try:
            raw = await asyncio.wait_for(ws.recv(), SIGN_IN_TIMEOUT_S)
            msg = decode(raw)
        except (TimeoutError, FrameError, ConnectionClosed):
            self.metrics.frames_rejected.labels("/feed", "sign_in").inc()
            await ws.close(int(CloseCode.PROTOCOL_ERROR), 'first message must be {"type":"auth"}')
            return None
        info = self.auth.redeem(msg.get("ticket"), now) if msg["type"] == "auth" else None
        if info is None:
            self.auth.limiter.fail(address, now)
            self.metrics.sign_ins.labels("refused").inc()
            await ws.send(
                encode(error_message("forbidden", "bad, used or expired ticket", 0), binary)
            )
            await ws.close(int(CloseCode.AUTH_FAILED), "bad, used or expired ticket")
            return None
        self.metrics.sign_ins.labels("ok").inc()
        return info

    def _handle(self, client: FeedClient, raw: bytes | str, info: TokenInfo) -> None:
        ref = None
        try:
            if len(raw) > self.limits.max_message_bytes:
                raise ProtocolError(
                    "too_large", f"messages are at most {self.limits.max_message_bytes} bytes"
                )
            msg = decode(raw)
            ref = msg.get("id")
            kind = msg["type"]
            if kind == "subscribe":
                self._subscribe(client, msg)
                audit_access(self.conn, info, "feed_subscribe", str(msg.get("filters") or ""))
            elif kind in ("ack", "resolve"):
                self._alert_command(client, AlertCommand.parse(msg), info)
            elif kind in EVACUATION_TYPES:
                reply = run_evacuation_command(
                    self.hub, self.feed, self.conn, msg, info, self.command_time()
                )
                client.send_control(reply)
            elif kind == "feedback":
                client.send_control(self.feedback.take(msg, info, time.time()))
            elif kind != "heartbeat":
                raise ProtocolError("unknown_type", f"unknown message type {kind!r}")
        except FrameError as exc:
            self.metrics.frames_rejected.labels("/feed", exc.code).inc()
            client.send_control(error_message(exc.code, str(exc), client.cursor, ref))

    def _subscribe(self, client: FeedClient, msg: dict[str, Any]) -> None:
        filters = Filters.parse(msg.get("filters"))
        resume = Resume.parse(msg.get("resume"))
        oldest, newest = feed_log.bounds(self.conn)
        if resume.after_seq is not None:
            after = min(resume.after_seq, newest)
        elif resume.since is not None:
            after = feed_log.seq_before_time(self.conn, resume.since)
        else:
            after = newest
        if after < oldest - 1:
            client.send_control(
                {"type": "lost", "from_seq": after + 1, "to_seq": oldest - 1, "seq": after}
            )
            after = oldest - 1
        client.send_control({"type": "subscribed", "after_seq": after, "seq": after})
        client.subscribe(Subscription(client.view, filters), after)

    def _alert_command(self, client: FeedClient, cmd: AlertCommand, info: TokenInfo) -> None:
        if info.role not in ALERT_ROLES:
            raise ProtocolError("forbidden", f"a {info.role} token may not {cmd.action} alerts")
        tag = self.feed.alert_tag.get(cmd.alert)
        if info.role == "teacher" and self.feed.group_of.get(tag or "", "") not in info.groups:
            raise ProtocolError("forbidden", "this alert is not about one of your groups")
        name = "acknowledge" if cmd.action == "ack" else "resolve"
        try:
            with transaction(self.conn):
                out = self.hub.command(name, cmd.alert, info.name, self.command_time(), cmd.note)
        except UnknownAlertError as exc:
            self.feed.discard()
            raise ProtocolError("unknown_alert", str(exc)) from None
        except IllegalAlertTransitionError as exc:
            self.feed.discard()
            raise ProtocolError("illegal_transition", str(exc)) from None
        except AlertError as exc:
            self.feed.discard()
            raise ProtocolError("bad_field", str(exc)) from None
        self.feed.publish()
        state = out.alerts[0].state.value if out.alerts else ""
        client.send_control({"type": "done", "ref": cmd.ref, "alert": cmd.alert, "state": state})


@dataclass
class IngestEndpoint:
    """Runs /ingest connections (gateways, signed in by their token at the handshake)."""

    desk: IngestDesk
    limits: IngestLimits
    metrics: Metrics
    conn: Any  # sqlite3.Connection
    gateways: dict[int, TokenInfo]
    on_queued: Callable[[], None] | None = None  # rows were queued for the engine

    async def session(self, ws: ServerConnection) -> None:
        """Each frame: decode, check rows, journal, acknowledge (or an error message)."""
        info = self.gateways.pop(id(ws), None)
        if info is None:
            await ws.close(int(CloseCode.AUTH_FAILED), "ingest needs a gateway token")
            return
        try:
            async for raw in ws:
                reply = self.take(info.name, raw)
                await ws.send(encode(reply, isinstance(raw, bytes)))
        except ConnectionClosed as exc:
            count_vanished(self.metrics, "/ingest", exc)

    def take(self, gateway: str, raw: bytes | str) -> dict[str, Any]:
        """One frame from a gateway (WebSocket or MQTT): the reply to send it."""
        try:
            frame = decode_frame(raw, self.limits.max_rows)
        except FrameError as exc:
            self.metrics.frames_rejected.labels("/ingest", exc.code).inc()
            return error_message(exc.code, str(exc), 0)
        reply: dict[str, Any] = {"type": "ack", "id": frame.frame_id, "seq": 0}
        if ingest_journal.contains(self.conn, gateway, frame.frame_id):
            self.metrics.frames_rejected.labels("/ingest", "duplicate").inc()
            return reply | {"duplicate": True, "accepted": 0}
        accepted, pending = self.desk.accept(gateway, frame)
        now = time.time()
        journal_id = ingest_journal.append(
            self.conn,
            gateway=gateway,
            frame_id=frame.frame_id,
            received_at=now,
            format="columns",
            payload=accepted.journal,
        )
        assert journal_id is not None  # not a duplicate: checked above, nothing in between
        self.desk.queue(pending, journal_id, now)
        if self.on_queued is not None and accepted.kept:
            self.on_queued()
        self.metrics.readings_in.labels(gateway).inc(len(frame))
        rejected: dict[str, int] = {}
        for (_gateway, _reader, why), n in accepted.rejected.items():
            rejected[why] = rejected.get(why, 0) + n
        return reply | {"accepted": accepted.kept, "rejected": rejected}
