"""Engine output against the ground truth: positioning, room and floor accuracy, breaches.

- Positioning error: horizontal distance of every fix to the wearer's true position at
  the fix time (badges that followed their wearer only: not dead, not in a locker).
- Room-level accuracy of the zone state: once a second, is the engine's room for the
  wearer (the smallest walkable zone it holds them inside, after hysteresis) the true
  one? This is what a safety team sees. Seconds when the wearer stood on no walkable
  zone are left out; a second the engine holds them in no room counts as wrong.
- Room-level accuracy of the fixes: the share of fixes whose walkable zone (the smallest
  non-container zone containing the fix) is the wearer's true zone. Floor accuracy: the
  share of fixes on the true level.
- Breaches, per rule: a true breach (simulator/truth.py) is detected when an alert of
  that rule for that student (and zone) is raised between 5 s before the breach's start
  (at the door, about to step in) and a minute after its end; recall, precision,
  detection delay (alert time minus the time the rule was due; negative when early) and
  false alerts per 1,000 student-hours. A breach of a stay shorter
  than `MIN_STAY_S` (a step through a door and back) is a transit: left out of recall
  and listed on its own; an alert that matches it is not false, nor is an alert raised
  again during a breach already alerted (a repeat). The breaches of students the engine
  cannot see are also apart (`unseen`): no consent (never processed, by design), or a
  badge that is dead or lies in a locker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.batches import PositionBatch
from engine.events import Alert, AlertState, EventKind, ZoneEvent
from geometry.zone_index import ZoneIndex
from simulator.truth import Breach, Segments
from simulator.walk_graph import CONTAINER_KINDS

LATE_MATCH_S = 60.0  # an alert this long after a breach ended still counts as its detection
#: An alert this long before the student really stepped in (at the door, a fix already
#: inside) counts as an early detection of that breach, with a negative delay.
EARLY_MATCH_S = 5.0
#: The shortest stay scored as a breach. Badges advertise once a second, a fix averages
#: 2 s of readings and a zone entry must hold 3 s (the dwell): 10 s is the shortest
#: stay the engine is built to confirm, with a few fixes to spare.
MIN_STAY_S = 10.0
ZONE_STATE_STEP_S = 1.0  # how often the zone state is compared with the truth


@dataclass(frozen=True, slots=True)
class Positioning:
    """Fix-level accuracy."""

    fixes: int
    median_error_m: float
    p90_error_m: float
    room_accuracy: float
    floor_accuracy: float


@dataclass(frozen=True, slots=True)
class BreachScore:
    """Detection of one rule's breaches."""

    rule: str
    breaches: int
    detected: int
    alerts: int
    false_alerts: int
    median_delay_s: float
    p90_delay_s: float
    false_per_1000_student_hours: float
    transits: int = 0  # true breaches shorter than MIN_STAY_S: not in recall
    transits_detected: int = 0
    unseen: int = 0  # breaches of students without consent or without a working badge
    repeats: int = 0  # alerts raised again during a breach already alerted: not false

    @property
    def recall(self) -> float:
        """Share of true breaches detected (1 when there were none)."""
        return self.detected / self.breaches if self.breaches else 1.0

    @property
    def precision(self) -> float:
        """Share of alerts that match a true breach or repeat one (1 when there were none)."""
        return (self.alerts - self.false_alerts) / self.alerts if self.alerts else 1.0


def walkable_zone_of(
    index: ZoneIndex,
    level: npt.NDArray[np.int32],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
) -> list[str]:
    """The smallest walkable zone containing each point ("" where none does)."""
    number = index.smallest(level, x, y, lambda zone: zone.kind not in CONTAINER_KINDS)
    names = [""] * (index.capacity + 1)  # the last: no zone (-1)
    for zone in index.zones:
        names[index.zone_number(zone.id)] = zone.id
    return list(np.array(names, dtype=object)[number])


def score_positions(
    fixes: PositionBatch,
    fix_tags: Sequence[str],
    truth: Segments,
    truth_tags: Sequence[str],
    zone_ids: Sequence[str],
    index: ZoneIndex,
    followed: set[str],
) -> Positioning:
    """Accuracy of the fixes of badges in `followed` (tags whose badge followed its wearer)."""
    code = {tag: i for i, tag in enumerate(truth_tags)}
    person = np.array([code.get(t, -1) if t in followed else -1 for t in fix_tags], dtype=np.int64)
    of_fix = person[fixes.tag] if len(fixes) else np.empty(0, np.int64)
    keep = of_fix >= 0
    t = fixes.t[keep]
    tag = of_fix[keep].astype(np.int32)
    x, y, level, zone = truth.at(tag, t)
    known = level >= 0
    fx, fy, fl = fixes.x[keep][known], fixes.y[keep][known], fixes.level[keep][known]
    error = np.hypot(fx - x[known], fy - y[known])
    if not len(error):
        return Positioning(0, float("nan"), float("nan"), float("nan"), float("nan"))
    floor_ok = fl == level[known]
    on_zone = zone[known] >= 0
    fix_zone = walkable_zone_of(index, fl[on_zone], fx[on_zone], fy[on_zone])
    true_zone = [zone_ids[z] for z in zone[known][on_zone].tolist()]
    room_ok = np.array([a == b for a, b in zip(fix_zone, true_zone, strict=True)], dtype=bool)
    return Positioning(
        fixes=len(error),
        median_error_m=float(np.median(error)),
        p90_error_m=float(np.percentile(error, 90)),
        room_accuracy=float(room_ok.mean()) if len(room_ok) else float("nan"),
        floor_accuracy=float(floor_ok.mean()),
    )


