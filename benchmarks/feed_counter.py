"""A cheap feed subscriber for load runs: counts frames and keeps alerts, decodes nothing else.

The library client (transports/feed_client.py) parses every frame with websockets and
decodes every message with msgpack; a hundred of them on the server's two cores measure
mostly themselves. This one speaks just enough WebSocket (RFC 6455) for a benchmark: the
upgrade, its own masked frames (auth, subscribe, heartbeats) and the server's unmasked
frames, parsed from the byte stream. Positions frames (the big ones) are recognised by
their first bytes and counted by their `tags` array header, without decoding; the small
messages (alerts, heartbeats, replies) are decoded, and each raised alert is kept with
its arrival time.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

from transports.feed_client import post_ticket

#: How a positions frame starts (after the map header): its first key is "type".
_POSITIONS_PREFIX = b"\xa4type\xa9positions"
_TAGS_KEY = b"\xa4tags"
HEARTBEAT_S = 5.0


def client_frame(message: dict[str, Any]) -> bytes:
    """A masked binary frame (a client must mask; a zero mask key leaves the bytes as they are)."""
    payload: bytes = msgpack.packb(message)
    n = len(payload)
    assert n < 126, "the benchmark's own messages are small"
    return bytes((0x82, 0x80 | n)) + b"\0\0\0\0" + payload


def array_length(data: bytes, at: int) -> int:
    """The length of the msgpack array whose header starts at `at`."""
    head = data[at]
    if head & 0xF0 == 0x90:
        return head & 0x0F
    if head == 0xDC:
        return int.from_bytes(data[at + 1 : at + 3], "big")
    if head == 0xDD:
        return int.from_bytes(data[at + 1 : at + 5], "big")
    raise ValueError(f"not an array header: {head:#x}")


@dataclass
class Counts:
    """What one subscriber received."""

    frames: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    bytes: int = 0
    alerts: list[tuple[float, str, float]] = field(default_factory=list)  # arrival, id, t
    changes: list[float] = field(default_factory=list)  # arrivals of acks and resolutions
    closed: int | None = None  # the close code, if the server closed


class CountingFeed(asyncio.Protocol):
    """One feed connection (see the module docstring)."""

    def __init__(self, host: str, ticket: str, filters: dict[str, Any]) -> None:
        self.host = host
        self.hello = [
            client_frame({"type": "auth", "ticket": ticket}),
            client_frame({"type": "subscribe", "filters": filters}),
        ]
        self.counts = Counts()
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET /feed HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sts.v1.msgpack\r\n\r\n"
            ).encode()
        )

    def heartbeat(self) -> None:
        """Tell the server this client is alive (it closes silent ones)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame({"type": "heartbeat"}))
            asyncio.get_running_loop().call_later(HEARTBEAT_S, self.heartbeat)

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        if not self.upgraded:
            head, sep, _ = bytes(self.buffer).partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(head.decode(errors="replace"))
            del self.buffer[: len(head) + 4]
            self.upgraded = True
            assert self.transport is not None
            self.transport.write(b"".join(self.hello))
            self.heartbeat()
        self._frames(arrived)

    def _frames(self, arrived: float) -> None:
        buf, at, end = self.buffer, 0, len(self.buffer)
        while end - at >= 2:
            opcode, size, start = buf[at] & 0x0F, buf[at + 1] & 0x7F, at + 2
            if size == 126:
                size, start = int.from_bytes(buf[at + 2 : at + 4], "big"), at + 4
            elif size == 127:
                size, start = int.from_bytes(buf[at + 2 : at + 10], "big"), at + 10
            if start + size > end:
                break
            if opcode == 0x2:
                self._message(bytes(buf[start : start + size]), arrived)
            elif opcode == 0x8:
                self.counts.closed = int.from_bytes(buf[start : start + 2], "big")
            at = start + size
        del buf[:at]

    def _message(self, payload: bytes, arrived: float) -> None:
        counts = self.counts
        counts.bytes += len(payload)
        if payload[1 : 1 + len(_POSITIONS_PREFIX)] == _POSITIONS_PREFIX:
            counts.frames["positions"] = counts.frames.get("positions", 0) + 1
            at = payload.find(_TAGS_KEY)
            counts.rows += array_length(payload, at + len(_TAGS_KEY))
            return
        message = msgpack.unpackb(payload)  # small ones: alerts, heartbeats, replies
        kind = str(message["type"])
        counts.frames[kind] = counts.frames.get(kind, 0) + 1
        if kind == "alert" and message["alert"]["state"] == "raised":
            counts.alerts.append((arrived, str(message["id"]), float(message["alert"]["t"])))
        elif kind == "alert":
            counts.changes.append(arrived)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def counting_feed(base_url: str, token: str, filters: dict[str, Any]) -> CountingFeed:
    """Sign in (a ticket over HTTP) and open one counting connection."""
    ticket = await post_ticket(base_url, token)
    host_port = base_url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    _, feed = await loop.create_connection(
        lambda: CountingFeed(host_port, ticket, filters), host, int(port)
    )
    return feed
