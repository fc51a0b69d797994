"""The live service under load: badges into `sts serve`, subscribers in other processes.

Run: .venv/bin/python benchmarks/serve_load.py [--badges 10000] [--subscribers 100]
     [--processes 4] [--seconds 40] [--tick 0.05] [--intruders 20] [--burst 1000]

Everything on loopback, every loop bounded by --seconds. A temporary campus is
Northfield's floorplan and rules with a roster of --badges consented tags. A gateway
process sends, every 0.1 s of wall time, the advertisements due (each badge once a
second, heard by its 8 nearest readers, path-loss RSSI with 4 dB noise, stamped with
the wall clock) as msgpack column frames. At 8 s, --intruders badges walk from
corridor B into the boiler room (critical alerts); at 20 s, --burst more do at once,
advertising in step (their alerts are raised in one tick and fanned out together,
one message per alert per subscriber). The gateway's frames are encoded before the
run and only stamped with the clock when sent; the subscribers are cheap counters
(benchmarks/feed_counter.py), so what the run measures is mostly the server.

Printed (benchmarks/serve_load_report.py): latency at the subscribers, the server's
own stages from its /metrics histograms, position rows and alert messages delivered,
the burst's fan-out, and the CPU-seconds per second of the server, the gateway and the
subscribers against the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.feed_counter import counting_feed  # noqa: E402
from benchmarks.serve_load_report import BURST_AT_S, Fanout, Run, report  # noqa: E402
from sts.site import SiteFiles, load_site  # noqa: E402
from tests.serve.live import ServerProcess, issue  # noqa: E402
from transports.feed_client import Subscriber  # noqa: E402
from transports.ingest_codec import encode_columns  # noqa: E402

NORTHFIELD = ROOT / "floorplans" / "northfield"
FRAME_S = 0.1
#: Seconds into the gateway's run when the intruders start walking (the burst: BURST_AT_S).
INTRUDERS_AT_S = 8.0
#: Seconds the subscribers keep reading after the gateway's last frame.
SETTLE_S = 3.0
#: A time no reading has: the gateway's frames carry it until their send stamps the clock.
PLACEHOLDER_T = -1.2345678901234567e300
#: The server's configuration: the defaults (a 256 KiB send buffer per client, ...), with
#: sign-in failures not rate-limited (a hundred subscribers from one address).
BENCH_CONFIG = "[feed]\nmax_failures = 100000\n"


def make_campus(folder: Path, badges: int) -> None:
    """Northfield's plan, rules and roster plus `badges` consented students."""
    folder.mkdir()
    for name in ("floorplan.geojson", "rules.toml", "timetable.toml", "retention.toml"):
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


def gateway_frames(args: argparse.Namespace) -> list[tuple[bytes, int]]:
    """Every frame of the run, encoded before it starts: (frame, rows); times patched at send.

    Frame k carries the advertisements due in ((k - 1) * FRAME_S, k * FRAME_S] seconds
    into the run, each row stamped with the time placeholder `PLACEHOLDER_T`."""
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
    # The burst's badges advertise in step, so their alerts are raised in the same tick:
    # one hand-over of (burst x subscribers) messages measures the fan-out, not the walk.
    phase[args.intruders : len(movers)] = FRAME_S / 2
    frames = []
    for k in range(int(args.seconds / FRAME_S) + 1):
        elapsed = k * FRAME_S
        due = np.flatnonzero(((elapsed - phase) % 1.0) < FRAME_S)
        xy = walk(start_xy[due], door, end_xy[due], elapsed - move_at[due])
        d = np.hypot(xy[:, None, 0] - rxy[None, :, 0], xy[:, None, 1] - rxy[None, :, 1])
        nearest = np.argsort(d, axis=1)[:, :8]
        dist = np.take_along_axis(d, nearest, axis=1)
        rssi = -59.0 - 20.0 * np.log10(np.maximum(np.hypot(dist, 1.7), 0.1))
        rssi += rng.normal(0, 4.0, rssi.shape)
        n = len(due) * 8
        frame = encode_columns(
            f"g{k}",
            np.full(n, PLACEHOLDER_T),
            [tags[i] for i in np.repeat(due, 8)],
            [reader_ids[j] for j in nearest.ravel()],
            np.clip(rssi.ravel(), -127, 0),
        )
        frames.append((frame, n))
    return frames


