"""A load test of a running `sts serve`: badges in over /ingest, alerts back over /feed.

`N` consented badges of the campus's roster stand still in the rooms of one level and
advertise `rate` times a second; the level's 8 nearest readers hear each advertisement
(log-distance path loss, 4 dB noise), stamped with the wall clock, sent as columnar
msgpack frames every 0.1 s by one gateway, each acknowledged. One badge in 100 (at least
one) walks from the room next door through the door into a restricted zone during the
first half of the run; one subscriber
takes the alerts. A reading's latency is from the send of the frame that completes the
alert's fix (the first frame with a reading later than the fix time + 0.5 s, the
Locator's emission rule) to the alert's arrival. Every loop is bounded by the duration.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack
import numpy as np
import numpy.typing as npt
import websockets
from shapely import contains_xy

from geometry.model import Floorplan, ZoneKind
from simulator.wire import ingest_url
from sts.site import Site
from transports.feed_client import Subscriber
from transports.ingest_codec import encode_columns

FRAME_S = 0.1
#: The Locator emits the fix at T once a reading later than T + this has arrived.
EMIT_AFTER_S = 0.5
#: Seconds a walk into the restricted zone takes.
WALK_S = 3.0
#: Seconds the subscriber waits after the last frame for the last alerts.
DRAIN_S = 5.0


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What to send: badges, their positions, who walks where and when, the readers."""

    tags: tuple[str, ...]
    start_xy: npt.NDArray[np.float64]
    end_xy: npt.NDArray[np.float64]
    door_xy: npt.NDArray[np.float64]  # the restricted zone's door, on the way in
    move_at: npt.NDArray[np.float64]  # s into the run (inf: never moves)
    reader_ids: tuple[str, ...]
    reader_xy: npt.NDArray[np.float64]
    phase: npt.NDArray[np.float64]  # each badge's advertising offset in its period, s
    zone: str  # the restricted zone walked into (only its alerts are measured)


@dataclass
class LoadResult:
    """What the run measured."""

    frames: list[tuple[float, float]] = field(default_factory=list)  # (newest t, sent at)
    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: list[tuple[float, str, float]] = field(default_factory=list)  # (arrived, id, t)
    intruders: int = 0
    seconds: float = 0.0

    def latencies(self) -> list[float]:
        """Reading-to-alert latency of every alert raised, s."""
        newest = np.array([f[0] for f in self.frames])
        sent = np.array([f[1] for f in self.frames])
        out = []
        for arrived, _id, t in self.alerts:
            i = int(np.searchsorted(newest, t + EMIT_AFTER_S, side="right"))
            if i < len(sent):
                out.append(arrived - sent[i])
        return out


def random_point(polygon: object, rng: np.random.Generator) -> tuple[float, float]:
    """A uniform random point inside a polygon (rejection sampling, bounded tries)."""
    minx, miny, maxx, maxy = polygon.bounds  # type: ignore[attr-defined]
    for _ in range(10_000):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if contains_xy(polygon, x, y):
            return float(x), float(y)
    return float((minx + maxx) / 2), float((miny + maxy) / 2)


