"""Every alert of one zone rule on simulated days, and every breach it missed, traced
against the ground truth.

Each folder is replayed as `sts evaluate` does (the campus's calibration and rules, the
simulated safety team). For each alert raised: whether it matches a true breach, the
event it came from (`enter`, `inside`, `cross`) and how long the engine then held the
student in the zone, the uncertainty of the fix behind it, where the student really was
(true zone, distance from the alerted zone) and, over the engine's stay, the share of the
student's fixes inside the zone, their median uncertainty and the seconds the student
truly spent inside. For each true breach no alert matched (of students the engine
tracks, stays of at least 10 s): the engine's events for that student and zone (and the
rule's last earlier alert of them there, `alerted@-S`), and the share and uncertainty of
the fixes during the true stay.

    .venv/bin/python benchmarks/zone_alert_trace.py out/day out/staff --rule staff-only-areas
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.batches import PositionBatch, concat_batches  # noqa: E402
from engine.events import Alert, EventKind, ZoneEvent  # noqa: E402
from engine.schedule import SchoolCalendar  # noqa: E402
from simulator.scoring import MIN_STAY_S, _during, raised  # noqa: E402
from simulator.truth import Breach, Segments  # noqa: E402
from simulator.walk_graph import WalkGraph  # noqa: E402
from sts.evaluation import EvaluateOptions, replay_with_team  # noqa: E402
from sts.sim_folder import read_breaches, read_people, read_truth  # noqa: E402
from sts.simulation import TRUTH, open_feed  # noqa: E402

Mask = npt.NDArray[np.bool_]
ENTRIES = (EventKind.ENTER, EventKind.INSIDE, EventKind.CROSS)


@dataclass(frozen=True, slots=True)
class Replay:
    """One folder replayed through the engine, with its ground truth."""

    events: list[ZoneEvent]
    alerts: list[Alert]  # the rule's, each once as raised
    fixes: PositionBatch
    engine_tags: list[str]
    people: list[str]  # truth index -> tag
    tracked: set[str]  # tags the engine follows (consent, a working badge)
    truth: Segments
    zone_ids: list[str]  # truth zone number -> zone id
    polygons: dict[str, shapely.Geometry]
    breaches: list[Breach]  # the rule's
    calendar: SchoolCalendar | None

    def clock(self, t: float) -> str:
        """School-local time of day."""
        return self.calendar.local(t).strftime("%H:%M:%S") if self.calendar else f"{t:.0f}"

    def fixes_of(self, tag: str, t0: float, t1: float) -> Mask:
        """Mask of the tag's fixes from t0 to t1."""
        fixes = self.fixes
        return (fixes.tag == self.engine_tags.index(tag)) & (fixes.t >= t0) & (fixes.t <= t1)


def replay(folder: Path, rule: str) -> Replay:
    """Replay a folder as `sts evaluate` does and keep what the trace needs."""
    feed, site = open_feed(folder, None, EvaluateOptions().calibration)
    collected, sink, engine_tags = replay_with_team(feed, site, EvaluateOptions())
    people = read_people(folder / "people.csv")
    return Replay(
        events=collected.events,
        alerts=[a for a in raised(collected.alerts) if a.rule.split("/")[0] == rule],
        fixes=concat_batches(sink.batches) if sink.batches else PositionBatch.empty(),
        engine_tags=list(engine_tags),
        people=[p["tag"] for p in people],
        tracked={p["tag"] for p in people if p["consent"] == "1" and p["badge"] == "ok"},
        truth=read_truth(folder / TRUTH),
        zone_ids=[z.id for z in WalkGraph(site.floorplan).zones],
        polygons={z.id: z.polygon for z in site.floorplan.zones},
        breaches=[b for b in read_breaches(folder / "breaches.jsonl") if b.rule == rule],
        calendar=site.timetable.timetable.calendar if site.timetable else None,
    )


