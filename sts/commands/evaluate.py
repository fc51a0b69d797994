"""`sts evaluate DIR`: how well the engine did on a simulated day, against the ground truth.

Replays the recording of DIR (written by `sts simulate`) through the engine as fast as
possible, with the campus's calibration.toml (or `--calibration`, or none with
`--no-calibration`) and a simulated safety team that closes each alert `--respond`
seconds after it is raised. Then compares: room-level accuracy of the engine's zone
state (after hysteresis: what a safety team sees), positioning error (median, p90),
room-level and floor accuracy of the fixes, and for each restricted-zone, safe-area and
dwell rule the recall, precision and detection delay of its alerts against the breaches
that really happened (stays under 10 s are transits, counted apart), with false alerts
per 1,000 student-hours. Printed as a table; `--json` keeps it.
Definitions: docs/simulator.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.batches import PositionBatch, concat_batches
from engine.engine import EngineOutput
from engine.rules import RuleType
from engine.zone_state import Hysteresis
from geometry.zone_index import ZoneIndex
from simulator.feed import Readings
from simulator.scoring import (
    MIN_STAY_S,
    BreachScore,
    Positioning,
    ZoneStateScore,
    room_timelines,
    score_breaches,
    score_positions,
    score_zone_state,
)
from simulator.walk_graph import CONTAINER_KINDS, WalkGraph
from sts.hub import Hub
from sts.safety_team import SafetyTeam
from sts.scenario_args import add_source, calibration_from
from sts.sim_folder import FeedReader, read_breaches, read_people, read_truth
from sts.simulation import TRUTH, Calibration, drive, open_feed
from sts.sinks import CollectSink
from sts.site import Site, build_engine

SCORED_RULES = (RuleType.RESTRICTED_ZONE, RuleType.SAFE_AREA_LEFT, RuleType.DWELL_LIMIT)


@dataclass(slots=True)
class PositionSink:
    """Keeps every fix the engine puts out."""

    batches: list[PositionBatch] = field(default_factory=list)

    def write(self, out: EngineOutput) -> None:
        """Keep this output's fixes."""
        if len(out.positions):
            self.batches.append(out.positions)

    def close(self) -> None:
        """Nothing to do."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `evaluate` sub-command."""
    p = subparsers.add_parser(
        "evaluate",
        help="score the engine on a simulated day against its ground truth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source(p)
    p.add_argument(
        "--respond",
        type=float,
        default=120.0,
        metavar="S",
        help="the simulated safety team closes each alert S seconds after it is raised (120)",
    )
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class EvaluateOptions:
    """How the engine is set up for an evaluation."""

    campus: Path | None = None  # default: the campus the recording names
    calibration: Calibration = field(default_factory=Calibration)
    hysteresis: Hysteresis | None = None  # default: the engine's
    respond_s: float = 120.0  # the simulated safety team closes alerts this long after


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The figures of one evaluation."""

    zone_state: ZoneStateScore
    positioning: Positioning
    breaches: tuple[BreachScore, ...]
    student_hours: float
    calibration: str  # the calibration file used ("" : none)


def replay_with_team(
    feed: FeedReader, site: Site, options: EvaluateOptions
) -> tuple[CollectSink, PositionSink, Sequence[str]]:
    """The recording through the engine, a simulated safety team closing its alerts;
    the events and alerts, the fixes, and the engine's tag table."""
    collected, fixes = CollectSink(), PositionSink()
    engine = build_engine(site, hysteresis=options.hysteresis)
    hub = Hub(engine, [collected, fixes])
    team = SafetyTeam(options.respond_s)
    for item in feed.items():
        drive(hub, item)
        team.respond(hub, collected.alerts, item.t1 if isinstance(item, Readings) else item.t)
    hub.flush()
    return collected, fixes, engine.tag_ids


def evaluate(folder: Path, options: EvaluateOptions = EvaluateOptions()) -> Evaluation:
    """Replay a simulation folder and score it."""
    feed, site = open_feed(folder, options.campus, options.calibration)
    collected, fixes, engine_tags = replay_with_team(feed, site, options)
    header = feed.header
    people = read_people(folder / "people.csv")
    followed = {p["tag"] for p in people if p["badge"] == "ok"}
    students = [p for p in people if p["group"] != "staff" and p["absent"] == "0"]
    hours = len(students) * (header["t_end"] - header["t_start"]) / 3600
    truth = read_truth(folder / TRUTH)
    graph = WalkGraph(site.floorplan)
    tracked = {p["tag"] for p in students if p["consent"] == "1"} & followed
    walkable = {z.id: z.polygon.area for z in graph.zones if z.kind not in CONTAINER_KINDS}
    zone_state = score_zone_state(
        room_timelines(collected.events, walkable),
        truth,
        [p["tag"] for p in people],
        [z.id for z in graph.zones],
        (tracked, (header["t_start"], header["t_end"])),
    )
    positions = score_positions(
        concat_batches(fixes.batches) if fixes.batches else PositionBatch.empty(),
        engine_tags,
        truth,
        [p["tag"] for p in people],
        [z.id for z in graph.zones],
        ZoneIndex.from_floorplan(site.floorplan),
        followed,
    )
    breaches = read_breaches(folder / "breaches.jsonl")
    rules = site.rules.rules if site.rules is not None else ()
    scored = tuple(
        score_breaches(r.id, breaches, collected.alerts, hours, tracked)
        for r in rules
        if r.type in SCORED_RULES and "staff" not in r.groups
    )
    used = site.files.calibration
    return Evaluation(zone_state, positions, scored, hours, str(used) if used else "")


def format_table(ev: Evaluation) -> str:
    """The evaluation as a plain-text table."""
    p, z = ev.positioning, ev.zone_state
    lines = [
        f"calibration: {ev.calibration or 'none (the plan nominal reader model)'}",
        "",
        f"{'zone state (after hysteresis)':<32} {'value':>10}",
        f"{'student-seconds scored':<32} {z.seconds:>10,}",
        f"{'room-level accuracy':<32} {z.room_accuracy:>10.1%}",
        "",
        f"{'fixes':<32} {'value':>10}",
        f"{'fixes scored':<32} {p.fixes:>10,}",
        f"{'error median (m)':<32} {p.median_error_m:>10.2f}",
        f"{'error p90 (m)':<32} {p.p90_error_m:>10.2f}",
        f"{'room-level accuracy of fixes':<32} {p.room_accuracy:>10.1%}",
        f"{'floor accuracy':<32} {p.floor_accuracy:>10.1%}",
        "",
        f"{'rule':<22} {'breaches':>8} {'detected':>8} {'recall':>7} {'alerts':>6} "
        f"{'precision':>9} {'delay p50':>9} {'delay p90':>9} {'false/1000 h':>12} "
        f"{'repeats':>7} {'transits':>8} {'unseen':>6}",
    ]
    for b in ev.breaches:
        lines.append(
            f"{b.rule:<22} {b.breaches:>8} {b.detected:>8} {b.recall:>7.1%} {b.alerts:>6} "
            f"{b.precision:>9.1%} {b.median_delay_s:>8.1f}s {b.p90_delay_s:>8.1f}s "
            f"{b.false_per_1000_student_hours:>12.2f} "
            f"{b.repeats:>7} {f'{b.transits_detected}/{b.transits}':>8} {b.unseen:>6}"
        )
    lines.append(
        f"\n{ev.student_hours:.1f} student-hours; breaches: stays of at least "
        f"{MIN_STAY_S:g} s; transits: shorter stays (alerted/all), not in recall;\n"
        "repeats: alerts raised again during a breach already alerted (not false);\n"
        "unseen: breaches of students without consent or a working badge (dead, in a "
        "locker), not in recall"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table."""
    if not args.respond >= 0:
        print("sts: --respond must be a number of seconds, 0 or more", file=sys.stderr)
        return 2
    options = EvaluateOptions(args.campus, calibration_from(args), respond_s=args.respond)
    ev = evaluate(args.dir, options)
    print(format_table(ev))
    if args.json:
        doc = {
            "calibration": ev.calibration,
            "zone_state": asdict(ev.zone_state),
            "positioning": asdict(ev.positioning),
            "breaches": [
                asdict(b) | {"recall": b.recall, "precision": b.precision} for b in ev.breaches
            ],
            "student_hours": ev.student_hours,
        }
        args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"(truth: {args.dir / TRUTH}; definitions: docs/simulator.md)", file=sys.stderr)
    return 0
