"""`sts evaluate DIR`: how well the engine did on a simulated day, against the ground truth.

Replays the recording of DIR (written by `sts simulate`) through the engine as fast as
possible, then compares: positioning error (median, p90), room-level and floor accuracy
of the fixes, and for each restricted-zone, safe-area and dwell rule the recall,
precision and detection delay of its alerts against the breaches that really happened,
with false alerts per 1,000 student-hours. Printed as a table; `--json` keeps it.
Definitions: docs/simulator.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.batches import PositionBatch, concat_batches
from engine.engine import EngineOutput
from engine.rules import RuleType
from geometry.zone_index import ZoneIndex
from simulator.scoring import BreachScore, Positioning, score_breaches, score_positions
from simulator.walk_graph import WalkGraph
from sts.hub import Hub
from sts.sim_folder import read_breaches, read_people, read_truth
from sts.sim_options import add_source
from sts.simulation import TRUTH, drive_all, open_feed
from sts.sinks import CollectSink
from sts.site import build_engine

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
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The figures of one evaluation."""

    positioning: Positioning
    breaches: tuple[BreachScore, ...]
    student_hours: float


def evaluate(folder: Path, campus: Path | None = None) -> Evaluation:
    """Replay a simulation folder and score it."""
    feed, site = open_feed(folder, campus)
    collected, fixes = CollectSink(), PositionSink()
    engine = build_engine(site)
    hub = Hub(engine, [collected, fixes])
    drive_all(hub, feed.items())
    header = feed.header
    people = read_people(folder / "people.csv")
    followed = {p["tag"] for p in people if p["badge"] == "ok"}
    students = [p for p in people if p["group"] != "staff" and p["absent"] == "0"]
    hours = len(students) * (header["t_end"] - header["t_start"]) / 3600
    truth = read_truth(folder / TRUTH)
    graph = WalkGraph(site.floorplan)
    positions = score_positions(
        concat_batches(fixes.batches) if fixes.batches else PositionBatch.empty(),
        engine.tag_ids,
        truth,
        [p["tag"] for p in people],
        [z.id for z in graph.zones],
        ZoneIndex.from_floorplan(site.floorplan),
        followed,
    )
    breaches = read_breaches(folder / "breaches.jsonl")
    rules = site.rules.rules if site.rules is not None else ()
    scored = tuple(
        score_breaches(r.id, breaches, collected.alerts, hours)
        for r in rules
        if r.type in SCORED_RULES and "staff" not in r.groups
    )
    return Evaluation(positions, scored, hours)


def format_table(ev: Evaluation) -> str:
    """The evaluation as a plain-text table."""
    p = ev.positioning
    lines = [
        f"{'positioning':<28} {'value':>10}",
        f"{'fixes scored':<28} {p.fixes:>10,}",
        f"{'error median (m)':<28} {p.median_error_m:>10.2f}",
        f"{'error p90 (m)':<28} {p.p90_error_m:>10.2f}",
        f"{'room-level accuracy':<28} {p.room_accuracy:>10.1%}",
        f"{'floor accuracy':<28} {p.floor_accuracy:>10.1%}",
        "",
        f"{'rule':<22} {'breaches':>8} {'detected':>8} {'recall':>7} {'alerts':>6} "
        f"{'precision':>9} {'delay p50':>9} {'delay p90':>9} {'false/1000 h':>12}",
    ]
    for b in ev.breaches:
        lines.append(
            f"{b.rule:<22} {b.breaches:>8} {b.detected:>8} {b.recall:>7.1%} {b.alerts:>6} "
            f"{b.precision:>9.1%} {b.median_delay_s:>8.1f}s {b.p90_delay_s:>8.1f}s "
            f"{b.false_per_1000_student_hours:>12.2f}"
        )
    lines.append(f"\n{ev.student_hours:.1f} student-hours")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table."""
    ev = evaluate(args.dir, args.campus)
    print(format_table(ev))
    if args.json:
        doc = {
            "positioning": asdict(ev.positioning),
            "breaches": [
                asdict(b) | {"recall": b.recall, "precision": b.precision} for b in ev.breaches
            ],
            "student_hours": ev.student_hours,
        }
        args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"(truth: {args.dir / TRUTH}; definitions: docs/simulator.md)", file=sys.stderr)
    return 0