def stamped(frame: bytes, rows: int, t: float) -> bytes:
    """The frame with every row's time set to `t` (the placeholder column replaced)."""
    column = np.full(rows, PLACEHOLDER_T).tobytes()
    at = frame.find(column)
    assert at > 0, "the frame's time column holds the placeholder"
    return frame[:at] + np.full(rows, t).tobytes() + frame[at + len(column) :]


async def gateway(args: argparse.Namespace) -> None:
    """Send the pre-encoded frames at their due times; log (frame time, send wall time)."""
    import websockets

    frames = gateway_frames(args)
    log: list[tuple[float, float]] = []
    async with websockets.connect(
        args.url.replace("http", "ws") + "/ingest",
        additional_headers={"Authorization": f"Bearer {args.token}"},
        max_size=2**24,
        compression=None,
    ) as ws:
        Path(args.out + ".ready").write_text("")
        t0 = time.time()
        for k, (frame, rows) in enumerate(frames):
            await asyncio.sleep(max(0.0, t0 + k * FRAME_S - time.time()))
            wall = time.time()
            data = stamped(frame, rows, wall) if rows else frame
            log.append((wall, time.time()))
            await ws.send(data)
            await ws.recv()  # the acknowledgement
    Path(args.out).write_text(json.dumps({"frames": log}))


async def subscribers(args: argparse.Namespace) -> None:
    """`--count` counting subscribers (benchmarks/feed_counter.py) until `--stop` exists."""
    filters = {"types": args.types.split(",")}
    feeds = [await counting_feed(args.url, args.token, filters) for _ in range(args.count)]
    Path(args.out + ".ready").write_text("")
    while not Path(args.stop).exists():
        await asyncio.sleep(0.2)
    results = [
        {
            "alerts": f.counts.alerts,
            "rows": f.counts.rows,
            "frames": f.counts.frames,
            "bytes": f.counts.bytes,
            "closed": f.counts.closed,
            "changes": f.counts.changes,
        }
        for f in feeds
    ]
    Path(args.out).write_text(json.dumps(results))


async def commander(args: argparse.Namespace) -> None:
    """Once `--go` exists: acknowledge, then resolve, every alert raised so far, at once.

    Each change is one message to every subscriber: the fan-out of alerts one by one,
    with no readings coming in. Writes the time of the first command and the last reply."""
    ids: list[str] = []
    replies = 0
    answered = asyncio.Event()
    async with Subscriber(args.url, args.token, filters={"types": ["alert"]}) as feed:

        async def read() -> None:
            nonlocal replies
            async for m in feed:
                if m["type"] == "alert" and m["alert"]["state"] == "raised":
                    ids.append(m["id"])
                elif m["type"] in ("done", "error"):
                    replies += 1
                    if replies == 2 * len(ids):
                        answered.set()

        reader = asyncio.create_task(read())
        Path(args.out + ".ready").write_text("")
        while not Path(args.go).exists():
            await asyncio.sleep(0.1)
        started = time.time()
        for command in (feed.ack, feed.resolve):
            for alert in list(ids):
                await command(alert, "load test")
        await asyncio.wait_for(answered.wait(), 120)
        ended = time.time()
        reader.cancel()
    Path(args.out).write_text(json.dumps({"started": started, "ended": ended, "alerts": len(ids)}))


def proc_times(pid: int) -> np.ndarray:
    """[seconds on a CPU, seconds runnable but waiting for one] of a process's threads."""
    total = np.zeros(2)
    for task in Path(f"/proc/{pid}/task").iterdir():
        on_cpu, waiting, _ = (Path(task) / "schedstat").read_text().split()
        total += (int(on_cpu) / 1e9, int(waiting) / 1e9)
    return total


def machine_busy() -> float:
    """Seconds all cores together have been busy since boot (every process, not only ours)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> int:
    """Peak resident set of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(role: str, args: argparse.Namespace, **extra: Any) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "--role", role, "--seconds", str(args.seconds)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(cmd, cwd=ROOT)


