"""The evacuation drill report, from what the engine saw (events, fixes, roll calls) only.

Everything here is computed from the engine's outputs and the recording's header, never
from the simulator's truth, so a report made while simulating and one made by replaying
the recording are the same bytes. Times are seconds from the alarm (the roll call's
start). Definitions (docs/simulator.md):

- response: first fix at least `MOVED_M` from the student's first fix after the alarm;
- egress: the student's last exit from a building zone;
- accounted: first entry into a muster point (per muster point: 50/90/100% of the
  students it ended with);
- exits: each building exit is put at the exit opening nearest to its evidence; flow is
  persons / (last - first) / width;
- clearance: per zone, the last exit event after the alarm;
- stragglers: the final roll call's unaccounted and unknown, with the last known zone,
  time and uncertainty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from engine.batches import PositionBatch
from engine.engine import EngineOutput
from engine.events import EventKind, ZoneEvent
from engine.records import ChangeKind
from engine.rollcall import RollCallReport, report_record
from geometry.model import Floorplan, OpeningKind, ZoneKind

MOVED_M = 5.0  # a fix this far from the first one after the alarm: the student is moving
PERCENTILES = (50, 90, 95, 100)


@dataclass(slots=True)
class DrillSink:
    """Keeps what the report needs: events, roll calls, alarm records, fixes after the alarm."""

    tag_ids: Sequence[str] = ()
    events: list[ZoneEvent] = field(default_factory=list)
    reports: list[RollCallReport] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    fixes: list[PositionBatch] = field(default_factory=list)

    def write(self, out: EngineOutput) -> None:
        """Keep this output's part of the drill."""
        for r in out.records:
            if r.kind == ChangeKind.EVACUATION_STARTED:
                self.started = r.t
            elif r.kind == ChangeKind.EVACUATION_ENDED:
                self.ended = r.t
        if out.rollcall is not None:
            self.reports.append(out.rollcall)
        if self.started is not None and self.ended is None:
            self.events.extend(out.events)
            if len(out.positions):
                self.fixes.append(out.positions)

    def close(self) -> None:
        """Nothing to do."""


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "mean": None, **{f"p{p}": None for p in PERCENTILES}}
    a = np.asarray(values)
    return {
        "n": len(a),
        "mean": round(float(a.mean()), 1),
        **{f"p{p}": round(float(np.percentile(a, p)), 1) for p in PERCENTILES},
    }


def _response(sink: DrillSink, alarm: float, tags: Sequence[str]) -> list[float]:
    if not sink.fixes:
        return []
    b = PositionBatch(
        *(
            np.concatenate([getattr(f, n) for f in sink.fixes])
            for n in ("t", "tag", "level", "x", "y", "uncertainty")
        )
    )
    out = []
    for s in np.unique(b.tag).tolist():
        sel = np.flatnonzero(b.tag == s)
        dist = np.hypot(b.x[sel] - b.x[sel[0]], b.y[sel] - b.y[sel[0]])
        moved = np.flatnonzero(dist >= MOVED_M)
        if len(moved):
            out.append(float(b.t[sel[moved[0]]]) - alarm)
    return out


def drill_summary(
    sink: DrillSink, floorplan: Floorplan, header: dict[str, Any], tz: str
) -> dict[str, Any]:
    """Every figure of the report, as a JSON-ready dict (stable key order)."""
    if sink.started is None:
        return {"error": "no evacuation in this recording (no fire_alarm event)"}
    alarm = sink.started
    times = _event_times(sink.events, floorplan, alarm)
    final = sink.reports[-1] if sink.reports else None
    return {
        "record": _drill_record(sink, floorplan, header, tz, final, alarm),
        "response_s": _percentiles(_response(sink, alarm, sink.tag_ids)),
        "egress_s": _percentiles(sorted(times.egress.values())),
        "per_muster_point": _per_muster_point(floorplan, times.accounted),
        "exits": _exit_flows(times.exits, _exit_openings(floorplan)),
        "clearance_s": dict(sorted(times.clearance.items(), key=lambda kv: (-kv[1], kv[0]))),
        "stragglers": report_record(final)["missing"] if final else [],
        "accounted_curve": sorted(t for _, t in times.accounted.values()),
    }


