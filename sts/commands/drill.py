"""`sts drill SCENARIO --report DIR` / `sts drill --replay RUN --report DIR`: an evacuation report.

With a scenario (one with a fire_alarm event), simulates it into DIR/run (a recording
with ground truth, as `sts simulate` writes) while the engine follows it, then writes
the report into DIR: report.md, report.html with PNG plots, and drill-record.json (the
exportable record: school, date and time, drill type, counts). With `--replay`, the
recording of RUN goes through the engine instead; the report is the same, byte for
byte, as the one made while simulating. Figures: docs/simulator.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geometry.errors import InputError
from sts.drill_render import write_report
from sts.drill_report import DrillSink, drill_summary
from sts.hub import Hub
from sts.sim_options import add_overrides, scenario_from
from sts.simulation import drive_all, open_feed, prepare, simulate
from sts.site import Site, build_engine


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `drill` sub-command."""
    p = subparsers.add_parser(
        "drill",
        help="run (or replay) an evacuation and write the drill report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", type=Path, nargs="?", help="scenario TOML with a fire_alarm event")
    p.add_argument(
        "--replay", type=Path, metavar="RUN", help="a simulation folder to replay instead"
    )
    p.add_argument(
        "--campus", type=Path, help="campus folder (with --replay; default: the recording's)"
    )
    p.add_argument("--report", type=Path, required=True, help="folder for the report")
    add_overrides(p)
    p.set_defaults(run=run)


def _timezone(site: Site) -> str:
    return site.timetable.timetable.calendar.timezone if site.timetable is not None else "UTC"


def run(args: argparse.Namespace) -> int:
    """Run or replay the drill and write the report."""
    if (args.scenario is None) == (args.replay is None):
        raise InputError("sts drill: give either a SCENARIO or --replay RUN (not both)")
    sinks: list[DrillSink] = []

    def hub_for(site: Site) -> Hub:
        engine = build_engine(site)
        sinks.append(DrillSink(engine.tag_ids))
        return Hub(engine, [sinks[-1]])

    if args.replay is not None:
        feed, site = open_feed(args.replay, args.campus)
        drive_all(hub_for(site), feed.items())
        for damage in feed.damage:
            print(f"sts: recording damaged, skipped: {damage}", file=sys.stderr)
    else:
        run_dir = args.report / "run"
        simulate(prepare(scenario_from(args)), run_dir, engine_hub=hub_for)
        feed, site = open_feed(run_dir)
    summary = drill_summary(sinks[0], site.floorplan, feed.header, _timezone(site))
    if "error" in summary:
        raise InputError(f"sts drill: {summary['error']}; add a fire_alarm event to the scenario")
    written = write_report(summary, args.report)
    rec = summary["record"]
    print(
        f"Drill at {rec['school']} {rec['date']} {rec['alarm_time']}: "
        + ", ".join(f"{k} {v}" for k, v in rec["counts"].items())
    )
    print("Report: " + ", ".join(str(p) for p in written))
    return 0
