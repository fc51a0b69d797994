"""`sts demo` live: the scripted Northfield morning streamed into `sts serve` on loopback.

The server runs in this process on 127.0.0.1 with a fresh data folder; demo tokens are
issued for every role and printed with the dashboard's URL. A gateway task then plays
the morning of sts/demo_morning.py into /ingest (columnar msgpack frames, one per tick)
at `speed` times real time, keeping the readings' own timestamps (08:25 on the demo
Monday), so rules and the timetable see the morning as it was scripted. Readings are
generated a minute of data at a time, never the whole morning at once. The demo stops
on Ctrl-C (or SIGTERM), or after `duration_s`; once the morning has been played the
server stays up, and the dashboard shows the badges going silent.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np
import websockets
from websockets.exceptions import ConnectionClosedOK

from engine.batches import ReadingBatch
from simulator.scripted_walks import RadioModel, hear, sample_truth
from store.db import open_store, transaction
from store.tokens import issue_token
from sts.demo_morning import Morning, plan_morning
from sts.server.app import ServeOptions, Server
from sts.site import Site, SiteFiles, load_site, nominal_radio

#: Data generated per step of the radio model, s (bounded memory whatever the speed).
CHUNK_S = 60.0
#: Demo people: (role, name, groups).
DEMO_PEOPLE = (
    ("safety", "Sam (safety lead)", ()),
    ("teacher", "Tess (Y7A tutor)", ("Y7A",)),
    ("admin", "Alex (admin)", ()),
    ("auditor", "Aud (auditor)", ()),
    ("integrator", "Integration (no coordinates)", ()),
)


@dataclass(frozen=True, slots=True)
class LiveDemo:
    """What the live demo was asked for."""

    campus: Path
    data: Path
    port: int = 8765
    speed: float = 10.0
    tick_s: float = 0.5
    duration_s: float | None = None
    seed: int = 2026


def issue_demo_tokens(data: Path) -> tuple[str, list[tuple[str, str, str]]]:
    """A gateway token and one token per demo person: (role, name, token)."""
    conn = open_store(data)
    now = time.time()
    people = []
    with transaction(conn):
        gateway, _ = issue_token(conn, name="demo-gateway", role="gateway", now=now)
        for role, name, groups in DEMO_PEOPLE:
            token, _ = issue_token(conn, name=name, role=role, now=now, groups=groups)
            people.append((role, name, token))
    conn.close()
    return gateway, people


def morning_chunks(site: Site, morning: Morning, seed: int) -> Iterator[tuple[ReadingBatch, float]]:
    """The morning's readings, a minute of data time at a time (with each chunk's start)."""
    fp = site.floorplan
    levels = [lv.id for lv in fp.levels]
    model = RadioModel(interval_s=1.0, sigma_db=4.0, sensitivity_dbm=-88.0)
    t = morning.t0
    k = 0
    while t < morning.t1:
        end = min(t + CHUNK_S, morning.t1)
        truth = sample_truth(morning.walks, levels, t, end, model.interval_s)
        yield hear(truth, fp, model, seed=seed + k), t
        t, k = end, k + 1


def columns_frame(
    number: int, batch: ReadingBatch, tag_ids: list[str], reader_ids: list[str]
) -> bytes:
    """One columnar ingest frame (docs/protocol.md) of these readings."""
    frame = {
        "type": "columns",
        "id": f"demo-{number}",
        "t": batch.t.astype("<f8").tobytes(),
        "rssi": batch.rssi.astype("<f4").tobytes(),
        "tag": batch.tag.astype("<i4").tobytes(),
        "tag_ids": tag_ids,
        "reader": batch.reader.astype("<i4").tobytes(),
        "reader_ids": reader_ids,
    }
    packed: bytes = msgpack.packb(frame, use_bin_type=True)
    return packed


async def play_morning(
    url: str, gateway: str, site: Site, morning: Morning, demo: LiveDemo
) -> None:
    """Send the morning to /ingest at `demo.speed` times real time, one frame per tick."""
    tag_ids = [w.tag for w in morning.walks]
    reader_ids = [r.id for r in site.floorplan.readers]
    step = demo.tick_s * demo.speed  # data seconds per frame
    started = time.monotonic()
    number = 0
    async with websockets.connect(
        url + "/ingest", additional_headers={"Authorization": f"Bearer {gateway}"}, max_size=None
    ) as ws:
        for batch, chunk_t0 in morning_chunks(site, morning, demo.seed):
            last = float(batch.t[-1]) if len(batch) else chunk_t0
            edges = np.arange(chunk_t0, last + step, step)
            cuts = np.searchsorted(batch.t, edges)
            for a, b, t_edge in zip(cuts[:-1], cuts[1:], edges[1:], strict=True):
                due = started + (float(t_edge) - morning.t0) / demo.speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if b > a:
                    rows = batch.take(np.arange(a, b))
                    await ws.send(columns_frame(number, rows, tag_ids, reader_ids))
                    await ws.recv()  # the server's ack: the frame is journaled
                    number += 1
    print("demo: the scripted morning has been played; the server stays up (Ctrl-C to stop)")


def run_live_demo(demo: LiveDemo) -> int:
    """Start the server, print how to open the dashboard, play the morning; 0 when stopped."""
    site = load_site(nominal_radio(SiteFiles.campus(demo.campus)))
    if site.roster is None or site.timetable is None:
        raise SystemExit(f"{demo.campus}: the demo needs roster.csv and timetable.toml there")
    morning = plan_morning(site.floorplan, site.timetable.timetable, site.roster, demo.seed)
    shutil.rmtree(demo.data, ignore_errors=True)  # every demo starts the morning afresh
    gateway, people = issue_demo_tokens(demo.data)
    print("demo: loading the campus and compiling the engine's kernels...", flush=True)
    server = Server(
        ServeOptions(
            site=demo.campus,
            port=demo.port,
            data=demo.data,
            tick_s=demo.tick_s,
            calibrated=False,
        )
    )

    def ready(url: str) -> None:
        http = url.replace("ws://", "http://")
        print(f"\nDashboard: {http}/  (open it in a browser; paste one of these tokens)")
        for role, name, token in people:
            print(f"  {role:<10} {name:<30} {token}")
        print(
            f"Playing the Northfield morning (08:25-10:10) at {demo.speed:g}x; "
            f"Ctrl-C stops{f' (or after {demo.duration_s:g} s)' if demo.duration_s else ''}.\n",
            flush=True,
        )
        loop = asyncio.get_running_loop()
        task = loop.create_task(play_morning(url, gateway, site, morning, demo))
        task.add_done_callback(_report_failure)
        if demo.duration_s:
            loop.call_later(demo.duration_s, server.stop)

    asyncio.run(server.run(on_ready=ready))
    print("demo: stopped", file=sys.stderr)
    return 0


def _report_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled() or isinstance(task.exception(), ConnectionClosedOK):
        return  # the server is shutting down
    if task.exception() is not None:
        print(f"demo: the gateway stopped: {task.exception()}", file=sys.stderr)
