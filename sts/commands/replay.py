"""`sts replay DIR [--speed N | --fast] --events-out events.jsonl | --url ws://...`: a recording
into the engine, or into a running server.

DIR is a folder `sts simulate` wrote (its recording, floorplan and roster configure
the engine; the campus's rules and timetable come from the campus the recording
names, or `--campus`), or a bare recording folder with `--campus`. The records go
through the hub into the engine in recorded order, at N times real time or as fast
as possible (the default), and the events (and with `--alerts-out`, the alerts) are
written as JSON lines: the same ones, byte for byte, as the run that made the
recording. Damaged records are reported on stderr and skipped; intact ones are kept.
With `--url` the readings go instead to a running `sts serve` over its ingest
WebSocket, as a gateway (`--token`), at N times real time or as fast as acknowledged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulator.feed import FeedItem
from simulator.wire import item_time
from sts.hub import Hub
from sts.progress import Progress
from sts.recording_pseudonyms import add_pseudonym_options, identified, real_tags
from sts.scenario_args import add_source, calibration_from
from sts.simulation import drive_all, open_feed
from sts.sinks import JsonLinesSink
from sts.site import build_engine
from sts.wire_cli import add_wire_options, send_to_server
from transports.recording import pace


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `replay` sub-command."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recording into the engine at N x real time or as fast as possible",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source(p)
    pace_group = p.add_mutually_exclusive_group()
    pace_group.add_argument(
        "--speed", type=float, metavar="N", help="N times real time (1: real time)"
    )
    pace_group.add_argument("--fast", action="store_true", help="as fast as possible (the default)")
    p.add_argument("--events-out", type=Path, help="zone events, JSON lines (without --url)")
    p.add_argument("--alerts-out", type=Path, help="alerts, JSON lines")
    add_wire_options(p)
    add_pseudonym_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replay and write the events."""
    if args.speed is not None and not args.speed > 0:
        print("sts: --speed must be a positive number (1 is real time)", file=sys.stderr)
        return 2
    if (args.url is None) == (args.events_out is None):
        print("sts: give --events-out (into the engine) or --url (into a server)", file=sys.stderr)
        return 2
    feed, site = open_feed(args.dir, args.campus, calibration_from(args))
    header = feed.header
    if args.url is not None:
        readers = tuple(r.id for r in site.floorplan.readers)
        span = (header.get("t_start", 0.0), header.get("t_end", 1.0))
        real = real_tags(args, header, args.campus or Path(header["campus"]))
        items = identified(feed.items(), real)
        code = send_to_server(args, items, readers, span, args.speed)
        _report_damage(feed.damage)
        return code
    progress = Progress(header.get("t_end", 1.0) - header.get("t_start", 0.0), sys.stderr, "replay")
    with args.events_out.open("w", encoding="utf-8") as events:
        alerts = args.alerts_out.open("w", encoding="utf-8") if args.alerts_out else None
        hub = Hub(build_engine(site), [JsonLinesSink(events, alerts)])

        def show(item: FeedItem) -> None:
            progress.update(item_time(item) - header.get("t_start", 0.0))

        drive_all(hub, pace(feed.items(), item_time, args.speed), on_item=show)
        hub.close()
        if alerts is not None:
            alerts.close()
    progress.close()
    _report_damage(feed.damage)
    s = hub.stats
    print(
        f"Replayed {s.readings:,} readings: {s.fixes:,} fixes, {s.events:,} events, "
        f"{s.alerts:,} alert changes"
    )
    return 0


def _report_damage(damage: list[Any]) -> None:
    for part in damage:
        print(f"sts: recording damaged, skipped: {part}", file=sys.stderr)
