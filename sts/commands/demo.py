"""`sts demo`: a scripted Northfield morning, live on the dashboard or as a batch run.

By default (live) it starts `sts serve` on loopback, prints the dashboard's URL and a
demo token for each role, and streams the morning into it at `--speed` times real time
(sts/demo_live.py) until Ctrl-C or `--duration`.

With `--batch` it runs the morning through locate, track, rules and attendance at once:
it validates and renders the sample campus, generates readings for every badge of the
roster from scripted walks with a plain path-loss radio, runs them through the Engine
(consent gate, windowing, trilateration, tracking, zones, rules) in one-second steps
with a progress bar, then prints the notable events, the alerts with their evidence,
and the attendance table. Everything it prints is also written to `--out`, with the
readings as CSV so each stage can be rerun by hand with `sts locate` and `sts track`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from engine.attendance import attendance
from engine.batches import ReadingBatch
from engine.events import Alert, EventKind, ZoneEvent
from geometry.errors import InputError
from geometry.model import Floorplan
from simulator.scripted_walks import RadioModel, hear, sample_truth
from sts.attendance_csv import format_table
from sts.demo_morning import Morning, plan_morning
from sts.hub import Hub, HubStats
from sts.progress import Progress
from sts.sinks import CollectSink, JsonLinesSink
from sts.site import Site, build_engine
from sts.ticks import Chunk, Tick, time_ticks

NORTHFIELD = Path(__file__).resolve().parents[2] / "floorplans" / "northfield"
STEP_S = 10.0  # seconds of data per engine call: the live server's batching


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `demo` sub-command."""
    p = subparsers.add_parser(
        "demo",
        help="run a scripted Northfield morning through the whole engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--campus", type=Path, default=NORTHFIELD, help="campus folder")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the outputs")
    p.add_argument("--seed", type=int, default=2026, help="seed of the walks and the radio")
    p.add_argument(
        "--batch", action="store_true", help="run the morning at once and print it (no server)"
    )
    live = p.add_argument_group("live (the default)")
    live.add_argument("--port", type=int, default=8765, help="loopback port of the server")
    live.add_argument("--speed", type=float, default=10.0, help="times real time (default 10)")
    live.add_argument("--duration", type=float, default=None, help="stop after this many s")
    live.add_argument(
        "--data", type=Path, default=Path("out/demo/live"), help="the server's data (wiped)"
    )
    p.set_defaults(run=run)


def _clock(t: float) -> str:
    """School-local wall time of an epoch time (Northfield is in Europe/London)."""
    return datetime.fromtimestamp(t, ZoneInfo("Europe/London")).strftime("%H:%M:%S")


def _run_engine(
    site: Site, batch: ReadingBatch, tag_ids: list[str], morning: Morning, out: Path
) -> tuple[CollectSink, HubStats]:
    """The morning's readings through the hub in STEP_S ticks, to memory and JSON lines."""
    collected = CollectSink()
    hub = Hub(build_engine(site), [collected])
    progress = Progress(morning.t1 - morning.t0, sys.stderr, "engine")

    def show(tick: Tick[ReadingBatch]) -> None:
        if hub.stats.ticks % 30 == 1:
            t = float(tick.batch.t[-1])
            progress.update(t - morning.t0, f"{_clock(t)} events {hub.stats.events}")

    with (
        (out / "events.jsonl").open("w", encoding="utf-8") as events,
        (out / "alerts.jsonl").open("w", encoding="utf-8") as alerts,
    ):
        hub.add_sink(JsonLinesSink(events, alerts))
        hub.run_readings(time_ticks([Chunk(batch, tuple(tag_ids))], STEP_S), on_tick=show)
        hub.advance(morning.t1)
        hub.close()
    progress.update(morning.t1 - morning.t0, f"{_clock(morning.t1)} events {hub.stats.events}")
    progress.close()
    return collected, hub.stats


