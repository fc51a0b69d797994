"""The feed's hand-over alone: alerts published to C WebSocket clients read by another process.

Run: .venv/bin/python benchmarks/feed_fanout.py [--clients 100] [--alerts 300] [--per-turn 1]

One process holds a Feed and a FeedClient per connection (sts/server), as the server
does, without the engine, the store's commits or sign-in; a second process opens the
connections and reads and discards everything. Each alert is stored in the Feed's
pending list and published; `--per-turn` alerts are published before the event loop
gets a turn (commands handled in bulk). Printed: the publishing process's CPU time per
alert message delivered, and how long one publish took to reach every socket.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from store.db import open_store  # noqa: E402
from sts.server.feed import Durable, Feed  # noqa: E402
from sts.server.feed_clients import FeedClient  # noqa: E402
from sts.server.metrics import Metrics  # noqa: E402
from transports.feed_protocol import Subscription, View, meta_of  # noqa: E402

SAFETY = View("safety")
#: The reading process: C raw connections, the upgrade, then read and discard.
READER = """
import asyncio, sys
UPGRADE = (b"GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\n"
           b"Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"
           b"Sec-WebSocket-Version: 13\\r\\n\\r\\n")
async def one(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(UPGRADE)
    while await reader.read(1 << 16):
        pass
async def main(port, n):
    await asyncio.gather(*(one(port) for _ in range(n)))
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


def alert(seq: int) -> Durable:
    """A raised alert as the feed stores it."""
    evidence = {"level": "L0", "x": 1.0, "y": 2.0, "uncertainty_m": 1.0}
    body: dict[str, Any] = {"id": f"al-{seq}", "tag": "a1", "zone": "Z", "severity": "critical"}
    body |= {"state": "raised", "t": 1.0e9 + seq, "evidence": evidence}
    message = {"type": "alert", "id": f"al-{seq}", "alert": body, "seq": seq}
    return Durable(seq, message, meta_of(message))


class Bench:
    """The publishing side: a Feed and its clients."""

    def __init__(self, clients: int) -> None:
        self.feed = Feed(
            open_store(Path(tempfile.mkdtemp(prefix="sts-fanout-"))),
            group_of={},
            level_ids=("L0",),
            tag_ids=list,
            metrics=Metrics(),
        )
        self.expected = clients
        self.ready = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        client = FeedClient(ws, self.feed, view=SAFETY, token_id="t", max_queue=10**6, binary=True)
        client.subscribe(Subscription(SAFETY), after_seq=0)
        self.feed.clients.add(client)
        client.writer = asyncio.get_running_loop().create_task(client.run_writer())
        if len(self.feed.clients) == self.expected:
            self.ready.set()
        await ws.wait_closed()

    def sent(self) -> float:
        value = self.feed.metrics.registry.get_sample_value(
            "sts_messages_sent_total", {"type": "alert"}
        )
        return value or 0.0

    async def publish(self, alerts: int, per_turn: int) -> tuple[float, list[float]]:
        """CPU seconds of the whole run, and each turn's time until every socket had it
        (polled every 0.2 ms or so: the times are that coarse)."""
        reached: list[float] = []
        cpu = time.process_time()
        for first in range(1, alerts + 1, per_turn):
            started = time.perf_counter()
            for seq in range(first, min(first + per_turn, alerts + 1)):
                self.feed.pending.append(alert(seq))
                self.feed.last_seq = seq
                self.feed.publish()
            while self.sent() < self.expected * min(first + per_turn - 1, alerts):
                await asyncio.sleep(0.0002)  # not a busy wait: its CPU would count
            reached.append(time.perf_counter() - started)
            await asyncio.sleep(0.005)  # the readers drain between publishes
        return time.process_time() - cpu, reached


async def run(args: argparse.Namespace) -> None:
    bench = Bench(args.clients)
    bench.feed.after_writers = asyncio.get_running_loop().call_soon
    async with serve(bench.handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        reader = subprocess.Popen([sys.executable, "-c", READER, str(port), str(args.clients)])
        try:
            await asyncio.wait_for(bench.ready.wait(), 30)
            await asyncio.sleep(0.5)
            cpu_s, reached = await bench.publish(args.alerts, args.per_turn)
        finally:
            reader.kill()
    messages = args.alerts * args.clients
    p50, p90 = np.percentile(reached, [50, 90]) * 1e3
    print(
        f"{args.clients} clients, {args.alerts} alerts, {args.per_turn} per turn: "
        f"{cpu_s / messages * 1e6:.1f} us of CPU per message; every socket had a turn's "
        f"alerts after p50 {p50:.2f} ms, p90 {p90:.2f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--alerts", type=int, default=300)
    p.add_argument("--per-turn", type=int, default=1)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
