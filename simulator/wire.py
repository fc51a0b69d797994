"""A feed (simulated or recorded) into a running `sts serve` over its ingest WebSocket.

`send_feed` acts as one gateway: each Readings tick becomes one or more columnar msgpack
frames (at most `FRAME_ROWS` rows), sent in order and each acknowledged before the
next, at `speed` times real time by the data clock (None: as fast as acknowledgements
come back). Readings keep their data time. Commands (a fire alarm, consent changes)
are not part of the ingest protocol: they are counted as skipped, not sent. Frame ids
carry a per-run prefix, so the same recording sent twice is two runs, not duplicates.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import websockets

from simulator.feed import FeedItem, Readings
from transports.ingest_codec import encode_columns

#: Largest frame sent, in rows (the server's default limit is 200,000).
FRAME_ROWS = 50_000


@dataclass
class WireStats:
    """What went over the wire: frames, readings sent and accepted, rejections, skips."""

    frames: int = 0
    readings: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    commands_skipped: int = 0
    errors: list[str] = field(default_factory=list)


def ingest_url(url: str) -> str:
    """The /ingest URL of a server given as ws://host:port (or http://, with or without a path)."""
    base = url.rstrip("/")
    if base.startswith("http"):
        base = "ws" + base[4:]
    return base.removesuffix("/ingest").removesuffix("/feed") + "/ingest"


def frames_of(
    item: Readings, reader_ids: tuple[str, ...], frame_id: Callable[[], str]
) -> Iterable[tuple[int, bytes]]:
    """(rows, frame) chunks of one readings tick, each frame named by `frame_id()`."""
    batch = item.batch
    for start in range(0, len(batch), FRAME_ROWS):
        part = slice(start, start + FRAME_ROWS)
        tags = [item.tag_ids[c] for c in batch.tag[part].tolist()]
        readers = [reader_ids[c] for c in batch.reader[part].tolist()]
        yield len(tags), encode_columns(frame_id(), batch.t[part], tags, readers, batch.rssi[part])


def item_time(item: FeedItem) -> float:
    """The data time of a feed item (a readings tick: its start)."""
    return item.t0 if isinstance(item, Readings) else item.t


def frame_namer(prefix: str) -> Callable[[], str]:
    """Frame ids unique to this run: prefix, the run's start in ns, a counter."""
    run = f"{prefix}{time.time_ns():x}"
    numbers = itertools.count()
    return lambda: f"{run}-{next(numbers)}"


class Pace:
    """Holds a feed to `speed` times real time by the data clock (None: no waiting)."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self.start: tuple[float, float] | None = None  # (wall, data) at the first item

    def wait_s(self, item: FeedItem) -> float:
        """Seconds to wait before sending `item`."""
        if self.speed is None:
            return 0.0
        self.start = self.start or (time.monotonic(), item_time(item))
        due = self.start[0] + (item_time(item) - self.start[1]) / self.speed
        return max(0.0, due - time.monotonic())


async def send_feed(
    url: str,
    token: str,
    items: Iterable[FeedItem],
    reader_ids: tuple[str, ...],
    *,
    speed: float | None = None,
    on_item: Callable[[FeedItem], None] | None = None,
) -> WireStats:
    """Send every item's readings to the server (see the module docstring)."""
    stats = WireStats()
    frame_id = frame_namer("r")
    pace = Pace(speed)
    async with websockets.connect(
        ingest_url(url),
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=2**24,
    ) as ws:
        for item in items:
            await asyncio.sleep(pace.wait_s(item))
            if isinstance(item, Readings):
                for rows, frame in frames_of(item, reader_ids, frame_id):
                    await ws.send(frame)
                    _count(stats, rows, msgpack.unpackb(await ws.recv()))
            else:
                stats.commands_skipped += 1
            if on_item is not None:
                on_item(item)
    return stats


def _count(stats: WireStats, rows: int, reply: dict[str, Any]) -> None:
    stats.frames += 1
    stats.readings += rows
    if reply.get("type") == "error":
        stats.errors.append(f"{reply.get('code')}: {reply.get('message')}")
        return
    stats.accepted += int(reply.get("accepted", 0))
    stats.rejected.update({str(k): int(v) for k, v in (reply.get("rejected") or {}).items()})