def _print_events(events: list[ZoneEvent], floorplan: Floorplan, morning: Morning) -> None:
    kinds = Counter(e.kind.value for e in events)
    print(
        f"\nZone events: {len(events)} ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))})"
    )
    sc = morning.scene
    restrooms = {z.id for z in floorplan.zones if z.kind == "restroom"}
    watched = {
        sc.boiler_room: {"L0-boiler-room"},
        sc.leaves_safe_area: {"L0-staff-car-park", "L0-safe-area"},
        sc.long_toilet: restrooms,
    }
    shown = [
        e
        for e in events
        if e.zone in watched.get(e.tag, ())
        and e.kind in (EventKind.ENTER, EventKind.EXIT, EventKind.CROSS)
        and e.t > morning.t0 + 20 * 60  # after arrival: the incidents, not the way in
    ]
    print("Events of the scripted incidents (all events: events.jsonl):")
    for e in shown:
        ev = e.evidence
        where = f" at ({ev.x:.1f}, {ev.y:.1f}) +-{ev.uncertainty_m:.1f} m" if ev else ""
        dur = f" after {e.duration_s / 60:.1f} min" if e.duration_s is not None else ""
        print(f"  {_clock(e.t)}  {e.tag:<11} {e.kind.value:<5} {e.zone}{dur}{where}")


def _print_alerts(alerts: list[Alert], morning: Morning) -> None:
    latest: dict[str, Alert] = {}
    for a in alerts:
        latest[a.id] = a
    print(f"\nAlerts: {len(latest)} (each waits for a person to acknowledge it)")
    for a in sorted(latest.values(), key=lambda a: a.t):
        ev = a.evidence
        evidence = (
            f"evidence: ({ev.x:.1f}, {ev.y:.1f}) on {ev.level}, +-{ev.uncertainty_m:.1f} m, "
            f"{ev.age_s:.0f} s old"
            if ev
            else "evidence: none"
        )
        print(f"  {_clock(a.t)}  [{a.severity.value:>8}] {a.rule}: {a.tag} in {a.zone or '-'}")
        print(f"            {a.message}; {evidence}; state {a.state.value}")


def run(args: argparse.Namespace) -> int:
    """Run the demo morning: live on the dashboard, or with --batch at once."""
    if args.batch:
        return run_batch(args)
    from sts.demo_live import LiveDemo, run_live_demo

    if not (args.speed > 0) or (args.duration is not None and not args.duration > 0):
        raise InputError("--speed and --duration must be positive numbers")
    demo = LiveDemo(
        campus=args.campus,
        data=args.data,
        port=args.port,
        speed=args.speed,
        duration_s=args.duration,
        seed=args.seed,
    )
    return run_live_demo(demo)


def run_batch(args: argparse.Namespace) -> int:
    """Run the demo morning at once and print what a safety team would see."""
    from sts.site import SiteFiles, load_site, nominal_radio

    started = time.perf_counter()
    out: Path = args.out
    site = load_site(nominal_radio(SiteFiles.campus(args.campus)))
    if site.roster is None or site.rules is None or site.timetable is None:
        raise InputError(
            f"{args.campus}: the demo needs roster.csv, rules.toml and timetable.toml there"
        )
    out.mkdir(parents=True, exist_ok=True)
    _show_campus(site, out)
    morning, batch, tag_ids = _morning_readings(site, args.seed)
    _write_readings(out / "readings.csv", batch, tag_ids, [r.id for r in site.floorplan.readers])

    run_started = time.perf_counter()
    collected, stats = _run_engine(site, batch, tag_ids, morning, out)
    events, alerts = collected.events, collected.alerts
    run_s = time.perf_counter() - run_started
    print(
        f"Engine: {stats.fixes:,} fixes, {len(events):,} events, {len(alerts)} alert changes in "
        f"{run_s:.1f} s ({len(batch) / run_s / 1e6:.2f} M readings/s, compile time included)"
    )
    if stats.rejected:
        print("  dropped: " + ", ".join(f"{v:,} {k}" for k, v in sorted(stats.rejected.items())))
    _print_events(events, site.floorplan, morning)
    _print_alerts(alerts, morning)
    _report_attendance(site, events, morning, out)
    print(
        f"\nOutputs in {out}/: readings.csv, events.jsonl, alerts.jsonl, attendance.csv, "
        f"northfield.png ({time.perf_counter() - started:.0f} s in all)"
    )
    return 0