def main() -> int:
    """Print the alerts and the misses of the rule, per folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", type=Path, nargs="+", help="folders from `sts simulate`")
    parser.add_argument("--rule", default="staff-only-areas", help="the rule id to trace")
    args = parser.parse_args()
    for folder in args.folders:
        print(f"{folder}: {args.rule}")
        run = replay(folder, args.rule)
        trace_alerts(run)
        trace_misses(run)
    return 0


def trace_alerts(run: Replay) -> None:
    """One line per alert."""
    print(
        "  local    true? how    held_s  u_m  zone                true_zone_at_alert  "
        "dist_m  in_share  u_med  true_in_s"
    )
    for alert in run.alerts:
        since, how = stay_before(run.events, alert)
        person = run.people.index(alert.tag)
        x, y, _, zone = run.truth.at(np.array([person], np.int32), np.array([alert.t]))
        true_zone = run.zone_ids[int(zone[0])] if zone[0] >= 0 else "-"
        poly = run.polygons[alert.zone]
        dist = float(shapely.distance(poly, shapely.Point(float(x[0]), float(y[0]))))
        mine = run.fixes_of(alert.tag, since, alert.t)
        share, u_med = inside_share(run, alert.zone, mine)
        true_in = seconds_inside(run.truth, person, run.zone_ids.index(alert.zone), since, alert.t)
        hit = any(_during(alert, b) for b in run.breaches)
        u = alert.evidence.uncertainty_m if alert.evidence else float("nan")
        print(
            f"  {run.clock(alert.t)} {'yes' if hit else 'no ':<5} {how:<6} "
            f"{alert.t - since:6.1f} {u:4.1f}  {alert.zone:<19} {true_zone:<19} {dist:6.1f}  "
            f"{share:8.0%}  {u_med:5.1f}  {true_in:9.0f}"
        )


def trace_misses(run: Replay) -> None:
    """One line per true breach no alert matched."""
    print("  missed   zone                stay_s  in_share  u_med  engine events (s after entry)")
    for b in run.breaches:
        if b.tag not in run.tracked or b.t_end - b.t_start < MIN_STAY_S:
            continue
        if any(_during(a, b) for a in run.alerts):
            continue
        events = [
            f"{ev.kind.value}@{ev.t - b.t_start:.0f}"
            for ev in run.events
            if ev.tag == b.tag and ev.zone == b.zone and b.t_start - 5 <= ev.t <= b.t_end + 60
        ]
        before = [
            a.t for a in run.alerts if a.tag == b.tag and a.zone == b.zone and a.t < b.t_start
        ]
        if before:
            events.append(f"(alerted@{max(before) - b.t_start:.0f})")
        share, u_med = inside_share(run, b.zone, run.fixes_of(b.tag, b.t_start, b.t_end))
        print(
            f"  {run.clock(b.t_start)} {b.zone:<19} {b.t_end - b.t_start:6.0f}  "
            f"{share:8.0%}  {u_med:5.1f}  {' '.join(events) or '-'}"
        )


def stay_before(events: list[ZoneEvent], alert: Alert) -> tuple[float, str]:
    """Time and kind of the last enter, inside or cross of the alert's student and zone
    at or before the alert."""
    last = (alert.t, "?")
    for ev in events:
        if ev.t > alert.t:
            break
        if ev.tag == alert.tag and ev.zone == alert.zone and ev.kind in ENTRIES:
            last = (ev.t, ev.kind.value)
    return last


def inside_share(run: Replay, zone: str, mine: Mask) -> tuple[float, float]:
    """Share of the masked fixes inside the zone, and the median uncertainty of those."""
    fixes = run.fixes
    inside = shapely.contains_xy(run.polygons[zone], fixes.x[mine], fixes.y[mine])
    if not inside.size:
        return float("nan"), float("nan")
    u = fixes.uncertainty[mine][inside]
    return float(inside.mean()), float(np.median(u)) if u.size else float("nan")


def seconds_inside(truth: Segments, person: int, zone: int, t0: float, t1: float) -> float:
    """Seconds of [t0, t1] the person truly spent in the walkable zone (sampled once a
    second: a person standing still logs no segment)."""
    t = np.arange(t0, t1, 1.0)
    _, _, _, zones = truth.at(np.full(len(t), person, np.int32), t)
    return float(np.sum(zones == zone))


if __name__ == "__main__":
    raise SystemExit(main())
