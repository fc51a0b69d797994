"""`sts track`: positions.csv or readings.csv in, zone events (and alerts) as JSON lines out.

The input is fed to the Engine in steps of `--step` seconds of data time, in time order,
so time-driven rules see the stream as they would live. Without `--roster` every tag
counts as a consented student: an explicit development default, said on stderr.
Nothing about individual students is printed; the files are the requested output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

import numpy as np

from engine.batches import ReadingBatch
from engine.engine import Engine, EngineOutput
from engine.zone_state import Hysteresis
from geometry.errors import InputError
from geometry.model import Floorplan
from transports.json_codec import encode_alert, encode_event


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


def _steps(t: np.ndarray, step: float) -> list[tuple[int, int]]:
    """Cut a time-sorted column into [a, b) slices of `step` seconds of data time."""
    if len(t) == 0:
        return []
    k = np.floor((t - t[0]) / step).astype(np.int64)
    cuts = np.flatnonzero(np.diff(k)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(t)]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _write(
    out: EngineOutput, events: IO[str], alerts: IO[str] | None, counts: dict[str, int]
) -> None:
    for e in out.events:
        events.write(encode_event(e) + "\n")
    if alerts is not None:
        for a in out.alerts:
            alerts.write(encode_alert(a) + "\n")
    counts["events"] += len(out.events)
    counts["alerts"] += len(out.alerts)
    counts["no_consent"] += int(out.rejected.get("no_consent", 0))


def _build_engine(args: argparse.Namespace, floorplan: Floorplan) -> Engine:
    """The engine with the roster and rules the arguments name."""
    roster = None
    if args.roster is not None:
        from sts.rules_toml import read_roster

        roster = read_roster(args.roster)
    else:
        print(
            "sts track: notice: no --roster given, so every tag counts as a consented "
            "student (a development default; `sts serve` never does this)",
            file=sys.stderr,
        )
    rules = None
    if args.rules is not None:
        from engine.rules import RuleSet
        from sts.rules_toml import load_rules, load_timetable

        loaded = load_rules(args.rules, floorplan, roster)
        timetable = None
        if loaded.timetable is not None:
            timetable = load_timetable(loaded.timetable, floorplan, roster).timetable
        rules = RuleSet(
            loaded.config,
            floorplan,
            timetable=timetable,
            tag_groups=roster.tag_groups() if roster is not None else None,
        )
    elif args.alerts_out is not None:
        raise InputError("--alerts-out needs --rules (without rules there are no alerts)")
    hysteresis = Hysteresis(
        margin_m=args.margin,
        k_uncertainty=args.k_uncertainty,
        dwell_s=args.dwell,
        stale_s=args.stale,
        lost_s=args.lost,
    )
    return Engine(
        floorplan,
        roster=None if roster is None else roster.entries,
        rules=rules,
        hysteresis=hysteresis,
    )


def run(args: argparse.Namespace) -> int:
    """Track every tag of a positions or readings file."""
    from sts.floorplan_io import load_floorplan

    if not (args.step > 0 and np.isfinite(args.step)):
        raise InputError(f"--step must be a positive number of seconds, got {args.step}")
    floorplan = load_floorplan(args.floorplan).floorplan
    engine = _build_engine(args, floorplan)
    counts = {"events": 0, "alerts": 0, "no_consent": 0}
    problems: list[str] = []
    args.events_out.parent.mkdir(parents=True, exist_ok=True)
    alerts_fh: IO[str] | None = None
    with args.events_out.open("w", encoding="utf-8", newline="\n") as events_fh:
        if args.alerts_out is not None:
            args.alerts_out.parent.mkdir(parents=True, exist_ok=True)
            alerts_fh = args.alerts_out.open("w", encoding="utf-8", newline="\n")
        try:
            if args.positions is not None:
                source = args.positions
                from sts.readings_csv import read_positions

                positions = read_positions(args.positions, [lv.id for lv in floorplan.levels])
                batch, tags = positions.batch, positions.tag_ids
                problems = [f"line {p.line}: {p.message}" for p in positions.problems]
                rows = len(batch)
                for a, b in _steps(batch.t, args.step):
                    part = batch.take(np.arange(a, b))
                    _write(engine.process_positions(part, tags), events_fh, alerts_fh, counts)
            else:
                from sts.readings_csv import read_readings

                source = args.readings
                readings = read_readings(args.readings, [r.id for r in floorplan.readers])
                problems = [f"line {p.line}: {p.message}" for p in readings.problems]
                order = np.argsort(readings.batch.t, kind="stable")
                rb: ReadingBatch = readings.batch.take(order)
                rows = len(rb)
                for a, b in _steps(rb.t, args.step):
                    out = engine.process(rb.take(np.arange(a, b)), readings.tag_ids)
                    _write(out, events_fh, alerts_fh, counts)
                _write(engine.flush(), events_fh, alerts_fh, counts)
        finally:
            if alerts_fh is not None:
                alerts_fh.close()
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:10])
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        print(
            f"sts track: {source}: rejected {len(problems)} rows:\n{shown}{more}", file=sys.stderr
        )
    dropped = counts["no_consent"]
    print(
        f"sts track: {rows} rows -> {counts['events']} events in {args.events_out}"
        + (f", {counts['alerts']} alerts in {args.alerts_out}" if args.alerts_out else "")
        + (f"; {dropped} rows dropped for lack of consent" if dropped else ""),
        file=sys.stderr,
    )
    return 0 if rows > 0 else 1
