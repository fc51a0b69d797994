"""A feed client's writes: handed over at once while its socket takes them, by the writer
task when the socket is full; either way every message arrives once, in order, and a
client that stops reading is found too slow."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

from store.db import open_store
from sts.server.feed import Durable, Feed
from sts.server.feed_clients import FeedClient
from sts.server.metrics import Metrics
from transports.feed_protocol import CloseCode, Subscription, View, meta_of

SAFETY = View("safety")


def alert(seq: int) -> Durable:
    body = {"id": f"al-{seq}", "tag": "a1", "zone": "Z", "severity": "critical"}
    message = {"type": "alert", "id": f"al-{seq}", "alert": body | {"state": "raised"}}
    message["seq"] = seq
    message["note"] = "x" * 2000  # a few of them fill a small socket buffer
    return Durable(seq, message, meta_of(message))


class OneClient:
    """A websockets server whose one connection is a FeedClient on `feed`."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.client: FeedClient | None = None
        self.ready = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        sock = ws.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        client = FeedClient(ws, self.feed, view=SAFETY, token_id="t", max_queue=10_000, binary=True)
        client.subscribe(Subscription(SAFETY), after_seq=0)
        self.feed.clients.add(client)
        client.writer = asyncio.get_running_loop().create_task(client.run_writer())
        self.client = client
        self.ready.set()
        await ws.wait_closed()


def publish(feed: Feed, seqs: range) -> None:
    for seq in seqs:
        feed.pending.append(alert(seq))
        feed.last_seq = seq
        feed.publish()


@asynccontextmanager
async def slow_reader(tmp_path: Path) -> AsyncIterator[tuple[Feed, FeedClient, Any]]:
    """A feed, its one FeedClient, and the other end: a client with a tiny receive buffer."""
    feed = Feed(open_store(tmp_path), group_of={}, level_ids=(), tag_ids=list, metrics=Metrics())
    feed.after_writers = asyncio.get_running_loop().call_soon
    server = OneClient(feed)
    async with serve(
        server.handler, "127.0.0.1", 0, compression=None, close_timeout=0.5
    ) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connect = websockets.connect(
            f"ws://127.0.0.1:{port}", sock=sock, max_queue=1, close_timeout=0.5
        )
        async with connect as ws:
            await server.ready.wait()
            assert server.client is not None
            yield feed, server.client, ws


def test_every_message_arrives_once_in_order_through_a_full_socket(tmp_path: Path) -> None:
    async def run() -> tuple[list[int], bool, FeedClient]:
        async with slow_reader(tmp_path) as (feed, client, ws):
            publish(feed, range(1, 61))
            await asyncio.sleep(0.2)  # not reading: the socket fills
            publish(feed, range(61, 121))
            await asyncio.sleep(0.2)
            writer_waited = client.sending_since is not None  # the writer waits for a drain
            seqs: list[int] = []
            while len(seqs) < 120:
                message: Any = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
                seqs.append(message["seq"])
            return seqs, writer_waited, client

    seqs, writer_waited, client = asyncio.run(run())
    assert writer_waited
    assert seqs == list(range(1, 121))
    assert client.queue_depth == 0 and client.sending_since is None


@pytest.mark.parametrize("messages", [60, 200])
def test_a_socket_that_stays_full_makes_the_client_too_slow(tmp_path: Path, messages: int) -> None:
    """Filled by the direct write alone (60: nothing left for the writer) or with the writer
    waiting for a drain (200), the socket's fill is timed from when it began."""

    async def run() -> tuple[bool, bool, Feed]:
        async with slow_reader(tmp_path) as (feed, client, _ws):
            began = time.monotonic()
            publish(feed, range(1, messages + 1))
            await asyncio.sleep(0.3)
            limits = {"timeout_s": 60.0, "heartbeat_s": 60.0}
            client.check(time.monotonic(), slow_after_s=5.0, **limits)
            early = client.closing
            client.check(began + 5.5, slow_after_s=5.0, **limits)
            return early, client.closing, feed

    early, closed, feed = asyncio.run(run())
    assert not early and closed
    evicted = feed.metrics.registry.get_sample_value(
        "sts_evictions_total", {"code": str(int(CloseCode.TOO_SLOW))}
    )
    assert evicted == 1
