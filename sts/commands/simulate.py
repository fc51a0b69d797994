"""`sts simulate SCENARIO --out DIR`: a simulated school day into a recording, with ground truth.

The scenario (TOML, docs/simulator.md) names the campus, the day, the population and
the events; `--students`, `--duration` and `--seed` override it. DIR gets the
recording (readings and commands, replayable with `sts replay`), the ground truth
(every person's exact path and the rule breaches that really happened), the simulated
roster and the floorplan as simulated. The same scenario and seed give the same bytes.
With `--url` (instead of `--out`) the readings go to a running `sts serve` over its
ingest WebSocket as a gateway (`--token`), at `--speed N` times real time or as fast as
acknowledged; the server must serve a campus whose roster has the simulated badges
(the campus roster's own tags come first, so `--students` up to its size fits it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from simulator.campus import CampusSim
from simulator.feed import FeedItem, Readings
from sts.progress import Progress
from sts.recording_pseudonyms import add_pseudonym_options, pseudonyms_from
from sts.scenario_args import add_overrides, scenario_from
from sts.simulation import RECORDING, prepare, simulate
from sts.wire_cli import add_wire_options, send_to_server


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
    p.add_argument("--out", type=Path, help="folder for the recording and truth")
    add_overrides(p)
    add_wire_options(p)
    p.add_argument("--speed", type=float, metavar="N", help="with --url: N times real time")
    p.add_argument("--no-truth", action="store_true", help="skip the ground truth (load tests)")
    add_pseudonym_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Simulate and write the folder."""
    if (args.url is None) == (args.out is None):
        print("sts: give --out DIR (a recording) or --url ws://... (a server)", file=sys.stderr)
        return 2
    if args.speed is not None and not args.speed > 0:
        print("sts: --speed must be a positive number (1 is real time)", file=sys.stderr)
        return 2
    if args.out is not None and _holds_a_recording(args.out):
        print(
            f"sts: {args.out}/{RECORDING} already holds a recording; a second day would be "
            "appended to it. Simulate into a new folder, or remove the old one first",
            file=sys.stderr,
        )
        return 2
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
    t_start = prepared.world.day_epoch + scenario.start_s
    if args.url is not None:
        readers = tuple(r.id for r in prepared.world.floorplan.readers)
        items = CampusSim(prepared.world, scenario).feed()
        span = (t_start, t_start + scenario.duration_s)
        return send_to_server(args, items, readers, span, args.speed)
    progress = Progress(scenario.duration_s, sys.stderr, "simulate")

    def show(item: FeedItem) -> None:
        if isinstance(item, Readings):
            progress.update(item.t1 - t_start, "")

    pseudonyms = pseudonyms_from(args)
    summary, _ = simulate(
        prepared, args.out, on_item=show, truth=not args.no_truth, pseudonyms=pseudonyms
    )
    progress.close()
    took = time.perf_counter() - started
    print(
        f"{summary.readings:,} readings in {summary.ticks:,} ticks, {summary.commands} commands, "
        f"{summary.segments:,} truth segments, {summary.breaches} true breaches; "
        f"{took:.1f} s ({scenario.duration_s / took:.0f}x real time)"
    )
    print(f"Written to {args.out}/ (recording/, truth/, roster.csv, people.csv, breaches.jsonl)")
    return 0


def _holds_a_recording(out: Path) -> bool:
    """Whether the folder already has a recording with anything in it."""
    folder = out / RECORDING
    return folder.is_dir() and any(folder.iterdir())