def _show_campus(site: Site, out: Path) -> None:
    """Print what the campus holds and render it to out/northfield.png."""
    from sts.render import render_floorplan

    fp = site.floorplan
    kinds = Counter(z.kind.value for z in fp.zones)
    print(
        f"Campus {fp.site.name}: {len(fp.levels)} levels, {len(fp.zones)} zones, "
        f"{len(fp.readers)} readers, {len(fp.openings)} doors; valid "
        f"({len(site.warnings)} warnings)"
    )
    print("  zones by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    render_floorplan(fp, out / "northfield.png")
    print(f"  picture: {out / 'northfield.png'}")


def _morning_readings(site: Site, seed: int) -> tuple[Morning, ReadingBatch, list[str]]:
    """The scripted morning, and the readings the radio model hears of it."""
    fp, roster, timetable = site.floorplan, site.roster, site.timetable
    assert roster is not None and timetable is not None  # checked by run()
    morning = plan_morning(fp, timetable.timetable, roster, seed)
    model = RadioModel(interval_s=1.0, sigma_db=4.0, sensitivity_dbm=-88.0)
    truth = sample_truth(
        morning.walks, [lv.id for lv in fp.levels], morning.t0, morning.t1, model.interval_s
    )
    batch = hear(truth, fp, model, seed=seed)
    consented = sum(e.consent for e in roster.entries)
    print(
        f"\nMorning of {morning.t0:.0f}..{morning.t1:.0f} (08:25-10:10 Europe/London): "
        f"{len(morning.walks)} badges ({consented} with consent), "
        f"{len(batch):,} readings from the radio model"
    )
    print(
        f"  scene: {morning.scene.late} arrives late, {morning.scene.boiler_room} enters the "
        f"boiler room, {morning.scene.leaves_safe_area} (Year 7) leaves the safe area, "
        f"{morning.scene.long_toilet} stays in the toilets"
    )
    return morning, batch, [w.tag for w in morning.walks]


def _report_attendance(site: Site, events: list[ZoneEvent], morning: Morning, out: Path) -> None:
    """The attendance of the lessons over by the end of the morning, printed and as CSV."""
    roster, timetable = site.roster, site.timetable
    assert roster is not None and timetable is not None  # checked by run()
    # A lesson still running has no verdict yet.
    records = [
        r
        for r in attendance(
            timetable.timetable, roster.members(), events, morning.t0, morning.t1, timetable.policy
        )
        if r.end <= morning.t1
    ]
    table = format_table(records, roster, timetable.timetable.calendar)
    (out / "attendance.csv").write_text(table, encoding="utf-8")
    statuses = Counter(r.status.value for r in records)
    print(f"\nAttendance ({', '.join(f'{v} {k}' for k, v in sorted(statuses.items()))}):")
    _print_attendance(table)


def _print_attendance(table: str) -> None:
    keep = ("period", "group", "room", "tag", "status", "first_arrival", "minutes_in_room")
    lines = [line.split(",") for line in table.strip().splitlines()]
    cols = [lines[0].index(c) for c in keep if c in lines[0]]
    rows = [[r[i] for i in cols] for r in lines]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)))


def _write_readings(
    path: Path, batch: ReadingBatch, tag_ids: list[str], reader_ids: list[str]
) -> None:
    tags = np.asarray(tag_ids, dtype=object)[batch.tag]
    readers = np.asarray(reader_ids, dtype=object)[batch.reader]
    with path.open("w", encoding="utf-8") as f:
        f.write("t,tag,reader,rssi\n")
        f.writelines(
            f"{t:.3f},{tag},{reader},{int(rssi)}\n"
            for t, tag, reader, rssi in zip(
                batch.t.tolist(), tags, readers, batch.rssi.tolist(), strict=True
            )
        )
