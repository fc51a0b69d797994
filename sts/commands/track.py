"""`sts track`: positions.csv or readings.csv in, zone events (and alerts) as JSON lines out.

The input is fed to the Engine in steps of `--step` seconds of data time, in time order,
so time-driven rules see the stream as they would live. Without `--roster` every tag
counts as a consented student: an explicit development default, said on stderr.
Nothing about individual students is printed; the files are the requested output.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from engine.batches import PositionBatch, ReadingBatch
from engine.zone_state import Hysteresis
from geometry.errors import InputError
from sts.hub import Hub
from sts.sinks import JsonLinesSink
from sts.ticks import Chunk, check_step, time_ticks


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `track` sub-command."""
    p = subparsers.add_parser(
        "track",
        help="turn positions or readings (CSV) into zone events and alerts (JSON lines)",
        description=(
            "Run the engine over positions.csv (as `sts locate` writes it) or readings.csv: "
            "zone events (enter, exit, inside, outside, cross, stale, lost) to --events-out "
            "and, with --rules, alerts to --alerts-out. Formats: docs/events.md, docs/rules.md."
        ),
    )
    p.add_argument("--floorplan", required=True, type=Path, help="floorplan.geojson or its folder")
    p.add_argument("--rules", type=Path, help="rules.toml (its timetable is read from it)")
    p.add_argument(
        "--roster",
        type=Path,
        help="roster.csv (student_id,tag,name,group,consent); without it every tag counts "
        "as consented (development only)",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--positions", type=Path, help="positions.csv (t,tag,level,x,y,uncertainty_m)"
    )
    source.add_argument("--readings", type=Path, help="readings.csv (t,tag,reader,rssi)")
    p.add_argument("--events-out", required=True, type=Path, help="events.jsonl to write")
    p.add_argument("--alerts-out", type=Path, help="alerts.jsonl to write (needs --rules)")
    p.add_argument(
        "--step", type=float, default=1.0, help="seconds of data per engine step (default 1)"
    )
    d = Hysteresis()
    p.add_argument("--margin", type=float, default=d.margin_m, help="band margin, m (0.5)")
    p.add_argument(
        "--k-uncertainty",
        type=float,
        default=d.k_uncertainty,
        help="band per m of uncertainty (1.5)",
    )
    p.add_argument(
        "--dwell", type=float, default=d.dwell_s, help="dwell before a transition, s (3)"
    )
    p.add_argument("--stale", type=float, default=d.stale_s, help="silent this long: stale, s (30)")
    p.add_argument("--lost", type=float, default=d.lost_s, help="silent this long: lost, s (120)")
    p.set_defaults(run=run)


def _hysteresis(args: argparse.Namespace) -> Hysteresis:
    return Hysteresis(
        margin_m=args.margin,
        k_uncertainty=args.k_uncertainty,
        dwell_s=args.dwell,
        stale_s=args.stale,
        lost_s=args.lost,
    )


def _reading_chunks(
    path: Path, reader_ids: Sequence[str], problems: list[str]
) -> Iterator[Chunk[ReadingBatch]]:
    from sts.readings_csv import read_readings

    readings = read_readings(path, reader_ids)
    problems.extend(f"line {p.line}: {p.message}" for p in readings.problems)
    yield Chunk(readings.batch, readings.tag_ids)


def _position_chunks(
    path: Path, level_ids: Sequence[str], problems: list[str]
) -> Iterator[Chunk[PositionBatch]]:
    from sts.readings_csv import read_positions

    positions = read_positions(path, level_ids)
    problems.extend(f"line {p.line}: {p.message}" for p in positions.problems)
    yield Chunk(positions.batch, positions.tag_ids)


def run(args: argparse.Namespace) -> int:
    """Track every tag of a positions or readings file."""
    from sts.site import SiteFiles, build_engine, load_site

    step = check_step(args.step)
    if args.alerts_out is not None and args.rules is None:
        raise InputError("--alerts-out needs --rules (without rules there are no alerts)")
    site = load_site(SiteFiles(args.floorplan, rules=args.rules, roster=args.roster))
    if site.roster is None:
        print(
            "sts track: notice: no --roster given, so every tag counts as a consented "
            "student (a development default; `sts serve` never does this)",
            file=sys.stderr,
        )
    hub = Hub(build_engine(site, hysteresis=_hysteresis(args)))
    floorplan = site.floorplan
    problems: list[str] = []
    source: Path = args.positions if args.positions is not None else args.readings
    args.events_out.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:
        events = files.enter_context(args.events_out.open("w", encoding="utf-8", newline="\n"))
        alerts = None
        if args.alerts_out is not None:
            args.alerts_out.parent.mkdir(parents=True, exist_ok=True)
            alerts = files.enter_context(args.alerts_out.open("w", encoding="utf-8", newline="\n"))
        hub.add_sink(JsonLinesSink(events, alerts))
        if args.positions is not None:
            levels = [lv.id for lv in floorplan.levels]
            hub.run_positions(time_ticks(_position_chunks(source, levels, problems), step))
        else:
            readers = [r.id for r in floorplan.readers]
            hub.run_readings(time_ticks(_reading_chunks(source, readers, problems), step))
        hub.close()
    stats = hub.stats
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        print(
            f"sts track: {source}: rejected {len(problems)} rows:\n{shown}{more}", file=sys.stderr
        )
    rows = stats.readings + stats.positions_in + stats.rejected["out_of_order"]
    dropped = stats.rejected["no_consent"]
    print(
        f"sts track: {rows} rows -> {stats.events} events in {args.events_out}"
        + (f", {stats.alerts} alerts in {args.alerts_out}" if args.alerts_out else "")
        + (f"; {dropped} rows dropped for lack of consent" if dropped else ""),
        file=sys.stderr,
    )
    return 0 if rows > 0 else 1
