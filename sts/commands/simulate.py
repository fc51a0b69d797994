"""`sts simulate SCENARIO --out DIR`: a simulated school day into a recording, with ground truth.

The scenario (TOML, docs/simulator.md) names the campus, the day, the population and
the events; `--students`, `--duration` and `--seed` override it. DIR gets the
recording (readings and commands, replayable with `sts replay`), the ground truth
(every person's exact path and the rule breaches that really happened), the simulated
roster and the floorplan as simulated. The same scenario and seed give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from simulator.feed import FeedItem, Readings
from sts.progress import Progress
from sts.sim_options import add_overrides, scenario_from
from sts.simulation import prepare, simulate


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `simulate` sub-command."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate a school day into a recording with ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "scenario",
        type=Path,
        help="scenario TOML (e.g. floorplans/northfield/scenarios/school-day.toml)",
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the recording and truth")
    add_overrides(p)
    p.add_argument("--no-truth", action="store_true", help="skip the ground truth (load tests)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Simulate and write the folder."""
    scenario = scenario_from(args)
    started = time.perf_counter()
    prepared = prepare(scenario)
    people = prepared.world.people
    print(
        f"Scenario {scenario.name!r} on {prepared.world.floorplan.site.name}: "
        f"{len(people)} badges, {scenario.duration_s / 60:.0f} min from {scenario.date} "
        f"{int(scenario.start_s // 3600):02d}:{int(scenario.start_s % 3600 // 60):02d}, "
        f"seed {scenario.seed}"
    )
    progress = Progress(scenario.duration_s, sys.stderr, "simulate")
    t_start = prepared.world.day_epoch + scenario.start_s

    def show(item: FeedItem) -> None:
        if isinstance(item, Readings):
            progress.update(item.t1 - t_start, "")

    summary, _ = simulate(prepared, args.out, on_item=show, truth=not args.no_truth)
    progress.close()
    took = time.perf_counter() - started
    print(
        f"{summary.readings:,} readings in {summary.ticks:,} ticks, {summary.commands} commands, "
        f"{summary.segments:,} truth segments, {summary.breaches} true breaches; "
        f"{took:.1f} s ({scenario.duration_s / took:.0f}x real time)"
    )
    print(f"Written to {args.out}/ (recording/, truth/, roster.csv, people.csv, breaches.jsonl)")
    return 0