def plan_load(
    site: Site, students: int, rate_hz: float, duration_s: float, seed: int = 1
) -> LoadPlan:
    """The badges and their walks (see the module docstring); ValueError when it cannot fit."""
    floorplan: Floorplan = site.floorplan
    consented = [e.tag for e in site.roster.entries if e.consent] if site.roster else []
    if students > len(consented):
        raise ValueError(
            f"the campus roster has {len(consented)} consented badges, fewer than --students "
            f"{students}; serve a campus with a bigger roster (benchmarks/serve_load.py makes one)"
        )
    target = next((z for z in floorplan.zones if z.kind == ZoneKind.RESTRICTED), None)
    door = next((o for o in floorplan.openings if target and target.id in o.zones), None)
    if target is None or door is None:
        raise ValueError("the floorplan has no restricted zone with a door to walk into")
    zone_of = {z.id: z for z in floorplan.zones}
    outside = zone_of[next(z for z in door.zones if z != target.id)]
    rooms = [
        z for z in floorplan.zones if z.level == target.level and z.kind != ZoneKind.RESTRICTED
    ]
    readers = [r for r in floorplan.readers if r.level == target.level]
    rng = np.random.default_rng(seed)
    start = np.array([random_point(rooms[i % len(rooms)].polygon, rng) for i in range(students)])
    end = start.copy()
    intruders = max(1, students // 100)
    move_at = np.full(students, np.inf)
    move_at[:intruders] = duration_s * (0.1 + 0.4 * np.arange(intruders) / intruders)
    inside = target.polygon.representative_point()
    for i in range(intruders):
        start[i] = random_point(outside.polygon, rng)
        end[i] = (inside.x, inside.y)
    door_mid = door.segment.interpolate(0.5, normalized=True)
    return LoadPlan(
        tuple(consented[:students]),
        start,
        end,
        np.array([door_mid.x, door_mid.y]),
        move_at,
        tuple(r.id for r in readers),
        np.array([(r.x, r.y) for r in readers]),
        rng.uniform(0, 1.0 / rate_hz, students),
        target.id,
    )


def walk(plan: LoadPlan, badges: npt.NDArray[np.intp], elapsed: float) -> npt.NDArray[np.float64]:
    """Where `badges` are `elapsed` s into the run: start, then to the door, then inside."""
    since = elapsed - plan.move_at[badges]
    first = np.clip(since / WALK_S, 0.0, 1.0)[:, None]
    second = np.clip((since - WALK_S) / WALK_S, 0.0, 1.0)[:, None]
    start, end = plan.start_xy[badges], plan.end_xy[badges]
    to_door = start * (1 - first) + plan.door_xy * first
    return np.where(second > 0, plan.door_xy * (1 - second) + end * second, to_door)


def frame_of(
    plan: LoadPlan, elapsed: float, period: float, wall: float, rng: np.random.Generator
) -> tuple[int, bytes]:
    """(rows, frame) of the advertisements due in (elapsed - FRAME_S, elapsed]."""
    due = np.flatnonzero(((elapsed - plan.phase) % period) < FRAME_S)
    xy = walk(plan, due, elapsed)
    d = np.hypot(
        xy[:, None, 0] - plan.reader_xy[None, :, 0], xy[:, None, 1] - plan.reader_xy[None, :, 1]
    )
    hearing = min(8, d.shape[1])
    nearest = np.argsort(d, axis=1)[:, :hearing]
    dist = np.take_along_axis(d, nearest, axis=1)
    rssi = -59.0 - 20.0 * np.log10(np.hypot(dist, 1.7)) + rng.normal(0, 4.0, dist.shape)
    rows = len(due) * hearing
    frame = encode_columns(
        None,
        np.full(rows, wall),
        [plan.tags[i] for i in np.repeat(due, hearing)],
        [plan.reader_ids[j] for j in nearest.ravel()],
        np.clip(rssi.ravel(), -127.0, 0.0),
    )
    return rows, frame


async def _gateway(
    url: str,
    token: str,
    plan: LoadPlan,
    period: float,
    duration_s: float,
    result: LoadResult,
    on_progress: Callable[[float], None],
) -> None:
    rng = np.random.default_rng(2)
    t0 = time.time()
    async with websockets.connect(
        ingest_url(url), additional_headers={"Authorization": f"Bearer {token}"}, max_size=2**24
    ) as ws:
        for k in range(int(duration_s / FRAME_S)):
            await asyncio.sleep(max(0.0, t0 + k * FRAME_S - time.time()))
            wall = time.time()
            rows, frame = frame_of(plan, wall - t0, period, wall, rng)
            sent = time.time()
            await ws.send(frame)
            reply = msgpack.unpackb(await ws.recv())
            result.frames.append((wall, sent))
            result.sent += rows
            result.accepted += int(reply.get("accepted", 0))
            result.rejected.update(reply.get("rejected") or {})
            on_progress(wall - t0)


async def _subscriber(
    url: str, token: str, zone: str, result: LoadResult, ready: asyncio.Event, done: asyncio.Event
) -> None:
    async with Subscriber(http_url(url), token, filters={"types": ["alert"]}) as feed:
        ready.set()
        async for message in feed:
            alert = message.get("alert") or {}
            if alert.get("state") == "raised" and alert.get("zone") == zone:
                result.alerts.append((time.time(), message["id"], float(message["alert"]["t"])))
            if done.is_set():
                return


def http_url(url: str) -> str:
    """http(s)://host:port of a server given as ws(s)://host:port[/path]."""
    base = url.rstrip("/").removesuffix("/ingest").removesuffix("/feed")
    return "http" + base[2:] if base.startswith("ws") else base


async def run_load(
    url: str,
    gateway_token: str,
    feed_token: str,
    plan: LoadPlan,
    rate_hz: float,
    duration_s: float,
    on_progress: Callable[[float], None],
) -> LoadResult:
    """Send for `duration_s`, collect alerts until `DRAIN_S` after; the measurements."""
    result = LoadResult(intruders=int(np.isfinite(plan.move_at).sum()), seconds=duration_s)
    ready, done = asyncio.Event(), asyncio.Event()
    listening = asyncio.create_task(_subscriber(url, feed_token, plan.zone, result, ready, done))
    async with asyncio.timeout(30):
        await ready.wait()
    await _gateway(url, gateway_token, plan, 1.0 / rate_hz, duration_s, result, on_progress)
    done.set()
    try:
        async with asyncio.timeout(DRAIN_S):
            await listening
    except TimeoutError:
        pass
    return result


def server_usage(url: str) -> tuple[float, float]:
    """(CPU seconds, resident bytes) of the server process, from its /metrics."""
    with urllib.request.urlopen(http_url(url) + "/metrics", timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(("process_cpu_seconds_total ", "process_resident_memory_bytes ")):
            name, value = line.split()
            values[name] = float(value)
    return values.get("process_cpu_seconds_total", 0.0), values.get(
        "process_resident_memory_bytes", 0.0
    )
