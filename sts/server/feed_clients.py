"""One subscriber's session: its queue, its writer, catching up from the store, back-pressure.

A client is either live (new durable messages are queued for it as they are published)
or catching up (its writer reads pages from the resume buffer after the last sequence
it was sent, then turns live in the same step, so nothing is missed or sent twice).
Positions are a single slot, replaced every tick: a slow client gets the newest ones,
never a backlog. When the queue passes `max_queue` the client goes back to catching
up (the messages are in the store: nothing is dropped); when its socket has stayed
full for `slow_after_s` it is closed with TOO_SLOW and resumes after reconnecting.

What is handed over is written at the event loop's next turn, everything ready for a
client in one write to its socket, while the socket takes it (its buffer under the
library's high-water mark) and nothing is ahead of it: an alert reaches the hundredth
client without a hundred task switches, and the messages of many commands handled in
one turn cost each client one system call. The writer task takes over when the socket
is full (it waits for it to drain, which is what the slow-client check times) and
when the client catches up from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from sts.server.feed import Durable, Feed, Outgoing
from transports.feed_protocol import CloseCode, Subscription, View, encode

log = logging.getLogger("sts.serve.feed")

#: Messages read from the store per page while catching up.
PAGE = 500
#: Bytes framed into one write at most (the socket's fill is checked between writes).
FLUSH_BYTES = 262_144


class FeedClient:
    """A signed-in subscriber (see the module docstring)."""

    def __init__(
        self,
        ws: ServerConnection,
        feed: Feed,
        *,
        view: View,
        token_id: str,
        max_queue: int,
        binary: bool,
    ) -> None:
        self.ws = ws
        self.feed = feed
        self.view = view
        self.token_id = token_id
        self.max_queue = max_queue
        self.binary = binary
        self.subscription: Subscription | None = None
        self.cursor = 0  # the last durable sequence queued or sent
        self.catching_up = False
        self._queue: deque[Durable] = deque()
        self._control: deque[bytes | str] = deque()
        self._positions: Outgoing | None = None
        self._wake = asyncio.Event()
        self.sending_since: float | None = None  # monotonic time the current send began
        self.last_sent = time.monotonic()
        self.last_heard = time.monotonic()
        self.closing = False
        self.writer: asyncio.Task[None] | None = None
        self._waiting_on_socket = False  # the writer is in a send that waits for a drain
        self._flush_due = False  # a write of what is ready is scheduled
        self._full_since: float | None = None  # a direct write left the socket full then

    @property
    def queue_depth(self) -> int:
        """Durable messages waiting."""
        return len(self._queue)

    # ---- what the feed hands over ---------------------------------------------------------

    def subscribe(self, subscription: Subscription, after_seq: int) -> None:
        """Start (or restart) the subscription after `after_seq`: catch up from the store."""
        self.subscription = subscription
        self._queue.clear()
        self.cursor = after_seq
        self.catching_up = after_seq < self.feed.last_seq
        self._wake.set()

    def offer(self, wanted: Sequence[Durable], last_seq: int) -> None:
        """Newly committed messages up to `last_seq`, those this subscription wants: queued
        when live (the ones after the cursor)."""
        if self.subscription is None or self.catching_up or self.closing:
            return
        self._queue.extend(d for d in wanted if d.seq > self.cursor)
        self.cursor = max(self.cursor, last_seq)
        if len(self._queue) > self.max_queue:
            # Too far behind to hold in memory: read from the store from the last one sent.
            self.cursor = self._queue[0].seq - 1
            self._queue.clear()
            self.catching_up = True
        self._hand_over()

    def offer_positions(self, positions: Outgoing) -> None:
        """The newest positions frame for this client (replaces one not yet sent)."""
        self._positions = positions
        self._hand_over()

    def send_control(self, message: dict[str, Any]) -> None:
        """A live message (welcome, done, error, lost, heartbeat) ahead of the queue."""
        message.setdefault("seq", self.cursor)
        if self.feed.training:
            message["training"] = True
        self._control.append(encode(message, self.binary))
        self._hand_over()

    # ---- the writer -----------------------------------------------------------------------

    def _catch_up(self) -> None:
        sub = self.subscription
        assert sub is not None
        page = self.feed.read_after(self.cursor, PAGE)
        for durable in page:
            if sub.wants(durable.meta, self.feed.group_of):
                self._queue.append(durable)
            self.cursor = durable.seq
        if len(page) < PAGE:
            self.catching_up = False  # caught up; nothing can be published before we return

    def _next(self, *, read_store: bool = True) -> Outgoing | None:
        if self._control:
            return Outgoing(self._control.popleft(), "control")
        if not self._queue and self.catching_up:
            if not read_store:
                return None
            self._catch_up()
        if self._queue:
            durable = self._queue.popleft()
            frame, kind = durable.frame(self.view, self.binary), str(durable.message["type"])
            return Outgoing(frame, kind, 0, durable.published_at, durable.arrived_at)
        if self._positions is not None:
            positions, self._positions = self._positions, None
            return positions
        return None

    def _socket_takes(self) -> bool:
        """Whether a frame can be written now without waiting (nothing ahead, room)."""
        ws = self.ws
        return (
            self.writer is not None
            and not self.closing
            and not self._waiting_on_socket
            and not ws.paused
            and ws.protocol.state is State.OPEN
        )

    def _hand_over(self) -> None:
        """Write what is ready at the next turn if the socket takes it; else wake the writer."""
        if not self._socket_takes():
            self._wake.set()
        elif not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Frame everything ready (up to FLUSH_BYTES) and write it to the socket at once."""
        self._flush_due = False
        done: list[Outgoing] = []
        size = 0
        while size < FLUSH_BYTES and self._socket_takes():
            item = self._next(read_store=False)
            if item is None:
                break
            self._frame(item)
            done.append(item)
            size += len(item.frame)
        if done:
            # Data frames only, the connection open: no end-of-stream marker among them.
            self.ws.transport.write(b"".join(self.ws.protocol.data_to_send()))
            self._note_fill()
            for item in done:
                self._sent(item)
        if size >= FLUSH_BYTES:
            self._hand_over()  # the rest in the next write, if the socket still takes it
        elif self._control or self._queue or self._positions is not None or self.catching_up:
            self._wake.set()  # the socket is full, or the store must be read: the writer's

    def _frame(self, item: Outgoing) -> None:
        """Frame one message into the connection's outgoing bytes (the library's framing)."""
        data = item.frame.encode() if isinstance(item.frame, str) else item.frame
        if self.binary:
            self.ws.protocol.send_binary(data)
        else:
            self.ws.protocol.send_text(data)

    def _write(self, item: Outgoing) -> None:
        """One frame into the socket's buffer, now."""
        self._frame(item)
        self.ws.send_data()
        self._note_fill()
        self._sent(item)

    def _note_fill(self) -> None:
        """After a direct write (made with the socket not full): full since now, or not."""
        self._full_since = time.monotonic() if self.ws.paused else None

    def _stuck_since(self) -> float | None:
        """Since when the socket has stayed full: a send waiting, or a direct write's fill."""
        if self.sending_since is not None:
            return self.sending_since
        if self._full_since is not None and self.ws.paused:
            return self._full_since
        return None

    def _sent(self, item: Outgoing) -> None:
        self.last_sent = time.monotonic()
        sent = self.feed.metrics.sent(item.kind)
        sent.messages.inc()
        if item.rows:
            self.feed.metrics.position_updates.inc(item.rows)
        if item.published_at:
            sent.publish_to_socket.observe(self.last_sent - item.published_at)
        if item.arrived_at:
            sent.arrival_to_socket.observe(time.time() - item.arrived_at)

    async def run_writer(self) -> None:
        """Send whatever is ready, in order, until the connection closes."""
        try:
            while not self.closing:
                item = self._next()
                if item is None:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if self._socket_takes():
                    self._write(item)
                    continue
                # The socket is full (or closing): send() waits for it to drain, or raises.
                self.sending_since = time.monotonic()
                self._waiting_on_socket = True
                try:
                    await self.ws.send(item.frame, text=not self.binary)
                finally:
                    self._waiting_on_socket = False
                self.sending_since = None
                self._sent(item)
        except ConnectionClosed:
            pass

    # ---- health ---------------------------------------------------------------------------

    def check(self, now: float, slow_after_s: float, timeout_s: float, heartbeat_s: float) -> None:
        """Close the client when too slow or silent; send a heartbeat when idle."""
        if self.closing:
            return
        stuck_since = self._stuck_since()
        if stuck_since is not None and now - stuck_since > slow_after_s:
            self.close(CloseCode.TOO_SLOW, f"too slow; resume after seq {self._resume_seq()}")
        elif now - self.last_heard > timeout_s:
            self.close(CloseCode.NO_HEARTBEAT, "no heartbeat from the client")
        elif now - self.last_sent > heartbeat_s and stuck_since is None:
            self.last_sent = now
            self.send_control({"type": "heartbeat", "at": time.time()})

    def _resume_seq(self) -> int:
        if self._queue:
            return self._queue[0].seq - 1
        return self.cursor

    def close(self, code: CloseCode, reason: str) -> None:
        """Close the connection with a code and reason, whatever state its socket is in."""
        if self.closing:
            return
        self.closing = True
        self._wake.set()
        self.feed.metrics.evictions.labels(str(int(code))).inc()
        log.info("closing a %s client: %s (%d)", self.view.role, reason, int(code))
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: CloseCode, reason: str) -> None:
        if self.writer is not None:
            self.writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(int(code), reason[:120]), timeout=2.0)
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            # A client that reads nothing never completes the closing handshake.
            with contextlib.suppress(Exception):
                self.ws.transport.abort()
