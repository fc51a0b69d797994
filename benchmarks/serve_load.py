"""The live service under load: badges into `sts serve`, subscribers in other processes.

Run: .venv/bin/python benchmarks/serve_load.py [--badges 10000] [--subscribers 100]
     [--processes 4] [--seconds 40] [--tick 0.05] [--intruders 20] [--burst 1000]

Everything on loopback, every loop bounded by --seconds. A temporary campus is
Northfield's floorplan and rules with a roster of --badges consented tags. A gateway
process sends, every 0.1 s of wall time, the advertisements due (each badge once a
second, heard by its 8 nearest readers, path-loss RSSI with 4 dB noise, stamped with
the wall clock) as msgpack column frames. At 8 s, --intruders badges walk from
corridor B into the boiler room (critical alerts); at 20 s, --burst more do at once
(a burst of alerts fanned out one message per alert per subscriber).

Printed: reading-to-alert latency at the subscriber (from the send of the first frame
whose readings let the engine emit the fix that raised the alert, to its arrival),
position rows delivered per second across subscribers, the burst's fan-out rate,
readings sent vs counted in, the server's CPU and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sts.site import SiteFiles, load_site  # noqa: E402
from tests.serve.live import ServerProcess, issue  # noqa: E402
from transports.feed_client import Subscriber  # noqa: E402
from transports.ingest_codec import encode_columns  # noqa: E402

NORTHFIELD = ROOT / "floorplans" / "northfield"
FRAME_S = 0.1
#: The Locator emits the fix at T once a reading past T + this has arrived.
LATE_TOLERANCE_S = 0.5
#: Seconds into the gateway's run when the intruders, then the burst, start walking.
INTRUDERS_AT_S, BURST_AT_S = 8.0, 20.0


def make_campus(folder: Path, badges: int) -> None:
    """Northfield's plan, rules and roster plus `badges` consented students."""
    folder.mkdir()
    for name in ("floorplan.geojson", "rules.toml", "timetable.toml"):
        shutil.copy(NORTHFIELD / name, folder / name)
    lines = (NORTHFIELD / "roster.csv").read_text().splitlines()  # its rules name these
    lines += [f"LT-{i:05d},lt-{i:05d},Student {i},Y9A,granted" for i in range(badges)]
    (folder / "roster.csv").write_text("\n".join(lines) + "\n")


def zone_point(site: Any, zone_id: str, rng: np.random.Generator) -> tuple[float, float]:
    """A random point inside a zone."""
    zone = next(z for z in site.floorplan.zones if z.id == zone_id)
    minx, miny, maxx, maxy = zone.polygon.bounds
    from shapely import contains_xy

    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if contains_xy(zone.polygon, x, y):
            return float(x), float(y)


def walk(a: np.ndarray, door: np.ndarray, b: np.ndarray, since: np.ndarray) -> np.ndarray:
    """Positions `since` seconds into a walk a -> door -> b (3 s per leg; before: at a)."""
    first = np.clip(since / 3.0, 0, 1)[:, None]
    second = np.clip((since - 3.0) / 3.0, 0, 1)[:, None]
    return np.where(second > 0, door * (1 - second) + b * second, a * (1 - first) + door * first)