def wait_ready(paths: list[Path], procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait until every child wrote its `.ready` file (fail if one died)."""
    deadline = time.monotonic() + 300
    while not all(Path(f"{p}.ready").exists() for p in paths):
        assert all(p.poll() is None for p in procs), "a load process ended before it was ready"
        assert time.monotonic() < deadline, "load processes not ready within 300 s"
        time.sleep(0.1)


def main_run(args: argparse.Namespace) -> None:
    assert args.intruders + args.burst <= args.badges, "--intruders + --burst exceed --badges"
    tmp = Path(tempfile.mkdtemp(prefix="sts-load-"))
    campus = tmp / "campus"
    make_campus(campus, args.badges)
    server = ServerProcess(tmp, config=BENCH_CONFIG, tick_s=args.tick, site=campus).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        report(args, *measure(args, tmp, server, procs))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        server.stop()


def wait_sends_settle(server: ServerProcess, timeout_s: float = 60.0) -> None:
    """Until the server's count of alert messages sent stops growing (its replies to the
    commander can be done while the changes are still on their way to the subscribers)."""
    key = 'sts_messages_sent_total{type="alert"}'
    deadline = time.monotonic() + timeout_s
    last = -1.0
    while time.monotonic() < deadline:
        sent = server.metrics().get(key, 0.0)
        if sent == last:
            return
        last = sent
        time.sleep(1.0)


def snapshot(pids: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """[on CPU, waiting] seconds so far of each party, and the whole machine's busy time."""
    out = {k: sum((proc_times(p) for p in v), np.zeros(2)) for k, v in pids.items()}
    out["machine"] = np.array([machine_busy(), 0.0])
    return out


def measure(
    args: argparse.Namespace, tmp: Path, server: ServerProcess, procs: list[subprocess.Popen[bytes]]
) -> tuple[list[list[float]], list[Any], Run, Fanout]:
    """Subscribers in, the gateway's run, then the fan-out phase; what each measured."""
    assert server.proc is not None
    token = issue(server.data, "safety", "bench")
    outs = [tmp / f"subs{p}.json" for p in range(args.processes)]
    stop, go, cmd_out, gw_out = tmp / "stop", tmp / "go", tmp / "commander.json", tmp / "gw.json"
    per = args.subscribers // args.processes
    subs = [
        child(
            "subscribers",
            args,
            url=server.url,
            token=token,
            count=per,
            out=o,
            stop=stop,
            types=args.types,
        )
        for o in outs
    ]
    cmd = child("commander", args, url=server.url, token=token, out=cmd_out, go=go)
    procs += [*subs, cmd]
    wait_ready([*outs, cmd_out], [*subs, cmd])
    gw_token = issue(server.data, "gateway", "load")
    extra = {"badges": args.badges, "intruders": args.intruders, "burst": args.burst}
    gw = child(
        "gateway", args, url=server.url, token=gw_token, campus=tmp / "campus", out=gw_out, **extra
    )
    procs.append(gw)
    wait_ready([gw_out], [gw])
    pids = {"server": [server.proc.pid], "gateway": [gw.pid], "subscribers": [s.pid for s in subs]}
    before, cpu0, wall0 = server.metrics(), snapshot(pids), time.time()
    mid: dict[str, float] = {}
    while gw.poll() is None:
        cpu_gw = proc_times(gw.pid)  # its last reading before it exits
        if not mid and time.time() > wall0 + BURST_AT_S:
            mid = server.metrics()  # the single alerts are in; the burst's are yet to come
        time.sleep(0.2)
    assert gw.returncode == 0, "the gateway failed"
    time.sleep(SETTLE_S)
    del pids["gateway"]
    cpu1, wall1 = snapshot(pids) | {"gateway": cpu_gw}, time.time()
    cpu = {k: (float(cpu1[k][0] - cpu0[k][0]), float(cpu1[k][1] - cpu0[k][1])) for k in cpu0}
    run = Run(wall1 - wall0, cpu, peak_rss(server.proc.pid), before, mid, server.metrics())
    go.write_text("")
    cmd.wait(180)
    wait_sends_settle(server)
    cpu2 = snapshot(pids)
    fanout = Fanout(json.loads(cmd_out.read_text()), float(cpu2["server"][0] - cpu1["server"][0]))
    stop.write_text("")
    for sub in subs:
        sub.wait(60)
    frames = json.loads(gw_out.read_text())["frames"]
    return frames, [r for o in outs for r in json.loads(o.read_text())], run, fanout


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--role", default="main", choices=("main", "gateway", "subscribers", "commander")
    )
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
    p.add_argument("--stop")
    p.add_argument("--go")
    p.add_argument("--types", default="alert,positions", help="what the subscribers take")
    args = p.parse_args()
    if args.role == "gateway":
        asyncio.run(gateway(args))
    elif args.role == "subscribers":
        asyncio.run(subscribers(args))
    elif args.role == "commander":
        asyncio.run(commander(args))
    else:
        main_run(args)


if __name__ == "__main__":
    main()