@dataclass(slots=True)
class _EventTimes:
    """Seconds from the alarm, from the zone events (see the module docstring)."""

    egress: dict[str, float] = field(default_factory=dict)  # per student
    accounted: dict[str, tuple[str, float]] = field(default_factory=dict)  # student: muster, t
    clearance: dict[str, float] = field(default_factory=dict)  # per zone
    exits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # per exit


def _exit_openings(floorplan: Floorplan) -> list[Any]:
    """The plan's exits and emergency exits."""
    return [
        o for o in floorplan.openings if o.kind in (OpeningKind.EXIT, OpeningKind.EMERGENCY_EXIT)
    ]


def _event_times(events: Sequence[ZoneEvent], floorplan: Floorplan, alarm: float) -> _EventTimes:
    """Egress, accounted, clearance and exit times of the drill's zone events."""
    kinds = {z.id: z.kind for z in floorplan.zones}
    buildings = {z for z, k in kinds.items() if k == ZoneKind.BUILDING}
    musters = {z for z, k in kinds.items() if k == ZoneKind.MUSTER_POINT}
    exit_openings = _exit_openings(floorplan)
    times = _EventTimes()
    for e in events:
        dt = round(e.t - alarm, 1)
        if e.kind == EventKind.EXIT:
            if kinds.get(e.zone) not in (ZoneKind.BUILDING, ZoneKind.SAFE_AREA):
                times.clearance[e.zone] = dt
            if e.zone in buildings:
                times.egress[e.tag] = dt
                if e.evidence is not None:
                    times.exits[_nearest_exit(exit_openings, e)].append(dt)
        elif (
            e.kind in (EventKind.ENTER, EventKind.INSIDE)
            and e.zone in musters
            and e.tag not in times.accounted
        ):
            times.accounted[e.tag] = (e.zone, dt)
    return times


def _per_muster_point(
    floorplan: Floorplan, accounted: dict[str, tuple[str, float]]
) -> dict[str, Any]:
    """Per muster point: the students accounted there and when 50/90/100% of them were."""
    musters = {z.id for z in floorplan.zones if z.kind == ZoneKind.MUSTER_POINT}
    per_muster: dict[str, Any] = {}
    for m in sorted(musters):
        times = sorted(t for z, t in accounted.values() if z == m)
        per_muster[m] = {
            "accounted": len(times),
            **{
                f"t{p}": (times[max(0, int(np.ceil(p / 100 * len(times))) - 1)] if times else None)
                for p in (50, 90, 100)
            },
        }
    return per_muster


def _drill_record(
    sink: DrillSink,
    floorplan: Floorplan,
    header: dict[str, Any],
    tz: str,
    final: RollCallReport | None,
    alarm: float,
) -> dict[str, Any]:
    """The record's head: school, date, alarm time, drill type, duration, final counts."""
    local = datetime.fromtimestamp(alarm, ZoneInfo(tz))
    return {
        "school": header.get("site", floorplan.site.name),
        "date": local.date().isoformat(),
        "alarm_time": local.strftime("%H:%M:%S"),
        "drill_type": final.mode.value if final is not None else header.get("mode", ""),
        "duration_s": round((sink.ended or (final.t if final else alarm)) - alarm, 1),
        "counts": {
            k: v
            for k, v in report_record(final).items()
            if k in ("expected", "accounted", "marked_safe", "unaccounted", "unknown")
        }
        if final
        else {},
    }


def _exit_flows(exits: dict[str, list[float]], exit_openings: Sequence[Any]) -> dict[str, Any]:
    """Per exit used: persons, first and last exit (s), width and flow (persons/s/m)."""
    widths = {o.id: round(float(o.segment.length), 2) for o in exit_openings}
    return {
        o: {
            "persons": len(ts),
            "first_s": min(ts),
            "last_s": max(ts),
            "width_m": widths[o],
            "flow_pps_per_m": round(len(ts) / max(max(ts) - min(ts), 1.0) / widths[o], 3),
        }
        for o, ts in sorted(exits.items())
    }


def _nearest_exit(openings: Sequence[Any], e: ZoneEvent) -> str:
    ev = e.evidence
    assert ev is not None
    same = [o for o in openings if o.level == ev.level] or list(openings)
    if not same:
        return "(no exit in the plan)"
    from shapely.geometry import Point

    p = Point(ev.x, ev.y)
    return str(min(same, key=lambda o: (o.segment.distance(p), o.id)).id)