async def gateway(args: argparse.Namespace) -> None:
    """Send the badges' readings in real time; log (frame max t, send wall time)."""
    import websockets

    site = load_site(SiteFiles.campus(Path(args.campus)))
    rng = np.random.default_rng(1)
    l0 = [
        z.id
        for z in site.floorplan.zones
        if z.level == "L0" and z.kind.value in ("classroom", "corridor", "hall", "library")
    ]
    start_xy = np.array([zone_point(site, l0[i % len(l0)], rng) for i in range(args.badges)])
    end_xy = start_xy.copy()
    movers = list(range(args.intruders + args.burst))
    for i in movers:
        start_xy[i] = zone_point(site, "L0-corridor-b", rng)
        end_xy[i] = zone_point(site, "L0-boiler-room", rng)
    move_at = np.full(args.badges, np.inf)
    move_at[: args.intruders] = INTRUDERS_AT_S + np.arange(args.intruders) * 0.25
    move_at[args.intruders : len(movers)] = BURST_AT_S
    door_segment = next(o for o in site.floorplan.openings if o.id == "L0-boiler-room-door")
    door = np.array(door_segment.segment.interpolate(0.5, normalized=True).coords[0])
    readers = [r for r in site.floorplan.readers if r.level == "L0"]
    rxy = np.array([(r.x, r.y) for r in readers])
    reader_ids = [r.id for r in readers]
    tags = [f"lt-{i:05d}" for i in range(args.badges)]
    phase = rng.uniform(0, 1.0, args.badges)
    log: list[tuple[float, float]] = []
    t0 = time.time()
    async with websockets.connect(
        args.url.replace("http", "ws") + "/ingest",
        additional_headers={"Authorization": f"Bearer {args.token}"},
        max_size=2**24,
    ) as ws:
        k = 0
        while True:
            wall = time.time()
            elapsed = wall - t0
            if elapsed > args.seconds:
                break
            # advertisements due in (elapsed - FRAME_S, elapsed]
            due = np.flatnonzero(((elapsed - phase) % 1.0) < FRAME_S)
            xy = walk(start_xy[due], door, end_xy[due], elapsed - move_at[due])
            d = np.hypot(xy[:, None, 0] - rxy[None, :, 0], xy[:, None, 1] - rxy[None, :, 1])
            nearest = np.argsort(d, axis=1)[:, :8]
            dist = np.take_along_axis(d, nearest, axis=1)
            rssi = -59.0 - 20.0 * np.log10(np.maximum(np.hypot(dist, 1.7), 0.1))
            rssi += rng.normal(0, 4.0, rssi.shape)
            n = len(due)
            frame = encode_columns(
                f"g{k}",
                np.full(n * 8, wall),
                [tags[i] for i in np.repeat(due, 8)],
                [reader_ids[j] for j in nearest.ravel()],
                np.clip(rssi.ravel(), -127, 0),
            )
            sent = time.time()
            await ws.send(frame)
            msgpack.unpackb(await ws.recv())
            log.append((wall, sent))
            k += 1
            await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_S - time.time()))
    Path(args.out).write_text(json.dumps({"frames": log, "rows": int(sum(1 for _ in log))}))


async def subscribers(args: argparse.Namespace) -> None:
    """`--count` subscribers; each records alert arrivals and position rows."""
    results: list[dict[str, Any]] = []

    async def one() -> None:
        alerts: list[tuple[float, str, float]] = []
        rows = 0
        async with Subscriber(
            args.url, args.token, filters={"types": ["alert", "positions"]}
        ) as feed:
            try:
                async with asyncio.timeout(args.seconds + 10.0):
                    async for m in feed:
                        if m["type"] == "positions":
                            rows += len(m["tags"])
                        elif m["type"] == "alert" and m["alert"]["state"] == "raised":
                            alerts.append((time.time(), m["id"], m["alert"]["t"]))
            except TimeoutError:
                pass
        results.append({"alerts": alerts, "rows": rows})

    await asyncio.gather(*(one() for _ in range(args.count)))
    Path(args.out).write_text(json.dumps(results))


def proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds used, peak resident set in bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return cpu, peak


def child(role: str, args: argparse.Namespace, **extra: Any) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "--role", role, "--seconds", str(args.seconds)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(cmd, cwd=ROOT)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main_run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sts-load-"))
    campus = tmp / "campus"
    make_campus(campus, args.badges)
    server = ServerProcess(tmp, tick_s=args.tick, site=campus)
    server.start()
    gw_token = issue(server.data, "gateway", "load")
    token = issue(server.data, "safety", "bench")
    subs = []
    per = args.subscribers // args.processes
    for p in range(args.processes):
        subs.append(
            child(
                "subscribers",
                args,
                url=server.url,
                token=token,
                count=per,
                out=tmp / f"subs{p}.json",
            )
        )
    time.sleep(3.0)
    assert server.proc is not None
    cpu0, _ = proc_stats(server.proc.pid)
    wall0 = time.time()
    gw = child(
        "gateway",
        args,
        url=server.url,
        token=gw_token,
        campus=campus,
        badges=args.badges,
        intruders=args.intruders,
        burst=args.burst,
        out=tmp / "gateway.json",
    )
    gw.wait()
    cpu1, peak = proc_stats(server.proc.pid)
    wall1 = time.time()
    for s in subs:
        s.wait()
    metrics = server.metrics()
    server.stop()
    frames = json.loads((tmp / "gateway.json").read_text())["frames"]
    report(
        args,
        frames,
        [r for p in range(args.processes) for r in json.loads((tmp / f"subs{p}.json").read_text())],
        metrics,
        (cpu1 - cpu0) / (wall1 - wall0),
        peak,
    )