def raised(alerts: Sequence[Alert]) -> list[Alert]:
    """Each alert once, as first raised."""
    seen: set[str] = set()
    out = []
    for a in alerts:
        if a.state is AlertState.RAISED and a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out


def score_breaches(
    rule: str,
    breaches: Sequence[Breach],
    alerts: Sequence[Alert],
    student_hours: float,
    seen: set[str] | None = None,
) -> BreachScore:
    """Recall, precision and delay of one rule's alerts against its true breaches (of the
    students in `seen`, the tags the engine tracks; None: all)."""
    mine = [b for b in breaches if b.rule == rule and (seen is None or b.tag in seen)]
    unseen = sum(b.rule == rule for b in breaches) - len(mine)
    fired = [a for a in raised(alerts) if a.rule.split("/")[0] == rule]
    used: set[int] = set()
    delays = []
    transits = transits_detected = 0
    for b in mine:
        transit = b.t_end - b.t_start < MIN_STAY_S
        transits += transit
        for k, a in enumerate(fired):
            if k not in used and _during(a, b):
                used.add(k)
                if transit:
                    transits_detected += 1
                else:
                    delays.append(a.t - b.t)
                break
    # a second alert during a breach already alerted (raised again after a person closed
    # the first while the student stayed) repeats a true alert: it is not a false one
    repeats = sum(any(_during(a, b) for b in mine) for k, a in enumerate(fired) if k not in used)
    false = len(fired) - len(used) - repeats
    return BreachScore(
        rule=rule,
        breaches=len(mine) - transits,
        detected=len(delays),
        alerts=len(fired),
        false_alerts=false,
        median_delay_s=float(np.median(delays)) if delays else float("nan"),
        p90_delay_s=float(np.percentile(delays, 90)) if delays else float("nan"),
        false_per_1000_student_hours=1000.0 * false / student_hours
        if student_hours
        else float("nan"),
        transits=transits,
        transits_detected=transits_detected,
        unseen=unseen,
        repeats=repeats,
    )


def _during(alert: Alert, breach: Breach) -> bool:
    """Whether an alert is of the breach's student and zone, within its matching window."""
    if alert.tag != breach.tag or (alert.zone and alert.zone != breach.zone):
        return False
    return breach.t_start - EARLY_MATCH_S <= alert.t <= breach.t_end + LATE_MATCH_S


@dataclass(frozen=True, slots=True)
class ZoneStateScore:
    """Room-level accuracy of the engine's zone state, sampled once a second."""

    seconds: int
    room_accuracy: float


def room_timelines(
    events: Sequence[ZoneEvent], area_of_walkable: dict[str, float]
) -> dict[str, tuple[npt.NDArray[np.float64], list[str]]]:
    """Per tag: the times its room changed in the engine's zone state, and the room from
    each ("" for none). The room is the smallest walkable zone the student is held in."""
    held: dict[str, set[str]] = {}
    out: dict[str, tuple[list[float], list[str]]] = {}
    for ev in events:
        if ev.zone not in area_of_walkable:
            continue
        zones = held.setdefault(ev.tag, set())
        if ev.kind in (EventKind.ENTER, EventKind.INSIDE):
            zones.add(ev.zone)
        elif ev.kind == EventKind.EXIT:
            zones.discard(ev.zone)
        else:
            continue
        room = min(zones, key=lambda z: (area_of_walkable[z], z)) if zones else ""
        times, rooms = out.setdefault(ev.tag, ([], []))
        times.append(ev.t)
        rooms.append(room)
    return {tag: (np.array(times), rooms) for tag, (times, rooms) in out.items()}


def score_zone_state(
    timelines: dict[str, tuple[npt.NDArray[np.float64], list[str]]],
    truth: Segments,
    truth_tags: Sequence[str],
    zone_ids: Sequence[str],
    scored: tuple[set[str], tuple[float, float]],
) -> ZoneStateScore:
    """Once a second of `scored`'s span, the engine's room for each of `scored`'s tags
    (those the engine tracks and whose badge followed them) against the true zone."""
    tags, span = scored
    grid = np.arange(span[0], span[1], ZONE_STATE_STEP_S)
    right = total = 0
    for person, tag in enumerate(truth_tags):
        if tag not in tags:
            continue
        _, _, _, zone = truth.at(np.full(len(grid), person, np.int32), grid)
        on = zone >= 0
        times, rooms = timelines.get(tag, (np.empty(0), []))
        at = np.searchsorted(times, grid[on], side="right") - 1
        engine_room = np.array(["", *rooms], dtype=object)[at + 1]
        true_room = np.array(zone_ids, dtype=object)[zone[on]]
        right += int((engine_room == true_room).sum())
        total += int(on.sum())
    return ZoneStateScore(total, right / total if total else float("nan"))
