"""`sts track`: positions.csv or readings.csv in, zone events (and alerts) as JSON lines out.

The input is fed to the Engine in steps of `--step` seconds of data time, in time order,
so time-driven rules see the stream as they would live. Without `--roster` every tag
counts as a consented student: an explicit development default, said on stderr.
Nothing about individual students is printed; the files are the requested output.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from engine.zone_state import Hysteresis
from geometry.errors import InputError
from sts.csv_chunks import ProblemTally, summarise_problems
from sts.hub import Hub
from sts.option_checks import in_range
from sts.output_files import refuse_same_file, replace_on_success
from sts.positions_csv import PositionsChunk, iter_positions
from sts.readings_csv import ReadingsChunk, iter_readings
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
    """The hysteresis the options give, each within its documented range."""
    day = 86_400.0
    return Hysteresis(
        margin_m=in_range(args.margin, "--margin", 0.0, 50.0, "m"),
        k_uncertainty=in_range(args.k_uncertainty, "--k-uncertainty", 0.0, 10.0, ""),
        dwell_s=in_range(args.dwell, "--dwell", 0.0, 3600.0),
        stale_s=in_range(args.stale, "--stale", 0.0, day),
        lost_s=in_range(args.lost, "--lost", 0.0, day),
    )


def _tallied(
    chunks: Iterable[ReadingsChunk | PositionsChunk], problems: ProblemTally
) -> Iterator[Chunk[Any]]:
    """The source's chunks as the hub's, their rejected rows counted into `problems`."""
    for chunk in chunks:
        problems.add(chunk.problems)
        yield Chunk(chunk.batch, chunk.tag_ids)


@contextlib.contextmanager
def _text_output(target: Path, inputs: Sequence[Path | None]) -> Iterator[IO[str]]:
    """A UTF-8 text file that replaces `target` only when the run ends well."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with replace_on_success(target, inputs=inputs) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        yield text
        text.flush()
        text.detach()


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
    problems = ProblemTally()
    source: Path = args.positions if args.positions is not None else args.readings
    inputs = (args.floorplan, args.rules, args.roster, source)
    if args.alerts_out is not None:
        refuse_same_file(args.alerts_out, (*inputs, args.events_out))
    # The source's header is checked here, before any output is opened.
    if args.positions is not None:
        position_chunks = iter_positions(source, [lv.id for lv in floorplan.levels])
    else:
        reading_chunks = iter_readings(source, [r.id for r in floorplan.readers])
    with contextlib.ExitStack() as files:
        events = files.enter_context(_text_output(args.events_out, inputs))
        alerts = None
        if args.alerts_out is not None:
            alerts = files.enter_context(_text_output(args.alerts_out, inputs))
        hub.add_sink(JsonLinesSink(events, alerts))
        if args.positions is not None:
            hub.run_positions(time_ticks(_tallied(position_chunks, problems), step))
        else:
            hub.run_readings(time_ticks(_tallied(reading_chunks, problems), step))
        hub.close()
    stats = hub.stats
    if problems.total:
        message = summarise_problems(source, problems.shown, total=problems.total)
        print(f"sts track: {message}", file=sys.stderr)
    dropped_by_reason = {k: v for k, v in sorted(stats.rejected.items()) if k != "no_consent"}
    if dropped_by_reason:
        counts = ", ".join(f"{v} {k}" for k, v in dropped_by_reason.items())
        print(f"sts track: {source}: rows dropped: {counts}", file=sys.stderr)
    rows = stats.readings + stats.positions_in + stats.rejected["out_of_order"]
    dropped = stats.rejected["no_consent"]
    print(
        f"sts track: {rows} rows -> {stats.events} events in {args.events_out}"
        + (f", {stats.alerts} alerts in {args.alerts_out}" if args.alerts_out else "")
        + (f"; {dropped} rows dropped for lack of consent" if dropped else ""),
        file=sys.stderr,
    )
    return 0 if rows > 0 else 1