def report(
    args: argparse.Namespace,
    frames: list[list[float]],
    subs: list[dict[str, Any]],
    metrics: dict[str, float],
    cpu: float,
    peak: int,
) -> None:
    max_t = np.array([f[0] for f in frames])
    sent = np.array([f[1] for f in frames])
    latencies: list[float] = []
    burst: list[float] = []
    for sub in subs:
        for recv, _aid, t in sub["alerts"]:
            i = int(np.searchsorted(max_t, t + LATE_TOLERANCE_S, side="right"))
            if i < len(sent):
                latencies.append(recv - sent[i])
    all_alerts = sorted(a[0] for s in subs for a in s["alerts"])
    first_burst = sent[0] + BURST_AT_S
    burst = [t for t in all_alerts if t >= first_burst]
    rows = sum(s["rows"] for s in subs)
    readings_in = sum(v for k, v in metrics.items() if k.startswith("sts_readings_in_total"))
    rejected = {k: v for k, v in metrics.items() if k.startswith("sts_readings_rejected_total")}
    print(f"badges {args.badges}, subscribers {len(subs)}, tick {args.tick} s, {args.seconds} s")
    print(f"readings counted in: {readings_in:.0f}; rejected: {sum(rejected.values()):.0f}")
    print(f"alerts received across subscribers: {len(all_alerts)}")
    print(
        f"reading-to-alert latency at the subscriber: p50 {percentile(latencies, 50) * 1e3:.1f}"
        f" ms, p99 {percentile(latencies, 99) * 1e3:.1f} ms (n={len(latencies)})"
    )
    span = sent[-1] - sent[0]
    print(f"position rows delivered: {rows / span:,.0f} /s across subscribers")
    by_alert: dict[str, list[float]] = {}
    for sub in subs:
        for recv, aid, _t in sub["alerts"]:
            by_alert.setdefault(aid, []).append(recv)
    spreads = [max(v) - min(v) for v in by_alert.values() if len(v) > 1]
    print(
        f"burst: {len(burst)} alert messages after {BURST_AT_S:.0f} s; one alert reaches every "
        f"subscriber within p50 {percentile(spreads, 50) * 1e3:.1f} ms, max "
        f"{max(spreads, default=0) * 1e3:.1f} ms ({len(by_alert)} alerts)"
    )
    span_s = burst[-1] - burst[0] if len(burst) > 1 else float("nan")
    print(
        f"burst fan-out: {len(burst)} alert messages over {span_s:.2f} s at the subscribers, "
        f"{len(burst) / span_s:,.0f} msgs/s (first to last arrival)"
    )
    print(f"server CPU {cpu * 100:.0f}% of one core, peak RSS {peak / 2**20:.0f} MiB")
    hist = {k: v for k, v in metrics.items() if k.startswith("sts_tick_seconds_")}
    count, total = hist.get("sts_tick_seconds_count", 0), hist.get("sts_tick_seconds_sum", 0)
    print(f"server tick: mean {total / max(count, 1) * 1e3:.1f} ms over {count:.0f} ticks")
    arrived = metrics.get("sts_reading_to_send_seconds_count", 0)
    in_server = metrics.get("sts_reading_to_send_seconds_sum", 0) / max(arrived, 1)
    print(f"in the server, frame arrival to sockets: mean {in_server * 1e3:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--role", default="main", choices=("main", "gateway", "subscribers"))
    p.add_argument("--badges", type=int, default=10_000)
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--tick", type=float, default=0.05)
    p.add_argument("--intruders", type=int, default=20)
    p.add_argument("--burst", type=int, default=1000)
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--campus")
    p.add_argument("--out")
    args = p.parse_args()
    if args.role == "gateway":
        asyncio.run(gateway(args))
    elif args.role == "subscribers":
        asyncio.run(subscribers(args))
    else:
        main_run(args)


if __name__ == "__main__":
    main()
