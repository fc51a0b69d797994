"""An async client of the sts.v1 feed: sign in, subscribe with filters, iterate, resume.

    async with Subscriber("http://127.0.0.1:8765", token, filters={"types": ["alert"]}) as feed:
        async for message in feed:
            print(message["type"], message["seq"])

The token is exchanged for a single-use ticket over `POST /auth/ticket` (never put in
the URL); the ticket is the feed's first message. After a dropped connection the
client signs in again and resumes after the last durable sequence it saw, so every
event, alert and record is yielded exactly once (duplicates by sequence are skipped).
Sign-in refusals (bad token, revoked, rate-limited) end the iteration with FeedError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from geometry.errors import StsError
from transports.feed_protocol import DURABLE_TYPES, CloseCode, decode, encode

#: Close codes after which reconnecting cannot help.
FINAL_CODES = frozenset({CloseCode.AUTH_FAILED, CloseCode.TOKEN_INVALID, CloseCode.PROTOCOL_ERROR})


class FeedError(StsError):
    """The feed refused this client (its message says why and what to do)."""


async def post_ticket(base_url: str, token: str, context: ssl.SSLContext | None = None) -> str:
    """A single-use ticket for `token` from POST /auth/ticket (FeedError when refused)."""
    parts = urlsplit(base_url)
    secure = parts.scheme in ("https", "wss")
    port = parts.port or (443 if secure else 80)
    reader, writer = await asyncio.open_connection(
        parts.hostname, port, ssl=(context or ssl.create_default_context()) if secure else None
    )
    try:
        writer.write(
            (
                f"POST /auth/ticket HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10.0)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if status != 200:
        raise FeedError(f"sign-in refused (HTTP {status}): {body.decode(errors='replace').strip()}")
    ticket: str = json.loads(body)["ticket"]
    return ticket


def feed_url(base_url: str) -> str:
    """The ws(s):// URL of /feed for an http(s):// or ws(s):// base URL."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}/feed"


class Subscriber:
    """A resuming feed client (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        filters: Mapping[str, Any] | None = None,
        after_seq: int | None = None,
        binary: bool = True,
        reconnect: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        heartbeat_s: float = 10.0,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.filters = dict(filters or {})
        self.last_seq = after_seq
        self.binary = binary
        self.reconnect = reconnect
        self.ssl_context = ssl_context
        self.heartbeat_s = heartbeat_s
        self.ws: ClientConnection | None = None
        self.welcome: dict[str, Any] = {}
        self.connections = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    async def __aenter__(self) -> Subscriber:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Sign in and subscribe (resuming after `last_seq` when there is one)."""
        ticket = await post_ticket(self.base_url, self.token, self.ssl_context)
        protocol = "sts.v1.msgpack" if self.binary else "sts.v1.json"
        secure = self.base_url.startswith(("https", "wss"))
        self.ws = await websockets.connect(
            feed_url(self.base_url),
            subprotocols=[protocol],  # type: ignore[list-item]
            ssl=self.ssl_context if secure else None,
            ping_interval=None,
            max_size=64 * 2**20,
        )
        await self._send({"type": "auth", "ticket": ticket})
        self.welcome = decode(await self.ws.recv())
        if self.welcome["type"] != "welcome":
            raise FeedError(f"sign-in refused: {self.welcome.get('message')}")
        resume = None if self.last_seq is None else {"after_seq": self.last_seq}
        await self._send({"type": "subscribe", "filters": self.filters, "resume": resume})
        self.connections += 1
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(encode(message, self.binary))

    async def _beat(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.heartbeat_s)
            with contextlib.suppress(ConnectionClosed, AttributeError):
                await self._send({"type": "heartbeat"})

    async def ack(self, alert: str, note: str = "", ref: str | None = None) -> None:
        """Acknowledge an alert (the server answers `done` or `error`)."""
        await self._send({"type": "ack", "alert": alert, "note": note, "id": ref})

    async def resolve(self, alert: str, note: str = "", ref: str | None = None) -> None:
        """Resolve an alert with a note."""
        await self._send({"type": "resolve", "alert": alert, "note": note, "id": ref})

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        backoff = 0.2
        while not self._closed:
            assert self.ws is not None
            try:
                async for raw in self.ws:
                    message = decode(raw)
                    if message["type"] in DURABLE_TYPES:
                        if self.last_seq is not None and message["seq"] <= self.last_seq:
                            continue  # already yielded before a reconnect
                        self.last_seq = message["seq"]
                    elif message["type"] == "subscribed" and self.last_seq is None:
                        self.last_seq = message["after_seq"]
                    yield message
                    backoff = 0.2
            except ConnectionClosed:
                pass
            code = self.ws.close_code
            if self._closed or not self.reconnect or code in FINAL_CODES:
                if code in FINAL_CODES:
                    raise FeedError(
                        f"the feed closed the connection: {code} {self.ws.close_reason}"
                    )
                return
            await self._reconnect(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _reconnect(self, delay: float) -> None:
        while not self._closed:
            await asyncio.sleep(delay)
            try:
                await self.connect()
                return
            except (OSError, InvalidStatus, ConnectionClosed, TimeoutError):
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        """Stop: no more reconnects, the connection closed."""
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self.ws is not None:
            await self.ws.close()
