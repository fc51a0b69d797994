"""A simulated day replayed through the engine as the site runs it, and scored against the
ground truth: what `sts evaluate` prints and benchmarks/restricted_dwell_sweep.py varies.

The engine is the campus's (its calibration, or `Calibration`'s choice, and rules); a
simulated safety team closes each alert `respond_s` after it is raised (sts/safety_team.py).
Definitions of the figures: simulator/scoring.py and docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.batches import PositionBatch, concat_batches
from engine.engine import EngineOutput
from engine.rules import RuleType
from engine.zone_state import Hysteresis
from geometry.zone_index import ZoneIndex
from simulator.feed import Readings
from simulator.scoring import (
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
